// The CUDA caching allocator: one CachingAllocator (runtime/caching_allocator.hpp)
// per device over cudaMalloc/cudaFree/cudaEvent*, and the ember::Allocator
// that Storage uses for CUDA tensors (installed by register_cuda_kernels()).
// Blocks are filed under the current stream of the device at allocation time
// (Note [stream ownership] in runtime/cuda_stream.hpp). Also the pinned host memory provider.
// Compiled only in a CUDA build.
#pragma once

#include <ember/runtime/allocator.hpp>
#include <ember/runtime/caching_allocator.hpp>
#include <ember/runtime/cuda_stream.hpp>

namespace ember::cuda {

// The caching allocator of a device (-1: the current device), created on first use.
CachingAllocator& caching_allocator(int device = -1);
// The ember::Allocator for DeviceType::CUDA (allocate_on(cuda:N, n) uses device N's current stream).
Allocator* cuda_allocator();

// Memory of a DataPtr (a storage's base pointer) is also used on `stream`; see Note [stream ownership].
void record_stream(const DataPtr& data, Stream stream);

AllocatorStats memory_stats(int device = -1);
void reset_peak_memory_stats(int device = -1);
// Returns every cached, unused segment of every device that has an allocator to the driver.
void empty_cache();

// Pinned host memory (ember::PinnedMemory, installed by register_cuda_kernels()): one caching
// allocator over cudaHostAlloc(cudaHostAllocPortable), whose blocks all belong to the host. A
// non-blocking copy marks the block with the copy's stream (record_pinned_use), so a block freed
// on the host is handed out again only once every such stream has passed the copy; until then
// the memory stays alive and unchanged for the transfer that reads or writes it.
PinnedMemory* pinned_memory_provider();
// Marks pinned memory as used by `stream`; does nothing for memory not from ember's pinned allocator.
void record_pinned_use(const DataPtr& data, Stream stream);
AllocatorStats pinned_memory_stats();
// Returns every cached, unused pinned segment to the driver (after pending copies finish).
void empty_pinned_cache();

}  // namespace ember::cuda
