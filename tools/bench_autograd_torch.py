#!/usr/bin/python3
"""The three cases of benchmarks/bench_autograd.cpp in PyTorch (Python), and
the ratios ember / PyTorch when ember's Google Benchmark JSON is given.

  /usr/bin/python3 tools/bench_autograd_torch.py [ember_results.json]
ember_results.json: bench_autograd --benchmark_format=json > ember_results.json
"""
import json
import sys
import timeit

import torch

torch.set_num_threads(1)


def per_call_us(fn, n=20000, repeat=5):
    fn()
    return min(timeit.repeat(fn, number=n, repeat=repeat)) / n * 1e6


def main():
    x = torch.ones(1)
    w = torch.ones(1)
    wg = torch.ones(1, requires_grad=True)
    xg = torch.ones(1, requires_grad=True)

    def tiny():
        y = (xg * wg + xg).sum()
        y.backward()

    torch_us = {
        "AddNoGrad": per_call_us(lambda: x + w),
        "AddRecording": per_call_us(lambda: x + wg),
        "TinyForwardBackward": per_call_us(tiny, n=5000),
    }
    ember_us = {}
    if len(sys.argv) > 1:
        with open(sys.argv[1]) as f:
            for b in json.load(f)["benchmarks"]:
                scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3}[b["time_unit"]]
                ember_us[b["name"]] = b["real_time"] * scale
    print(f"{'case':<22}{'PyTorch (us)':>14}{'ember (us)':>12}{'ember/PyTorch':>15}")
    for k, t in torch_us.items():
        e = ember_us.get(k)
        es = f"{e:12.3f}{e / t:15.3f}" if e is not None else f"{'-':>12}{'-':>15}"
        print(f"{k:<22}{t:14.3f}{es}")
    print("torch", torch.__version__)


if __name__ == "__main__":
    main()
