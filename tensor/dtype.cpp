// DType names, printing and the promotion lattice.
#include <ember/tensor/dtype.hpp>

#include <ostream>

namespace ember {

const char* DType::name() const {
  constexpr const char* names[] = {"float32", "float64", "float16", "bfloat16", "int64", "int32", "uint8", "bool"};
  return names[kind];
}

std::ostream& operator<<(std::ostream& os, DType dt) { return os << dt.name(); }
std::ostream& operator<<(std::ostream& os, Half h) { return os << static_cast<float>(h); }
std::ostream& operator<<(std::ostream& os, BFloat16 h) { return os << static_cast<float>(h); }

DType promote_types(DType a, DType b) {
  if (a == b) return a;
  if (a.is_floating() && b.is_floating()) {
    if (a.is_reduced_float() && b.is_reduced_float()) return kFloat32;  // float16 + bfloat16
    auto rank = [](DType d) { return d.kind == DType::Float64 ? 2 : d.kind == DType::Float32 ? 1 : 0; };
    return rank(a) >= rank(b) ? a : b;
  }
  if (a.is_floating()) return a;
  if (b.is_floating()) return b;
  auto rank = [](DType d) {
    switch (d.kind) {
      case DType::Bool: return 0;
      case DType::UInt8: return 1;
      case DType::Int32: return 2;
      default: return 3;  // Int64
    }
  };
  return rank(a) >= rank(b) ? a : b;
}

}  // namespace ember
