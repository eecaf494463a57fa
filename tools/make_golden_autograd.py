#!/usr/bin/python3
"""Writes tests/data/autograd_golden.json: inputs, output and gradients of a
small composite model computed by PyTorch, in float32 and float64.

model: conv2d(3->2, 3x3, pad 1) -> batch_norm (training) -> gelu -> flatten
       -> linear(32->5) -> layer_norm(5) -> cross_entropy(targets)
tests/autograd/test_golden.cpp recomputes it with ember and compares per
element. Run with Debian's PyTorch: /usr/bin/python3 tools/make_golden_autograd.py
"""
import json
import os

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "autograd_golden.json")

PARAMS = ["x", "conv_w", "conv_b", "bn_w", "bn_b", "lin_w", "lin_b", "ln_w", "ln_b"]


def model(p, target):
    h = F.conv2d(p["x"], p["conv_w"], p["conv_b"], stride=1, padding=1)
    h = F.batch_norm(h, None, None, p["bn_w"], p["bn_b"], training=True, eps=1e-5)
    h = F.gelu(h)
    h = h.flatten(1)
    h = F.linear(h, p["lin_w"], p["lin_b"])
    h = F.layer_norm(h, (5,), p["ln_w"], p["ln_b"], eps=1e-5)
    return F.cross_entropy(h, target)


def main():
    g = torch.Generator().manual_seed(20261121)
    base = {
        "x": torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64),
        "conv_w": torch.randn(2, 3, 3, 3, generator=g, dtype=torch.float64) * 0.3,
        "conv_b": torch.randn(2, generator=g, dtype=torch.float64) * 0.1,
        "bn_w": 1.0 + 0.1 * torch.randn(2, generator=g, dtype=torch.float64),
        "bn_b": 0.1 * torch.randn(2, generator=g, dtype=torch.float64),
        "lin_w": torch.randn(5, 32, generator=g, dtype=torch.float64) * 0.2,
        "lin_b": torch.randn(5, generator=g, dtype=torch.float64) * 0.1,
        "ln_w": 1.0 + 0.1 * torch.randn(5, generator=g, dtype=torch.float64),
        "ln_b": 0.1 * torch.randn(5, generator=g, dtype=torch.float64),
    }
    target = torch.tensor([3, 1], dtype=torch.int64)
    doc = {"model": __doc__.strip().splitlines()[2:4], "target": target.tolist(), "cases": {}}
    for name, dt in (("float32", torch.float32), ("float64", torch.float64)):
        p = {k: v.to(dt).clone().requires_grad_() for k, v in base.items()}
        loss = model(p, target)
        loss.backward()
        doc["cases"][name] = {
            "inputs": {k: {"shape": list(p[k].shape), "values": p[k].detach().double().flatten().tolist()} for k in PARAMS},
            "loss": loss.item(),
            "grads": {k: p[k].grad.double().flatten().tolist() for k in PARAMS},
        }
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", OUT, os.path.getsize(OUT), "bytes; torch", torch.__version__)


if __name__ == "__main__":
    main()
