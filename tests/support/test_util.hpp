// Helpers shared by ember's tests: tolerant tensor comparison, a naive
// reference evaluator, and the op-coverage registry the op-list test reads.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <ember/ember.hpp>

namespace ember::testing {

// All elements of t, in row-major order, as double (any dtype, any strides, any device).
inline std::vector<double> to_vector(const Tensor& t) {
  Tensor c = ops::contiguous(ops::to(ops::to(t, kCPU), kFloat64));
  const double* p = c.data_ptr<double>();
  return std::vector<double>(p, p + c.numel());
}

// Per element |a - b| <= atol + rtol * |b| (NaNs must match, infinities must be equal).
inline ::testing::AssertionResult all_close(const Tensor& a, const Tensor& b, double atol = 1e-6, double rtol = 1e-5) {
  if (!(a.shape() == b.shape()))
    return ::testing::AssertionFailure() << "shapes differ: " << a.describe() << " vs " << b.describe();
  std::vector<double> va = to_vector(a), vb = to_vector(b);
  for (size_t i = 0; i < va.size(); ++i) {
    double x = va[i], y = vb[i];
    if (std::isnan(x) || std::isnan(y)) {
      if (std::isnan(x) && std::isnan(y)) continue;
      return ::testing::AssertionFailure() << "element " << i << ": " << x << " vs " << y;
    }
    if (std::isinf(x) || std::isinf(y)) {
      if (x == y) continue;
      return ::testing::AssertionFailure() << "element " << i << ": " << x << " vs " << y;
    }
    if (std::fabs(x - y) > atol + rtol * std::fabs(y))
      return ::testing::AssertionFailure() << "element " << i << ": " << x << " vs " << y << " (|diff| "
                                           << std::fabs(x - y) << " > " << atol << " + " << rtol << " * |b|)";
  }
  return ::testing::AssertionSuccess();
}

// A tensor from row-major double values, converted to dtype.
inline Tensor from_values(const std::vector<double>& v, IntList shape, DType dtype = kFloat64) {
  return ops::to(ember::tensor(v, kFloat64).reshape(shape), dtype);
}

// The same values as t, but laid out non-contiguously (a transposed copy viewed back).
inline Tensor non_contiguous(const Tensor& t) {
  if (t.dim() < 2) {
    // Every other element of a buffer twice the size.
    Tensor big = zeros({t.numel() * 2}, t.options());
    Tensor v = big.slice(0, 0, {}, 2);
    v.copy_(t.reshape({t.numel()}));
    return v.view(t.shape());
  }
  Tensor tr = ops::contiguous(ops::transpose(t, -1, -2));
  return ops::transpose(tr, -1, -2);
}

// Expects fn() to throw ember::Error whose message contains every fragment.
inline void expect_error(const std::function<void()>& fn, const std::vector<std::string>& fragments) {
  try {
    fn();
  } catch (const Error& e) {
    std::string msg = e.what();
    for (const auto& f : fragments) EXPECT_NE(msg.find(f), std::string::npos) << "message '" << msg << "' lacks '" << f << "'";
    return;
  }
  ADD_FAILURE() << "expected ember::Error";
}

// ---- op coverage: tests mark the ops they exercise; the op-list test checks all are marked.
inline std::set<int>& tested_ops() {
  static std::set<int> ops;
  return ops;
}
inline bool mark_tested(Op op) {
  tested_ops().insert(static_cast<int>(op));
  return true;
}
// Marks every op named in a space-separated list; an unknown name aborts at start-up, naming it.
inline bool mark_tested_names(const char* names) {
  std::istringstream in(names);
  for (std::string name; in >> name;) {
    int found = -1;
    for (int i = 0; i < kNumOps && found < 0; ++i)
      if (name == op_info(static_cast<Op>(i)).name) found = i;
    if (found < 0) {
      std::fprintf(stderr, "EMBER_OPS_TESTED: no op named '%s' in tensor/ops.def\n", name.c_str());
      std::abort();
    }
    tested_ops().insert(found);
  }
  return true;
}

// Runs fn() once per CPU kernel path this machine has (scalar, avx2, avx512),
// each forced with a CpuIsaGuard and named in failure messages. Paths the CPU
// lacks are reported once per process on stderr (they run where the CPU has them).
inline void note_missing_cpu_isas() {
  static const bool reported = [] {
    for (cpu::Isa isa : {cpu::Isa::avx2, cpu::Isa::avx512})
      if (!cpu::isa_supported(isa))
        std::fprintf(stderr, "note: this CPU (%s) has no %s path; its kernels are tested where it does\n",
                     cpu::cpu_features().c_str(), cpu::isa_name(isa));
    return true;
  }();
  (void)reported;
}
template <class F>
void for_each_cpu_isa(F&& fn) {
  note_missing_cpu_isas();
  for (cpu::Isa isa : cpu::supported_cpu_isas()) {
    SCOPED_TRACE(::testing::Message() << "CPU ISA " << cpu::isa_name(isa));
    cpu::CpuIsaGuard guard(isa);
    fn();
  }
}

}  // namespace ember::testing

// Declares (at namespace scope in a test file) that the file tests op `name`.
#define EMBER_OP_TESTED(name) \
  [[maybe_unused]] static const bool ember_op_tested_##name = ::ember::testing::mark_tested(::ember::Op::name)
// The same for a space-separated list of op names (one per file: "neg abs sign ...").
#define EMBER_OPS_TESTED(names) \
  [[maybe_unused]] static const bool ember_ops_tested_list = ::ember::testing::mark_tested_names(names)
