// Printing (tensor/print.cpp, close to PyTorch's repr) and Device parsing
// (runtime/device.cpp). Strings are compared exactly.
#include <sstream>

#include "test_util.hpp"

namespace ember {
namespace {

using ember::testing::expect_error;
using ember::testing::from_values;

std::string str(const Tensor& t) {
  std::ostringstream os;
  os << t;
  return os.str();
}

TEST(Print, SmallFloatTensor) {
  EXPECT_EQ(str(ember::tensor({{1.5f, -0.25f}, {2.0f, 3.125f}})),
            "tensor([[ 1.5000, -0.2500],\n"
            "        [ 2.0000,  3.1250]])");
  EXPECT_EQ(str(ember::tensor({0.5f, 10.25f})), "tensor([ 0.5000, 10.2500])");
  EXPECT_EQ(str(ember::tensor({1.f, 2.f, -3.f})), "tensor([ 1.,  2., -3.])");  // whole numbers
  EXPECT_EQ(str(full({}, 3.5)), "tensor(3.5000)");
  EXPECT_EQ(str(ember::tensor({1e-5f, 1.f})), "tensor([1.0000e-05, 1.0000e+00])");
  const double nan = std::nan("");
  EXPECT_EQ(str(from_values({nan, INFINITY, 1.5}, {3}, kFloat32)), "tensor([   nan,    inf, 1.5000])");
}

TEST(Print, ThreeDims) {
  EXPECT_EQ(str(arange(0, 8).reshape({2, 2, 2})),
            "tensor([[[0, 1],\n"
            "         [2, 3]],\n"
            "\n"
            "        [[4, 5],\n"
            "         [6, 7]]])");
}

TEST(Print, IntBoolAndDtypeSuffix) {
  EXPECT_EQ(str(ember::tensor({1, 2, 3})), "tensor([1, 2, 3])");
  EXPECT_EQ(str(ember::tensor({-1, 20, 3})), "tensor([-1, 20,  3])");
  EXPECT_EQ(str(ember::tensor({true, false})), "tensor([ True, False])");
  EXPECT_EQ(str(ember::tensor({1.5}, kFloat64)), "tensor([1.5000], dtype=float64)");
  EXPECT_EQ(str(ones({2}, kInt32)), "tensor([1, 1], dtype=int32)");
  EXPECT_EQ(str(ember::tensor({0.5}, kFloat16)), "tensor([0.5000], dtype=float16)");
  EXPECT_EQ(str(zeros({0})), "tensor([])");
  EXPECT_EQ(str(zeros({2, 0})), "tensor([], size=(2, 0))");
  // A non-contiguous view prints its logical order.
  EXPECT_EQ(str(ember::tensor({{1, 2}, {3, 4}}).t()), "tensor([[1, 3],\n        [2, 4]])");
  EXPECT_EQ(str(Tensor()), "[ undefined Tensor ]");
}

TEST(Print, LargeTensorsAreSummarised) {
  // As PyTorch: magnitudes spanning more than 1e3 print in scientific notation, and
  // the row wraps at 80 columns.
  std::string s = str(arange(0, 2000, kFloat32));
  EXPECT_NE(s.find("..."), std::string::npos) << s;
  EXPECT_EQ(s,
            "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
            "        1.9990e+03])");
  EXPECT_EQ(str(arange(0, 2000)), "tensor([   0,    1,    2,  ..., 1997, 1998, 1999])");
  EXPECT_EQ(str(zeros({100, 100}, kInt64)),
            "tensor([[0, 0, 0,  ..., 0, 0, 0],\n"
            "        [0, 0, 0,  ..., 0, 0, 0],\n"
            "        [0, 0, 0,  ..., 0, 0, 0],\n"
            "        ...,\n"
            "        [0, 0, 0,  ..., 0, 0, 0],\n"
            "        [0, 0, 0,  ..., 0, 0, 0],\n"
            "        [0, 0, 0,  ..., 0, 0, 0]])");
  // Long rows wrap even when not summarised: 100 four-wide ints at 12 per line.
  std::string w = str(arange(1000, 1100));
  const std::string first = "tensor([1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008, 1009, 1010, 1011,\n        1012";
  EXPECT_EQ(w.substr(0, first.size()), first);
  // 1000 elements exactly are printed in full.
  EXPECT_EQ(str(zeros({1000}, kInt64)).find("..."), std::string::npos);
}

TEST(DeviceParsing, StringsAndErrors) {
  Device d("cuda:1");
  EXPECT_TRUE(d.is_cuda());
  EXPECT_EQ(d.index, 1);
  EXPECT_EQ(d.str(), "cuda:1");
  EXPECT_EQ(Device("cuda"), kCUDA);
  EXPECT_EQ(Device("cpu"), kCPU);
  EXPECT_EQ(Device("cuda:0"), kCUDA);
  EXPECT_EQ(Device("cuda:15").index, 15);
  std::ostringstream os;
  os << Device("cuda:3") << ' ' << kCPU;
  EXPECT_EQ(os.str(), "cuda:3 cpu");
  EXPECT_EQ(kCPU.str(), "cpu");
  expect_error([] { Device("gpu"); }, {"Device", "'gpu'", "cuda:N"});
  expect_error([] { Device("CPU"); }, {"Device", "'CPU'"});
  expect_error([] { Device(""); }, {"Device", "''"});
  expect_error([] { Device("cuda:"); }, {"Device", "bad device index", "'cuda:'"});
  expect_error([] { Device("cuda:x"); }, {"Device", "bad device index"});
  expect_error([] { Device("cuda:-1"); }, {"Device", "bad device index"});
  expect_error([] { Device("cuda:1x"); }, {"Device", "bad device index"});
  expect_error([] { Device("cuda:999"); }, {"Device", "bad device index"});
}

}  // namespace
}  // namespace ember
