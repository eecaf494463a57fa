// Device parsing and printing.
#include <ember/runtime/device.hpp>

#include <charconv>
#include <ostream>

#include <ember/runtime/error.hpp>

namespace ember {

Device::Device(std::string_view text) {
  auto parse_index = [&](std::string_view digits) {
    int value = -1;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    EMBER_CHECK(ec == std::errc() && p == digits.data() + digits.size() && value >= 0 && value < 128,
                "Device: bad device index in '", text, "'");
    return value;
  };
  if (text == "cpu") {
    *this = kCPU;
  } else if (text == "cuda") {
    *this = kCUDA;
  } else if (text.starts_with("cuda:")) {
    *this = Device(DeviceType::CUDA, parse_index(text.substr(5)));
  } else {
    EMBER_FAIL("Device: expected 'cpu', 'cuda' or 'cuda:N', got '", text, "'");
  }
}

std::string Device::str() const {
  if (type == DeviceType::CPU) return "cpu";
  return "cuda:" + std::to_string(index);
}

std::ostream& operator<<(std::ostream& os, Device d) { return os << d.str(); }

}  // namespace ember
