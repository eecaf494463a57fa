// Storage: the bytes behind one or more tensors, shared by all views of it.
//
// Note [version counter]
// Every in-place op bumps the storage's version. Views share their base's
// storage and so its counter; autograd records the version of each tensor it
// saves and refuses to use one that was modified in place since.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include <ember/runtime/allocator.hpp>

namespace ember {

struct StorageImpl {
  DataPtr data;
  size_t nbytes = 0;
  std::atomic<uint32_t> version{0};

  StorageImpl(DataPtr d, size_t n) : data(std::move(d)), nbytes(n) {}
  Device device() const { return data.device(); }
};

using Storage = std::shared_ptr<StorageImpl>;

inline Storage make_storage(size_t nbytes, Device device) {
  return std::make_shared<StorageImpl>(get_allocator(device).allocate_on(device, nbytes), nbytes);
}

}  // namespace ember
