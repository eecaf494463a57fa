#!/usr/bin/env python3
"""Runs the same CPU workloads in ember and PyTorch, interleaved, and prints median ratios.

Workloads: SGEMM m=n=k in {256, 512, 1024, 2048}; bfloat16 GEMM at 256 and
1024; conv2d forward, backward and forward+backward on the Fashion-MNIST CNN's
two layers, a ResNet block and a ResNet downsampling (stride 2) layer; one training step (forward, cross entropy,
backward, Adam) of the Fashion-MNIST MLP and CNN at batch 128, also under
bfloat16 autocast; one MLP epoch over 10240 examples through a shuffling
DataLoader (ember: in a Learner and in a hand loop; PyTorch: its DataLoader and
loop). ember's side is its Google Benchmark binaries
(bench_gemm, bench_conv, bench_train_step); PyTorch's is this script in
--worker mode, run under each Python given. Each run alternates the two, so
both see the same machine conditions; medians over --runs runs are reported.

Debian's PyTorch (python3-torch, importable only from /usr/bin/python3) uses
OpenBLAS, which misdetects some CPUs: the worker is started with
OPENBLAS_CORETYPE set for this CPU (SkylakeX with AVX-512, else Haswell) and
with the thread count fixed, so the comparison does not flatter ember.

  benchmarks/compare_cpu.py [--build build/release] [--runs 5] [--threads 2]
                            [--python /usr/bin/python3] [--python venv/bin/python ...]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

GEMM_SIZES = [256, 512, 1024, 2048]
BF16_GEMM_SIZES = [256, 1024]  # the sizes of bench_gemm's BF16GEMM rows
CONV_CASES = {  # name: (batch, in channels, out channels, size, input requires grad, stride)
    "CnnConv1": (128, 1, 32, 28, False, 1),
    "CnnConv2": (128, 32, 64, 14, True, 1),
    "ResNet": (32, 64, 64, 56, True, 1),
    "ResNetDown": (32, 64, 128, 56, True, 2),
}


# ---- PyTorch worker ----------------------------------------------------------------------

def torch_worker(threads, seconds):
    import torch
    from torch import nn
    torch.set_num_threads(threads)
    results = {}

    def timeit(fn, min_seconds=seconds, min_iters=3):
        fn()  # warm
        times = []
        start = time.perf_counter()
        while time.perf_counter() - start < min_seconds or len(times) < min_iters:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return statistics.median(times) * 1e3

    torch.manual_seed(0)
    for n in GEMM_SIZES:
        a, b = torch.randn(n, n), torch.randn(n, n)
        results[f"SGEMM/{n}"] = timeit(lambda: torch.mm(a, b))
    for n in BF16_GEMM_SIZES:
        a, b = torch.randn(n, n).bfloat16(), torch.randn(n, n).bfloat16()
        results[f"BF16GEMM/{n}"] = timeit(lambda: torch.mm(a, b))
    for name, (batch, c, o, hw, input_grad, stride) in CONV_CASES.items():
        x = torch.randn(batch, c, hw, hw, requires_grad=input_grad)
        w = (torch.randn(o, c, 3, 3) * 0.1).requires_grad_()
        bias = torch.zeros(o, requires_grad=True)
        ohw = (hw - 1) // stride + 1
        go = torch.randn(batch, o, ohw, ohw)

        def fwd():
            with torch.no_grad():
                torch.nn.functional.conv2d(x, w, bias, stride=stride, padding=1)

        def fwd_bwd():
            y = torch.nn.functional.conv2d(x, w, bias, stride=stride, padding=1)
            y.backward(go)
            w.grad = None
            bias.grad = None
            x.grad = None

        results[f"Conv2d/{name}/fwd"] = timeit(fwd)
        results[f"Conv2d/{name}/fwd_bwd"] = timeit(fwd_bwd)

    def mlp():
        return nn.Sequential(nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 10))

    def cnn():
        return nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))

    for name, make, amp in (("MlpStep", mlp, False), ("CnnStep", cnn, False), ("MlpStepBf16", mlp, True), ("CnnStepBf16", cnn, True)):
        torch.manual_seed(0)
        model = make()
        x, y = torch.randn(128, 1, 28, 28), torch.randint(0, 10, (128,))
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)

        def step():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
                loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss.item()

        results[name] = timeit(step, min_seconds=2 * seconds, min_iters=10)

    # One MLP epoch over 10240 examples through torch's DataLoader (shuffled, batch 128), as users write it.
    torch.manual_seed(0)
    model = mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    data = torch.utils.data.TensorDataset(torch.randn(10240, 1, 28, 28), torch.randint(0, 10, (10240,)))
    loader = torch.utils.data.DataLoader(data, batch_size=128, shuffle=True)

    def epoch():
        for x, y in loader:
            loss = nn.functional.cross_entropy(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()

    results["MlpEpoch"] = timeit(epoch, min_seconds=3 * seconds, min_iters=3)
    return {"version": torch.__version__, "threads": torch.get_num_threads(), "ms": results}


# ---- ember side ---------------------------------------------------------------------------

def run_ember(build, threads, seconds):
    env = dict(os.environ, EMBER_NUM_THREADS=str(threads))
    out = {}
    isa = None
    for binary, extra in (("bench_gemm", []), ("bench_conv", []), ("bench_train_step", [])):
        path = os.path.join(build, "benchmarks", binary)
        args = [path, "--benchmark_format=json", f"--benchmark_min_time={seconds}"] + extra
        if binary == "bench_gemm":
            args.append("--benchmark_filter=(SGEMM|BF16GEMM)/avx[0-9]+/A_B/")  # the vector paths; the scalar one is a reference
        proc = subprocess.run(args, env=env, capture_output=True, text=True, check=True)
        for b in json.loads(proc.stdout)["benchmarks"]:
            name = b["name"].replace("/real_time", "")
            ms = b["real_time"] * {"ms": 1.0, "us": 1e-3, "ns": 1e-6, "s": 1e3}[b["time_unit"]]
            if binary == "bench_gemm":  # (SGEMM|BF16GEMM)/<isa>/A_B/<n>[/options]: keep the best ISA path
                kind, path_isa, n = name.split("/")[0], name.split("/")[1], name.split("/")[3]
                key = f"{kind}/{n}"
                if key not in out or ms < out[key]:
                    out[key] = ms
                    if kind == "SGEMM":
                        isa = path_isa
            elif binary == "bench_train_step":
                out[name.split("/")[0].replace("BM_", "")] = ms
            else:
                out[name] = ms
    return out, isa


def cpu_has_avx512():
    try:
        with open("/proc/cpuinfo") as f:
            return " avx512f" in f.read()
    except OSError:
        return False


def openblas_coretype():
    return "SkylakeX" if cpu_has_avx512() else "Haswell"


def torch_env(threads):
    """The environment for a PyTorch process: OpenBLAS told this CPU, every thread count fixed."""
    return dict(os.environ, OPENBLAS_CORETYPE=openblas_coretype(), OMP_NUM_THREADS=str(threads),
                OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build/release", help="ember build folder with the benchmark binaries")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=0.5, help="minimum time per measurement")
    ap.add_argument("--python", action="append", help="a Python with torch (repeatable; default /usr/bin/python3)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(torch_worker(args.threads, args.seconds)))
        return

    pythons = args.python or ["/usr/bin/python3"]
    coretype = openblas_coretype()
    worker_env = torch_env(args.threads)
    for py in pythons:
        cfg = subprocess.run([py, "-c", "import torch; print(torch.__version__); print(torch.__config__.show())"],
                             env=worker_env, capture_output=True, text=True)
        print(f"# {py}: torch {cfg.stdout.strip() if cfg.returncode == 0 else 'not importable: ' + cfg.stderr.strip()[-200:]}")
    print(f"# OPENBLAS_CORETYPE={coretype}, threads={args.threads}, runs={args.runs}, load average {os.getloadavg()}")

    ember_runs, torch_runs = [], {py: [] for py in pythons}
    isa = None
    for r in range(args.runs):
        for py in pythons:
            proc = subprocess.run([py, os.path.abspath(__file__), "--worker", "--threads", str(args.threads),
                                   "--seconds", str(args.seconds)], env=worker_env, capture_output=True, text=True)
            if proc.returncode != 0:
                sys.exit(f"torch worker under {py} failed:\n{proc.stderr}")
            torch_runs[py].append(json.loads(proc.stdout.strip().splitlines()[-1])["ms"])
        ms, isa = run_ember(args.build, args.threads, args.seconds)
        ember_runs.append(ms)
        print(f"# run {r + 1}/{args.runs} done", file=sys.stderr, flush=True)

    def median(runs, key):
        vals = [run[key] for run in runs if key in run]
        return statistics.median(vals) if vals else float("nan")

    def torch_key(k):  # both ember epochs (Learner, hand loop) compare with torch's one epoch loop
        return "MlpEpoch" if k.startswith("MlpEpoch") else k

    keys = [k for k in ember_runs[0] if any(torch_key(k) in t[0] for t in torch_runs.values())]
    header = f"{'workload':<26}{'ember ms':>10}"
    for i, py in enumerate(pythons):
        header += f"{'torch' + str(i) + ' ms':>11}{'speedup' + str(i):>10}"
    print(f"\n# ember ISA path: {isa}; speedup = PyTorch time / ember time (> 1: ember faster)")
    for i, py in enumerate(pythons):
        print(f"# torch{i}: {py}")
    print(header)
    for k in keys:
        e = median(ember_runs, k)
        line = f"{k:<26}{e:>10.3f}"
        for py in pythons:
            t = median(torch_runs[py], torch_key(k))
            line += f"{t:>11.3f}{t / e:>10.2f}"
        if k.startswith("SGEMM/"):
            n = int(k.split("/")[1])
            line += f"   ember {2 * n ** 3 / (e * 1e-3) * 1e-9:.0f} GFLOP/s"
        print(line)


if __name__ == "__main__":
    main()
