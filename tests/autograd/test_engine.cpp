// The autograd engine: backward/grad semantics, grad mode, retain_graph,
// create_graph, version-counter checks, in-place rules, hooks, deep graphs
// and freeing (no reference cycles). The README example is here too.
#include <gtest/gtest.h>

#include <ember/autograd/gradcheck.hpp>
#include <ember/autograd/node.hpp>
#include <test_util.hpp>

namespace ember {
namespace {
using testing::all_close;
using testing::expect_error;

Tensor R(IntList s, DType dt = kFloat64) { return randn(s, dt).requires_grad_(); }

// README: w = randn({3,4}).requires_grad_(); loss = relu(matmul(x, w)).pow(2).mean().
TEST(AutogradEngine, ReadmeExample) {
  manual_seed(0);
  Tensor w = randn({3, 4}).requires_grad_();
  Tensor x = randn({5, 3});
  Tensor loss = relu(matmul(x, w)).pow(2).mean();
  loss.backward();
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().shape(), Dims({3, 4}));
  // Finite differences in float64 on the same values.
  Tensor w64 = to(w.detach(), kFloat64), x64 = to(x, kFloat64);
  std::vector<double> num;
  const double eps = 1e-6;
  for (int64_t i = 0; i < 12; ++i) {
    auto f = [&](double delta) {
      Tensor wp = clone(w64);
      Tensor e = ops::narrow(ops::reshape(wp, {-1}), 0, i, 1);
      e.add_(delta);
      return relu(matmul(x64, wp)).pow(2).mean().item<double>();
    };
    num.push_back((f(eps) - f(-eps)) / (2 * eps));
  }
  EXPECT_TRUE(all_close(w.grad(), testing::from_values(num, {3, 4}), 1e-5, 1e-4));
  NoGradGuard no_grad;
  EXPECT_FALSE(matmul(x, w).requires_grad());
}

TEST(AutogradEngine, LeafAndGradAccumulation) {
  Tensor x = R({3});
  EXPECT_TRUE(x.requires_grad());
  EXPECT_TRUE(x.is_leaf());
  Tensor y = mul(x, 2.0).sum();
  EXPECT_FALSE(y.is_leaf());
  y.backward({}, true);
  y.backward();
  EXPECT_TRUE(all_close(x.grad(), full({3}, 4.0, kFloat64)));
  x.grad().zero_();
  EXPECT_TRUE(all_close(x.grad(), zeros({3}, kFloat64)));
  x.set_grad({});
  EXPECT_FALSE(x.grad().defined());
  sum(x).backward();
  EXPECT_TRUE(all_close(x.grad(), ones({3}, kFloat64)));
}

TEST(AutogradEngine, NonScalarNeedsGradient) {
  Tensor x = R({2, 3});
  Tensor y = mul(x, x);
  expect_error([&] { y.backward(); }, {"implicitly created only for scalar outputs", "[2, 3]"});
  Tensor g = full({2, 3}, 0.5, kFloat64);
  y.backward(g);
  EXPECT_TRUE(all_close(x.grad(), mul(x.detach(), 1.0)));
  expect_error([&] { Tensor c = ones({2}); c.backward(); }, {"does not require grad"});
}

TEST(AutogradEngine, IntegerTensorsCannotRequireGrad) {
  Tensor i = arange(4);
  expect_error([&] { i.requires_grad_(); }, {"floating point", "int64"});
  Tensor x = R({4});
  Tensor y = mul(x, i);  // int input is simply non-differentiable
  y.sum().backward();
  EXPECT_TRUE(all_close(x.grad(), to(i, kFloat64)));
}

TEST(AutogradEngine, GradModeGuards) {
  Tensor x = R({2});
  {
    NoGradGuard g;
    EXPECT_FALSE(GradMode::is_enabled());
    EXPECT_FALSE(mul(x, 2.0).requires_grad());
    {
      EnableGradGuard e;
      EXPECT_TRUE(mul(x, 2.0).requires_grad());
    }
    EXPECT_FALSE(GradMode::is_enabled());
  }
  EXPECT_TRUE(GradMode::is_enabled());
  EXPECT_TRUE(exp(x).requires_grad());
  Tensor d = exp(x).detach();
  EXPECT_FALSE(d.requires_grad());
}

TEST(AutogradEngine, SecondBackwardThroughFreedGraphIsAnError) {
  Tensor x = R({3});
  Tensor y = mul(x, x).sum();
  y.backward();
  expect_error([&] { y.backward(); }, {"backward through the graph a second time", "retain_graph"});
}

TEST(AutogradEngine, ModifiedSavedTensorIsAnError) {
  Tensor x = R({3});
  Tensor a = mul(x, 1.0);
  Tensor y = mul(a, a);  // saves a
  a.add_(1.0);           // a non-leaf: history rebased, version bumped
  expect_error([&] { y.sum().backward(); }, {"modified by an inplace operation", "mul", "version"});
  Tensor e = exp(x);
  Tensor z = e.sum();
  e.mul_(2.0);  // exp saved its output
  expect_error([&] { z.backward(); }, {"modified by an inplace operation", "exp"});
}

TEST(AutogradEngine, InPlaceOnLeafIsAnErrorOutsideNoGrad) {
  Tensor w = R({3});
  expect_error([&] { w.add_(1.0); }, {"leaf", "in-place"});
  {
    NoGradGuard g;
    w.sub_(1.0);  // optimizer-style update
  }
  EXPECT_TRUE(w.is_leaf());
}

TEST(AutogradEngine, InPlaceOnNonLeafRebasesHistory) {
  Tensor x = R({4});
  Tensor y = mul(x, 3.0);
  y.mul_(x);   // y = 3 x^2
  y.add_(x);   // y = 3 x^2 + x
  y.relu_();
  sum(y).backward();
  Tensor xd = x.detach();
  Tensor expect = where(gt(add(mul(mul(xd, xd), 3.0), xd), 0.0), add(mul(xd, 6.0), 1.0), zeros_like(xd));
  EXPECT_TRUE(all_close(x.grad(), expect));
  // A constant tensor that receives a value with history starts requiring grad.
  Tensor w = R({4});
  Tensor buf = zeros({4}, kFloat64);
  buf.add_(w, 2.0);
  EXPECT_TRUE(buf.requires_grad());
  buf.sum().backward();
  EXPECT_TRUE(all_close(w.grad(), full({4}, 2.0, kFloat64)));
}

TEST(AutogradEngine, InPlaceOnViewsIsRefused) {
  Tensor x = R({2, 3});
  Tensor y = mul(x, 1.0);
  Tensor v = y.select(0, 0);
  expect_error([&] { v.mul_(2.0); }, {"view"});
  expect_error([&] { y.mul_(2.0); }, {"views"});
  Tensor base = zeros({2, 3}, kFloat64);
  Tensor view = base.select(0, 1);
  expect_error([&] { base.add_(x); }, {"shares memory"});
  (void)view;
}

TEST(AutogradEngine, ViewsShareVersionCounter) {
  Tensor x = randn({2, 3}, kFloat64);
  Tensor v = x.transpose(0, 1);
  uint32_t before = x.version();
  v.mul_(2.0);
  EXPECT_GT(x.version(), before);
  EXPECT_EQ(x.version(), v.version());
  EXPECT_EQ(x.detach().version(), x.version());
}

TEST(AutogradEngine, HooksReadAndReplaceGradients) {
  Tensor x = R({3});
  Tensor seen;
  x.register_hook([&](const Tensor& g) { seen = g; return Tensor(); });
  Tensor y = mul(x, 2.0);
  y.register_hook([](const Tensor& g) { return mul(g, 10.0); });
  y.retain_grad();
  sum(y).backward();
  EXPECT_TRUE(all_close(y.grad(), full({3}, 10.0, kFloat64)));
  EXPECT_TRUE(all_close(seen, full({3}, 20.0, kFloat64)));
  EXPECT_TRUE(all_close(x.grad(), full({3}, 20.0, kFloat64)));
  Tensor c = ones({2});
  expect_error([&] { c.register_hook([](const Tensor& g) { return g; }); }, {"doesn't require gradient"});
}

// Post-accumulate hooks see the finished .grad, once per backward pass, in the
// order the engine reaches the leaves; queued callbacks run after the last node.
TEST(AutogradEngine, PostAccumulateHooksAndQueuedCallbacks) {
  Tensor a = R({3}), b = R({2});
  std::vector<std::string> events;
  std::vector<double> grad_sum_seen;
  auto on_a = autograd::register_post_accumulate_grad_hook(a, [&](const Tensor& leaf) {
    events.push_back("a");
    grad_sum_seen.push_back(leaf.grad().sum().item<double>());
    autograd::queue_callback([&] {
      events.push_back("callback");
      EXPECT_FALSE(GradMode::is_enabled());
      autograd::queue_callback([&] { events.push_back("queued by a callback"); });
    });
  });
  autograd::register_post_accumulate_grad_hook(b, [&](const Tensor&) { events.push_back("b"); });
  // a is used twice: its gradient is summed first, so its hook runs once per pass.
  Tensor loss = add(mul(a, a).sum(), add(mul(a, 3.0).sum(), mul(b, 2.0).sum()));
  loss.backward({}, /*retain_graph=*/true);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[2], "callback");
  EXPECT_EQ(events[3], "queued by a callback");
  EXPECT_TRUE((events[0] == "a" && events[1] == "b") || (events[0] == "b" && events[1] == "a"));
  const double want = add(mul(a.detach(), 2.0), 3.0).sum().item<double>();
  EXPECT_NEAR(grad_sum_seen.at(0), want, 1e-12);
  // The second pass: the hook sees the accumulated sum.
  loss.backward();
  EXPECT_NEAR(grad_sum_seen.at(1), 2 * want, 1e-12);
  EXPECT_EQ(events.size(), 8u);
  // Removed: no more calls. grad() leaves .grad alone and calls no post-accumulate hook.
  autograd::remove_post_accumulate_grad_hook(a, on_a);
  autograd::remove_post_accumulate_grad_hook(a, on_a);  // twice: ignored
  events.clear();
  sum(mul(a, b.sum())).backward();
  EXPECT_EQ(events, std::vector<std::string>{"b"});
  events.clear();
  autograd::grad({sum(mul(b, 2.0))}, {b});
  EXPECT_TRUE(events.empty());

