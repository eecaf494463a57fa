// Autocast state and casts (autocast.hpp).
#include <ember/autograd/autocast.hpp>

#include <ember/autograd/functions.hpp>

namespace ember {

namespace {
thread_local bool tls_enabled = false;
thread_local DType tls_dtype = kBFloat16;
}  // namespace

AutocastGuard::AutocastGuard(DType dtype, bool enabled) : prev_enabled_(tls_enabled), prev_dtype_(tls_dtype) {
  EMBER_CHECK(dtype == kBFloat16 || dtype == kFloat16, "AutocastGuard: the dtype must be bfloat16 or float16, got ",
              dtype);
  tls_enabled = enabled;
  tls_dtype = dtype;
}

AutocastGuard::~AutocastGuard() {
  tls_enabled = prev_enabled_;
  tls_dtype = prev_dtype_;
}

bool autocast_enabled() { return tls_enabled; }
DType autocast_dtype() { return tls_dtype; }

namespace autocast {

Tensor to_low(const Tensor& x) { return x.defined() && x.dtype() == kFloat32 ? to(x, tls_dtype) : x; }
Tensor to_full(const Tensor& x) { return x.defined() && x.dtype().is_reduced_float() ? to(x, kFloat32) : x; }

Suspend::Suspend() : prev_(tls_enabled) { tls_enabled = false; }
Suspend::~Suspend() { tls_enabled = prev_; }

}  // namespace autocast

}  // namespace ember
