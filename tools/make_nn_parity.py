#!/usr/bin/python3
"""Writes tests/data/nn_parity.safetensors: initial weights, a batch, and PyTorch's loss
and parameters after one Adam step for a small MLP and a small CNN (the Fashion-MNIST
architectures, scaled down so the file stays small). tests/nn/test_parity.cpp loads the
same weights into ember, takes the same step and compares.

Run with Debian's PyTorch: /usr/bin/python3 tools/make_nn_parity.py
(the safetensors file is written directly, so the safetensors package is not needed).
"""
import json
import pathlib
import struct

import numpy as np
import torch
from torch import nn

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def save_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous().cpu()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text.encode())
        for b in blobs:
            f.write(b)


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(4, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(8 * 7 * 7, 16), nn.ReLU(), nn.Linear(16, 10))


def main():
    torch.manual_seed(0)
    out = {}
    x = torch.randn(16, 1, 28, 28)
    y = torch.randint(0, 10, (16,))
    out["x"], out["y"] = x, y
    for name, model in (("mlp", mlp()), ("cnn", cnn())):
        for k, v in model.state_dict().items():
            out[f"{name}.init.{k}"] = v.clone()
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        model.train()
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        out[f"{name}.loss"] = loss.detach().reshape(())
        for k, v in model.state_dict().items():
            out[f"{name}.after.{k}"] = v.clone()
    path = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "nn_parity.safetensors"
    save_safetensors(path, out)
    print(f"wrote {path} ({path.stat().st_size} bytes) with torch {torch.__version__}")


if __name__ == "__main__":
    main()