  expect_error([] { autograd::queue_callback([] {}); }, {"outside a backward pass"});
  Tensor c = ones({2});
  expect_error([&] { autograd::register_post_accumulate_grad_hook(c, [](const Tensor&) {}); },
               {"not a leaf that requires grad"});
  expect_error([&] { autograd::register_post_accumulate_grad_hook(mul(a, 2.0), [](const Tensor&) {}); },
               {"not a leaf"});
  // A pass that throws drops what it queued: the next pass does not run it.
  int ran = 0;
  Tensor d = R({2});
  auto boom = autograd::register_post_accumulate_grad_hook(d, [&](const Tensor&) {
    autograd::queue_callback([&] { ++ran; });
    throw Error("hook failed");
  });
  expect_error([&] { sum(d).backward(); }, {"hook failed"});
  autograd::remove_post_accumulate_grad_hook(d, boom);
  sum(d).backward();
  EXPECT_EQ(ran, 0);
}

TEST(AutogradEngine, GradFunctionAndAllowUnused) {
  Tensor x = R({3}), z = R({2});
  Tensor y = mul(x, x).sum();
  auto g = autograd::grad({y}, {x}, {}, true);
  EXPECT_TRUE(all_close(g[0], mul(x.detach(), 2.0)));
  EXPECT_FALSE(x.grad().defined());  // grad() does not accumulate
  expect_error([&] { autograd::grad({y}, {x, z}, {}, true); }, {"not used", "allow_unused"});
  auto g2 = autograd::grad({y}, {x, z}, {}, true, false, true);
  EXPECT_FALSE(g2[1].defined());
  // A non-leaf input.
  Tensor a = mul(x, 3.0);
  Tensor b = mul(a, a).sum();
  auto ga = autograd::grad({b}, {a});
  EXPECT_TRUE(all_close(ga[0], mul(a.detach(), 2.0)));
}

