#!/usr/bin/env python3
"""Data-parallel training steps on 2 ranks of this machine: ember over MPI against
PyTorch's DistributedDataParallel over gloo, interleaved, with median ratios.

The work is bench_data_parallel's: forward, cross entropy, backward and SGD on
a 784-1024-1024-1024-1024-10 MLP at batch 64 per rank, each rank with
cores / ranks threads. Rows:
  local        no reduction (the compute alone)
  end          ember: every bucket sent after backward (no PyTorch row)
  overlap      buckets sent during backward, 25 MB buckets (both defaults)
  overlap_4mb  the same with 4 MB buckets (PyTorch: bucket_cap_mb=4)
ember's side is `mpiexec -n RANKS bench_data_parallel`; PyTorch's is this
script in --worker mode, started RANKS times by torch.multiprocessing. Debian's
PyTorch is run with OPENBLAS_CORETYPE set for this CPU, as in compare_cpu.py.

  benchmarks/compare_ddp.py [--build build/release] [--runs 5] [--ranks 2]
                            [--python /usr/bin/python3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_cpu import torch_env  # noqa: E402

ITERS = 20
MODES = ["local", "end", "overlap", "overlap_4mb"]


def torch_rank(rank, ranks, threads, port, out):
    import torch
    import torch.distributed as dist
    from torch import nn
    torch.set_num_threads(threads)
    os.environ["MASTER_ADDR"] = "127.0.0.1"
    os.environ["MASTER_PORT"] = str(port)
    dist.init_process_group("gloo", rank=rank, world_size=ranks)
    results = {}
    for mode, cap in (("local", None), ("overlap", 25), ("overlap_4mb", 4)):
        torch.manual_seed(0)
        layers = [nn.Linear(784, 1024), nn.ReLU()]
        for _ in range(3):
            layers += [nn.Linear(1024, 1024), nn.ReLU()]
        model = nn.Sequential(*layers, nn.Linear(1024, 10))
        net = model if cap is None else nn.parallel.DistributedDataParallel(model, bucket_cap_mb=cap)
        gen = torch.Generator().manual_seed(1 + rank)
        x = torch.randn(64, 784, generator=gen)
        y = torch.randint(0, 10, (64,), generator=gen)
        opt = torch.optim.SGD(net.parameters(), lr=1e-3)
        times = []
        for rep in range(4):  # the first is warm-up
            dist.barrier()
            t0 = time.perf_counter()
            for _ in range(ITERS):
                loss = nn.functional.cross_entropy(net(x), y)
                opt.zero_grad()
                loss.backward()
                opt.step()
            if rep:
                times.append((time.perf_counter() - t0) / ITERS * 1e3)
        results[mode] = statistics.median(times)
    dist.barrier()
    if rank == 0:
        with open(out, "w") as f:
            json.dump(results, f)
    dist.destroy_process_group()


def torch_worker(ranks, threads, port, out):
    import torch.multiprocessing as mp
    mp.spawn(torch_rank, args=(ranks, threads, port, out), nprocs=ranks, join=True)


def run_torch(python, ranks, threads, run):
    out = f"/tmp/compare_ddp_torch_{os.getpid()}.json"
    env = torch_env(threads)
    port = 29500 + (os.getpid() + run) % 1000
    subprocess.run([python, __file__, "--worker", "--ranks", str(ranks), "--threads", str(threads),
                    "--port", str(port), "--out", out], check=True, env=env)
    with open(out) as f:
        results = json.load(f)
    os.unlink(out)
    return results


def run_ember(build, ranks, threads):
    binary = os.path.join(build, "benchmarks", "bench_data_parallel")
    env = dict(os.environ, EMBER_NUM_THREADS=str(threads), OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    proc = subprocess.run(["mpiexec", "-n", str(ranks), binary, "--benchmark_format=json"], check=True, env=env,
                          capture_output=True, text=True)
    report = json.loads(proc.stdout)
    results = {}
    for b in report["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        mode = MODES[int(b["run_name"].split("mode:")[1].split("/")[0])]
        results[mode] = b["ms_per_step"] * 1e6  # the counter holds ms as "microseconds"
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build/release")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="threads per rank (default: cores / ranks)")
    ap.add_argument("--python", default="/usr/bin/python3", help="a Python with torch")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, default=29500, help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    threads = args.threads or max(1, (os.cpu_count() or 1) // args.ranks)
    if args.worker:
        torch_worker(args.ranks, threads, args.port, args.out)
        return
    ember_runs, torch_runs = [], []
    for run in range(args.runs):
        ember_runs.append(run_ember(args.build, args.ranks, threads))
        torch_runs.append(run_torch(args.python, args.ranks, threads, run))
        print(f"run {run + 1}/{args.runs}: ember {ember_runs[-1]}  torch {torch_runs[-1]}", file=sys.stderr)
    print(f"{args.ranks} ranks x {threads} threads, MLP 784-1024x4-10, batch 64 per rank, ms per step, "
          f"medians of {args.runs} runs")
    print(f"{'mode':<14}{'ember':>10}{'torch':>10}{'torch/ember':>13}")
    for mode in MODES:
        e = statistics.median(r[mode] for r in ember_runs)
        if mode in torch_runs[0]:
            t = statistics.median(r[mode] for r in torch_runs)
            print(f"{mode:<14}{e:>10.2f}{t:>10.2f}{t / e:>13.2f}")
        else:
            print(f"{mode:<14}{e:>10.2f}{'-':>10}{'-':>13}")


if __name__ == "__main__":
    main()
