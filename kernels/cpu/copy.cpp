// CPU kernels for copies (with dtype conversion, any strides), fills and ranges.
//
// copy is the workhorse behind contiguous(), clone(), to(dtype) and copy_():
// 1 read + 1 write per element, memory-bound.
#include <cstring>

#include <ember/kernels/cpu/elementwise.hpp>
#include <ember/kernels/cpu/parallel.hpp>
#include <ember/kernels/cpu/vec_kernels.hpp>
#include <ember/kernels/cpu/register.hpp>

namespace ember::cpu {
namespace {

template <class D, class S>
D convert(S v) {
  if constexpr (std::is_same_v<D, bool>) return static_cast<OpMath<S>>(v) != OpMath<S>(0);
  else if constexpr (std::is_same_v<D, Half> || std::is_same_v<D, BFloat16>) return D(static_cast<float>(static_cast<OpMath<S>>(v)));
  else return static_cast<D>(static_cast<OpMath<S>>(v));
}

// float32 <-> bfloat16 between contiguous tensors of one shape (autocast's
// casts) on the ISA's vector conversion; false when that does not apply.
bool convert_bf16_fast(const Tensor& out, const Tensor& src) {
  const VecKernels* vk = vec_kernels();
  if (vk == nullptr || !out.is_contiguous() || !src.is_contiguous() || out.shape() != src.shape()) return false;
  const bool narrow = out.dtype() == kBFloat16 && src.dtype() == kFloat32;
  if (!narrow && !(out.dtype() == kFloat32 && src.dtype() == kBFloat16)) return false;
  char* o = static_cast<char*>(out.data_ptr());
  const char* s = static_cast<const char*>(src.data_ptr());
  parallel_range(0, out.numel(), kGrain, [&](int64_t lo, int64_t hi) {
    if (narrow) vk->f32_to_bf16(reinterpret_cast<uint16_t*>(o) + lo, reinterpret_cast<const float*>(s) + lo, hi - lo);
    else vk->bf16_to_f32(reinterpret_cast<float*>(o) + lo, reinterpret_cast<const uint16_t*>(s) + lo, hi - lo);
  });
  return true;
}

void copy_kernel(const Tensor& out, const Tensor& src, bool /*non_blocking: a host copy is done when it returns*/) {
  if (out.dtype() == src.dtype() && out.is_contiguous() && src.is_contiguous() && out.shape() == src.shape()) {
    std::memcpy(out.data_ptr(), src.data_ptr(), out.nbytes());
    return;
  }
  if (convert_bf16_fast(out, src)) return;
  visit_dtype(out.dtype(), [&]<class D>() {
    visit_dtype(src.dtype(), [&]<class S>() {
      elementwise<D, S>(out, [](S v) { return convert<D>(v); }, src);
    });
  });
}

void fill_kernel(const Tensor& out, const Scalar& value) {
  visit_dtype(out.dtype(), [&]<class T>() {
    T v = static_cast<T>(value.to<OpMath<T>>());
    auto loop = make_loop<1>({&out}, out.shape());
    for_each(loop, [&](char** p, const int64_t* s, int64_t n) {
      if (s[0] == static_cast<int64_t>(sizeof(T))) {
        T* o = reinterpret_cast<T*>(p[0]);
        for (int64_t i = 0; i < n; ++i) o[i] = v;
      } else {
        for (int64_t i = 0; i < n; ++i) *reinterpret_cast<T*>(p[0] + i * s[0]) = v;
      }
    });
  });
}

// out is contiguous and 1-D (the meta function allocates it).
void arange_kernel(const Tensor& out, double start, double step) {
  visit_numeric(out.dtype(), "arange", [&]<class T>() {
    T* o = static_cast<T*>(out.data_ptr());
    for (int64_t i = 0, n = out.numel(); i < n; ++i) o[i] = static_cast<T>(static_cast<OpMath<T>>(start + static_cast<double>(i) * step));
  });
}

// Symmetric form: the first half steps up from start, the second down from end, so both ends are exact.
void linspace_kernel(const Tensor& out, double start, double end) {
  visit_numeric(out.dtype(), "linspace", [&]<class T>() {
    T* o = static_cast<T*>(out.data_ptr());
    int64_t n = out.numel();
    if (n == 1) {
      o[0] = static_cast<T>(static_cast<OpMath<T>>(start));
      return;
    }
    double step = (end - start) / static_cast<double>(n - 1);
    int64_t half = n / 2;
    for (int64_t i = 0; i < n; ++i) {
      double v = i < half ? start + step * static_cast<double>(i) : end - step * static_cast<double>(n - 1 - i);
      o[i] = static_cast<T>(static_cast<OpMath<T>>(v));
    }
  });
}

void eye_kernel(const Tensor& out) {
  fill_kernel(out, Scalar(0));
  visit_dtype(out.dtype(), [&]<class T>() {
    T* o = static_cast<T*>(out.data_ptr());
    int64_t n = out.size(0), m = out.size(1);
    for (int64_t i = 0; i < std::min(n, m); ++i) o[i * m + i] = static_cast<T>(OpMath<T>(1));
  });
}

}  // namespace

void register_copy_kernels(KernelTable& t) {
  t.copy = copy_kernel;
  t.fill = fill_kernel;
  t.arange = arange_kernel;
  t.linspace = linspace_kernel;
  t.eye = eye_kernel;
}

}  // namespace ember::cpu
