// libFuzzer target for the safetensors reader: any bytes must either load or
// fail with an ember::Error that names the input. Anything else (a crash, a
// sanitizer report, another exception, a hang) is a bug in nn/safetensors.cpp.
//
// Built twice: by tests/fuzz/CMakeLists.txt with clang's libFuzzer (the `fuzz`
// stage of tools/test.sh), and by tests/CMakeLists.txt with the normal compiler
// into the replay test (replay_main.cpp), which runs every corpus file through it.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include <ember/nn/safetensors.hpp>

namespace {
constexpr const char* kInputName = "fuzz-input";

[[noreturn]] void fail(const char* what, const char* detail) {
  std::fprintf(stderr, "fuzz_safetensors: %s: %s\n", what, detail);
  std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  ember::nn::Metadata metadata;
  ember::nn::TensorMap tensors;
  try {
    tensors = ember::nn::parse_safetensors(bytes, kInputName, &metadata);
  } catch (const ember::Error& e) {
    if (std::strstr(e.what(), kInputName) == nullptr) fail("an error does not name the input", e.what());
    return 0;
  }
  // Loaded: every byte after the header belongs to exactly one tensor.
  uint64_t header_length = 0;
  for (size_t i = 0; i < 8; ++i) header_length |= static_cast<uint64_t>(data[i]) << (8 * i);
  uint64_t tensor_bytes = 0;
  for (const auto& [name, t] : tensors) {
    if (!t.is_cpu() || !t.is_contiguous()) fail("a loaded tensor is not contiguous on the CPU", name.c_str());
    tensor_bytes += t.nbytes();
  }
  if (8 + header_length + tensor_bytes != size) fail("the tensors do not account for the data section", "");
  return 0;
}
