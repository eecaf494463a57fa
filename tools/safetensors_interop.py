#!/usr/bin/env python3
"""Interop between ember's safetensors files and Python's safetensors (+ PyTorch).

Both sides hold the same spec (SPEC below and tests/nn/safetensors_interop_tool.cpp):
tensors of every dtype, 0-d, empty and multi-dim shapes, special float values,
and __metadata__. `run` checks both directions, value for value:
  1. Python writes the spec, ember loads it and checks it;
  2. ember writes the spec, Python loads it and checks it.
It uses safetensors.torch when torch is importable, else safetensors.numpy
(which has no bfloat16: that tensor is then left out on both sides, with a note).

Usage: tools/safetensors_interop.py run EMBER_TOOL   (the CTest test safetensors_interop)
       tools/safetensors_interop.py write|check PATH [--skip NAME]...
Exit status: 0 passed, 1 failed, 77 skipped (no safetensors here: tools/test.sh
installs it into build/venv, or `pip install safetensors numpy` in a venv).
"""
import math
import os
import subprocess
import sys
import tempfile

SKIPPED = 77
INF, NAN = float("inf"), float("nan")
# name, dtype, shape, row-major values (exactly representable in the dtype)
SPEC = [
    ("f32", "float32", [2, 4], [0.0, -0.0, 1.5, -2.25, 2.0**-149, 2.0**127, INF, NAN]),
    ("f64", "float64", [4], [0.1, -1e300, 2.0**-1074, -INF]),
    ("f16", "float16", [2, 2], [65504.0, -(2.0**-24), 1365 / 4096, -INF]),
    ("bf16", "bfloat16", [3], [3.140625, -(2.0**100), NAN]),
    ("i64", "int64", [2], [-(2**63), 2**63 - 1]),
    ("i32", "int32", [2, 2], [-(2**31), 2**31 - 1, 0, -7]),
    ("u8", "uint8", [4], [0, 1, 128, 255]),
    ("flags", "bool", [3], [True, False, True]),
    ("scalar", "float32", [], [2.5]),
    ("empty", "float32", [0, 3], []),
    ("empty_i64", "int64", [2, 0], []),
    ("layer.0.weight", "float32", [2, 3, 4], [i * 0.25 - 3 for i in range(24)]),
]
METADATA = {"format": "pt", "epoch": "3", "note": "ember \u2713 safetensors"}


def backend():
    """('torch', module) or ('numpy', module); None when safetensors is missing."""
    try:
        import safetensors  # noqa: F401
    except ImportError:
        return None
    try:
        import torch
        return "torch", torch
    except ImportError:
        pass
    try:
        import numpy
        return "numpy", numpy
    except ImportError:
        return None


def make_tensor(kind, mod, dtype, shape, values):
    floating = dtype.startswith(("float", "bfloat"))
    if kind == "torch":
        t = mod.tensor(values, dtype=mod.float64 if floating else getattr(mod, dtype))
        return t.to(getattr(mod, dtype)).reshape(shape)
    arr = mod.array(values, dtype=mod.float64 if floating else dtype)
    return arr.astype(dtype).reshape(shape)


def same_values(kind, mod, want, got):
    """A reason the tensors differ, or None: dtype, shape, then every value
    (NaN matches NaN, and -0.0 must stay -0.0)."""
    if want.dtype != got.dtype:
        return f"dtype {got.dtype}, expected {want.dtype}"
    if list(want.shape) != list(got.shape):
        return f"shape {list(got.shape)}, expected {list(want.shape)}"
    if kind == "torch":
        is_float = want.dtype.is_floating_point
        a, b = (want.to(mod.float64) if is_float else want).flatten().tolist(), \
               (got.to(mod.float64) if is_float else got).flatten().tolist()
    else:
        a, b = want.flatten().tolist(), got.flatten().tolist()
    for i, (x, y) in enumerate(zip(a, b)):
        if isinstance(x, float):
            ok = (math.isnan(x) and math.isnan(y)) or (x == y and math.copysign(1, x) == math.copysign(1, y))
        else:
            ok = x == y and type(x) is type(y)
        if not ok:
            return f"element {i} is {y!r}, expected {x!r}"
    return None


def spec_tensors(kind, mod, skip):
    return {name: make_tensor(kind, mod, dtype, shape, values)
            for name, dtype, shape, values in SPEC if name not in skip}


def write(kind, mod, path, skip):
    if kind == "torch":
        from safetensors.torch import save_file
    else:
        from safetensors.numpy import save_file
    save_file(spec_tensors(kind, mod, skip), path, metadata=METADATA)


def check(kind, mod, path, skip):
    """Loads path with Python's safetensors; returns a list of problems."""
    from safetensors import safe_open
    if kind == "torch":
        from safetensors.torch import load_file
    else:
        from safetensors.numpy import load_file
    got = load_file(path)
    want = spec_tensors(kind, mod, skip)
    problems = []
    if sorted(got) != sorted(want):
        problems.append(f"tensor names {sorted(got)}, expected {sorted(want)}")
    for name in sorted(set(got) & set(want)):
        reason = same_values(kind, mod, want[name], got[name])
        if reason:
            problems.append(f"tensor '{name}': {reason}")
    with safe_open(path, framework="pt" if kind == "torch" else "np") as f:
        if f.metadata() != METADATA:
            problems.append(f"metadata {f.metadata()}, expected {METADATA}")
    return problems


def run(tool):
    found = backend()
    if found is None:
        print(f"SKIPPED: Python's safetensors (with torch or numpy) is not importable from {sys.executable}; "
              "tools/test.sh installs it into build/venv (pip install safetensors numpy)")
        return SKIPPED
    kind, mod = found
    skip = [] if kind == "torch" else ["bf16"]
    print(f"safetensors interop through safetensors.{kind} ({sys.executable})")
    if skip:
        print("note: torch is not importable, so bfloat16 is left out (numpy has no bfloat16)")
    skip_args = [a for name in skip for a in ("--skip", name)]
    with tempfile.TemporaryDirectory(prefix="ember_interop_") as tmp:
        from_python = os.path.join(tmp, "from_python.safetensors")
        write(kind, mod, from_python, skip)
        ember_check = subprocess.run([tool, "check", from_python, *skip_args])
        print(f"python -> ember: {'ok' if ember_check.returncode == 0 else 'FAILED'}")

        from_ember = os.path.join(tmp, "from_ember.safetensors")
        ember_write = subprocess.run([tool, "write", from_ember, *skip_args])
        problems = check(kind, mod, from_ember, skip) if ember_write.returncode == 0 else ["ember could not write"]
        for p in problems:
            print(f"ember -> python: {p}")
        print(f"ember -> python: {'FAILED' if problems else 'ok'}")
    return 0 if ember_check.returncode == 0 and not problems else 1


def main(argv):
    if len(argv) == 2 and argv[0] == "run":
        return run(argv[1])
    if len(argv) >= 2 and argv[0] in ("write", "check") and argv[2::2] == ["--skip"] * len(argv[2::2]):
        found = backend()
        if found is None:
            print("safetensors is not importable", file=sys.stderr)
            return SKIPPED
        skip = argv[3::2]
        if argv[0] == "write":
            write(*found, argv[1], skip)
            return 0
        problems = check(*found, argv[1], skip)
        for p in problems:
            print(p)
        return 1 if problems else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