TEST(AutogradEngine, CreateGraphGivesSecondDerivatives) {
  Tensor x = R({4});
  Tensor y = pow(x, 3).sum();
  auto g = autograd::grad({y}, {x}, {}, {}, true);
  EXPECT_TRUE(g[0].requires_grad());
  auto gg = autograd::grad({g[0].sum()}, {x});
  EXPECT_TRUE(all_close(gg[0], mul(x.detach(), 6.0)));
  // Through matmul, softmax and an activation.
  Tensor w = R({3, 3});
  Tensor a = randn({2, 3}, kFloat64);
  Tensor out = softmax(tanh(matmul(a, w)), 1).pow(2).sum();
  auto gw = autograd::grad({out}, {w}, {}, {}, true);
  Tensor pen = gw[0].pow(2).sum();
  pen.backward();
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().shape(), Dims({3, 3}));
}

TEST(AutogradEngine, DeepChainBackwardAndTeardownAreIterative) {
  const int n = 100000;
  Tensor x = R({1});
  std::weak_ptr<autograd::Node> first;
  {
    Tensor y = x;
    for (int i = 0; i < n; ++i) {
      y = mul(y, 1.0);
      if (i == 0) first = autograd::meta_of(y)->grad_fn;
    }
    y.sum().backward();
    EXPECT_TRUE(all_close(x.grad(), ones({1}, kFloat64)));
  }
  EXPECT_TRUE(first.expired());
  // Teardown without backward (saved tensors keep the chain alive through their grad_fns).
  {
    Tensor y = x;
    for (int i = 0; i < n; ++i) {
      y = exp(mul(y, y));
      if (i == 0) first = autograd::meta_of(y)->grad_fn;
      if (i > 200) break;
    }
  }
  EXPECT_TRUE(first.expired());
  {
    Tensor y = x;
    for (int i = 0; i < n; ++i) y = mul(y, y);
  }
}

