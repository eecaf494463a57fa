#!/usr/bin/env python3
"""Runs the same GPU workloads in ember and PyTorch, interleaved, and prints median ratios.

ember's side is the bench_cuda binary (see its header for the workloads and
how they are timed); PyTorch's is this script in --worker mode, which times
the same work the same way: CUDA events around batches of back-to-back calls
of about 2 ms on the current stream, mean time per call; host cost per eager
op as host time for batches of 100 launches with the stream drained between
batches. TF32 is off on both sides (ember's default; PyTorch's matmul default,
and set for cuDNN here), so float32 is compared with float32.

Columns: ember and PyTorch microseconds per call; speedup = PyTorch time /
ember time (> 1: ember faster); ember's bandwidth as % of the device-to-device
copy ceiling measured by bench_cuda in the same run (PyTorch's likewise, for
the same bytes); TFLOP/s for GEMMs and
convolutions. Batch norm rows time training forward + backward; PyTorch's side
is its native batch-norm kernels (aten native_batch_norm and its backward). The goals checked (issue "CUDA backend"): elementwise and
reduction kernels >= 80% of the copy bandwidth; GEMM speedup >= 0.95; host
cost per eager op <= 5 us.

  benchmarks/compare_gpu.py [--build build/gpu-release] [--runs 3] [--seconds 0.3]
                            [--python python3] [--markdown results.md]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

TIMEOUT_S = 540  # per process: a hang must not eat a GPU session

MEMORY_KERNELS = {  # name: working-set bytes per element (every tensor the op touches)
    "copy": 8, "add": 12, "relu": 8, "sum": 4, "softmax": 8, "layer_norm": 8, "adam": 16,
}
MEMORY_MIB = [256, 1024]
ROW = 1024
GEMM_SIZES = [1024, 2048, 4096, 8192]
LINEAR_SIZES = [1024, 4096]
LINEAR_ROWS = 8192
GEMM_DTYPES = ["float32", "bfloat16", "float16"]
CONV_CASES = {"CnnConv2": (128, 32, 64, 14), "ResNet": (32, 64, 64, 56)}  # batch, in, out, size
BN_CASES = {"ResNet": (32, 64, 56, 56)}  # training batch norm, forward + backward
HOST_BATCH = 100


# ---- PyTorch worker ----------------------------------------------------------------------

def torch_worker(seconds, smoke):
    """Times every workload in PyTorch; returns {key: microseconds per call}.

    smoke: tiny sizes on the CPU with a host clock, to check this script's
    PyTorch code on a machine without a GPU (the numbers mean nothing).
    """
    import torch
    import torch.nn.functional as F
    dev = "cpu" if smoke else "cuda"
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):  # PyTorch >= 2.9: allow_tf32 is deprecated
        torch.backends.cuda.matmul.fp32_precision = "ieee"
        torch.backends.cudnn.conv.fp32_precision = "ieee"
    else:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)

    def sync():
        if not smoke:
            torch.cuda.synchronize()

    class Timer:  # CUDA events, or the host clock in smoke mode
        def __init__(self):
            if not smoke:
                self.a, self.b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)

        def start(self):
            if smoke:
                self.t0 = time.perf_counter()
            else:
                self.a.record()

        def stop(self):
            if smoke:
                return time.perf_counter() - self.t0
            self.b.record()
            self.b.synchronize()
            return self.a.elapsed_time(self.b) * 1e-3

    def gpu_us(fn):
        t = Timer()
        fn()
        t.start()
        fn()
        one = max(t.stop(), 1e-7)
        reps = int(min(max(2e-3 / one, 1), 10000))
        total, calls, end = 0.0, 0, time.perf_counter() + seconds
        while time.perf_counter() < end or calls < 3 * reps:
            t.start()
            for _ in range(reps):
                fn()
            total += t.stop()
            calls += reps
        return total / calls * 1e6

    out = {}
    mib = [4] if smoke else MEMORY_MIB
    for name, ws in MEMORY_KERNELS.items():
        for w in mib:
            n = (w << 20) // ws // ROW * ROW
            a = torch.randn(n // ROW, ROW, device=dev)
            b = torch.randn(n // ROW, ROW, device=dev) if name in ("copy", "add", "adam") else None
            if name == "copy":
                fn = lambda a=a, b=b: b.copy_(a)
            elif name == "add":
                fn = lambda a=a, b=b: a + b
            elif name == "relu":
                fn = lambda a=a: torch.relu(a)
            elif name == "sum":
                fn = lambda a=a: a.sum()
            elif name == "softmax":
                fn = lambda a=a: torch.softmax(a, -1)
            elif name == "layer_norm":
                weight, bias = torch.ones(ROW, device=dev), torch.zeros(ROW, device=dev)
                fn = lambda a=a, weight=weight, bias=bias: F.layer_norm(a, (ROW,), weight, bias)
            else:  # adam: one fused step of one parameter, as ember's adam_step_
                p = a.clone().requires_grad_()
                p.grad = b
                opt = torch.optim.Adam([p], lr=3e-4, fused=True)
                fn = opt.step
            out[f"{name}/{w}"] = gpu_us(fn)
            del a, b
            fn = None
    for dt in GEMM_DTYPES:
        dtype = getattr(torch, dt)
        for n in ([256] if smoke else GEMM_SIZES):
            a, w = torch.randn(n, n, device=dev, dtype=dtype), torch.randn(n, n, device=dev, dtype=dtype)
            out[f"mm/{dt}/{n}"] = gpu_us(lambda: torch.mm(a, w))
        for n in ([256] if smoke else LINEAR_SIZES):
            rows = 64 if smoke else LINEAR_ROWS
            a = torch.randn(rows, n, device=dev, dtype=dtype)
            w, bias = torch.randn(n, n, device=dev, dtype=dtype), torch.randn(n, device=dev, dtype=dtype)
            out[f"linear/{dt}/{n}"] = gpu_us(lambda: F.linear(a, w, bias))
    for name, (batch, c, o, hw) in CONV_CASES.items():
        batch = 2 if smoke else batch
        x = torch.randn(batch, c, hw, hw, device=dev)
        w = torch.randn(o, c, 3, 3, device=dev) * 0.1
        bias = torch.zeros(o, device=dev)
        go = torch.randn(batch, o, hw, hw, device=dev)

        def fwd():
            return F.conv2d(x, w, bias, padding=1)

        def fwd_bwd():
            F.conv2d(x, w, bias, padding=1)
            return torch.ops.aten.convolution_backward(go, x, w, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1,
                                                       [True, True, False])

        out[f"conv/{name}/fwd"] = gpu_us(fwd)
        out[f"conv/{name}/fwd_bwd"] = gpu_us(fwd_bwd)
    for name, shape in BN_CASES.items():
        shape = (4, shape[1], 8, 8) if smoke else shape
        x, go = torch.randn(*shape, device=dev), torch.randn(*shape, device=dev)
        c = shape[1]
        weight, bias = torch.ones(c, device=dev), torch.zeros(c, device=dev)
        rm, rv = torch.zeros(c, device=dev), torch.ones(c, device=dev)

        def bn_fwd_bwd():
            _, mean, invstd = torch.ops.aten.native_batch_norm(x, weight, bias, rm, rv, True, 0.1, 1e-5)
            return torch.ops.aten.native_batch_norm_backward(go, x, weight, rm, rv, mean, invstd, True, 1e-5,
                                                             [True, True, True])

        # One PyTorch time for both ember rows (cuDNN and ember's own kernels).
        out[f"batch_norm/{name}/fwd_bwd"] = out[f"batch_norm_ember/{name}/fwd_bwd"] = gpu_us(bn_fwd_bwd)
    a, b = torch.randn(1024, device=dev), torch.randn(1024, device=dev)
    total, ops, end = 0.0, 0, time.perf_counter() + seconds
    for _ in range(HOST_BATCH):
        a + b
    sync()
    while time.perf_counter() < end or ops < 10 * HOST_BATCH:
        t0 = time.perf_counter()
        for _ in range(HOST_BATCH):
            a + b
        total += time.perf_counter() - t0
        sync()
        ops += HOST_BATCH
    out["host/add_small"] = total / ops * 1e6
    name = "cpu (smoke)" if smoke else torch.cuda.get_device_name()
    return {"version": torch.__version__, "device": name, "us": out}


# ---- ember side ---------------------------------------------------------------------------

def run_ember(build, seconds):
    """bench_cuda's rows: {key: counters}, key as the worker's."""
    path = os.path.join(build, "benchmarks", "bench_cuda")
    try:
        proc = subprocess.run([path, "--benchmark_format=json", f"--benchmark_min_time={seconds}"],
                              capture_output=True, text=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        sys.exit(f"{path} did not finish within {TIMEOUT_S} s")
    try:
        rows = json.loads(proc.stdout)["benchmarks"] if proc.stdout.strip() else []
    except (ValueError, KeyError):
        rows = []
    if proc.returncode != 0:
        print(f"{path} failed (exit {proc.returncode}):\n{proc.stderr[-2000:]}", file=sys.stderr)
    if not rows:
        sys.exit(f"{path} measured nothing (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    out = {}
    for b in rows:
        key = re.sub(r"MiB:|/iterations:\d+", "", b["name"].replace("/manual_time", ""))
        if b.get("error_occurred"):  # one workload failed (bench_cuda's guarded()): report it, keep the rest
            out[key] = {"error": b.get("error_message", "error")}
            print(f"{key}: {out[key]['error']}", file=sys.stderr)
            continue
        out[key] = {k: b[k] for k in ("us", "GBps", "pct_copy", "TFLOPs") if k in b}
    return out


def goal(key, ember, speedup):
    """(goal text, met) for a row, or None."""
    family = key.split("/")[0]
    if family in MEMORY_KERNELS:
        pct = ember.get("pct_copy", float("nan"))
        return ">= 80% of copy", pct >= 80
    if family in ("mm", "linear"):
        return "speedup >= 0.95", speedup >= 0.95
    if key == "host/add_small":
        return "<= 5 us", ember["us"] <= 5
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build/gpu-release", help="ember CUDA build folder (with bench_cuda)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seconds", type=float, default=0.3, help="minimum time per measurement")
    ap.add_argument("--python", default=sys.executable, help="a Python with a CUDA build of torch")
    ap.add_argument("--markdown", help="also write the table as Markdown to this file")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--smoke", action="store_true", help="worker only: tiny sizes on the CPU, to check the script")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(torch_worker(args.seconds, args.smoke)))
        return

    ember_runs, torch_runs, info = [], [], {}
    for r in range(args.runs):
        try:
            proc = subprocess.run([args.python, os.path.abspath(__file__), "--worker", "--seconds", str(args.seconds)],
                                  capture_output=True, text=True, timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            sys.exit(f"torch worker under {args.python} did not finish within {TIMEOUT_S} s")
        if proc.returncode != 0:
            sys.exit(f"torch worker under {args.python} failed:\n{proc.stderr[-3000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        info = {"torch": result["version"], "device": result["device"]}
        torch_runs.append(result["us"])
        ember_runs.append(run_ember(args.build, args.seconds))
        print(f"# run {r + 1}/{args.runs} done", file=sys.stderr, flush=True)

    def med(values):
        values = [v for v in values if v is not None]
        return statistics.median(values) if values else float("nan")

    lines = [f"device: {info['device']}; torch {info['torch']}; medians of {args.runs} interleaved runs; "
             f"speedup = PyTorch time / ember time (> 1: ember faster); TF32 off on both sides",
             "",
             "| workload | ember us | torch us | speedup | ember % of copy | torch % of copy | ember TFLOP/s | goal | met |",
             "|---|---|---|---|---|---|---|---|---|"]
    for key in ember_runs[0]:
        if "error" in ember_runs[0][key]:
            lines.append(f"| {key} | error: {ember_runs[0][key]['error'][:120]} | | | | | | | |")
            continue
        ember = {c: med([run.get(key, {}).get(c) for run in ember_runs]) for c in ember_runs[0][key]}
        t = med([run.get(key) for run in torch_runs])
        speedup = t / ember["us"] if key in torch_runs[0] else float("nan")
        g = goal(key, ember, speedup)
        pct = f"{ember['pct_copy']:.0f}" if "pct_copy" in ember else ""
        # The same bytes move on both sides, so PyTorch's share scales with the time ratio.
        tpct = f"{ember['pct_copy'] * ember['us'] / t:.0f}" if "pct_copy" in ember and key in torch_runs[0] else ""
        if key.startswith("copy_ceiling"):
            pct = f"{ember['GBps']:.0f} GB/s"
        tf = f"{ember['TFLOPs']:.1f}" if "TFLOPs" in ember else ""
        ts = f"{t:.2f}" if key in torch_runs[0] else ""
        sp = f"{speedup:.2f}" if key in torch_runs[0] else ""
        lines.append(f"| {key} | {ember['us']:.2f} | {ts} | {sp} | {pct} | {tpct} | {tf} | "
                     f"{g[0] if g else ''} | {('yes' if g[1] else 'NO') if g else ''} |")
    print("\n".join(lines))
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