TEST(AutogradEngine, NoReferenceCycles) {
  std::weak_ptr<autograd::Node> node;
  std::weak_ptr<TensorImpl> out_impl;
  Tensor x = R({3});
  {
    Tensor y = exp(x);  // saves its own output
    Tensor z = sigmoid(y);
    node = autograd::meta_of(y)->grad_fn;
    out_impl = y.impl_ptr();
    z.sum().backward({}, true);
  }
  EXPECT_TRUE(node.expired());
  EXPECT_TRUE(out_impl.expired());
}

TEST(AutogradEngine, BroadcastAndDtypeGradientsMatchInputs) {
  Tensor a = R({3, 1}, kFloat32), b = R({4}, kFloat64);
  Tensor y = add(a, b);  // float64 [3, 4]
  y.sum().backward();
  EXPECT_EQ(a.grad().dtype(), kFloat32);
  EXPECT_EQ(a.grad().shape(), Dims({3, 1}));
  EXPECT_TRUE(all_close(a.grad(), full({3, 1}, 4.0)));
  EXPECT_TRUE(all_close(b.grad(), full({4}, 3.0, kFloat64)));
}

TEST(AutogradEngine, GradcheckCatchesAWrongRule) {
  // A function whose "gradient" is wrong: the numerical side must disagree.
  Tensor x = R({3});
  auto fn = [](const std::vector<Tensor>& v) -> std::vector<Tensor> {
    Tensor y = mul(v[0], 2.0);
    y.register_hook([](const Tensor& g) { return mul(g, 3.0); });
    return {y};
  };
  std::string err;
  EXPECT_FALSE(autograd::gradcheck(fn, {x}, {}, &err));
  EXPECT_NE(err.find("mismatch"), std::string::npos);
}

}  // namespace
}  // namespace ember
