#!/usr/bin/env python3
"""Writes the hand-made seed corpus of the safetensors fuzz target.

Valid files (several dtypes, 0-d and empty tensors, metadata, padding) and
files with one thing wrong each, all a few hundred bytes at most. Inputs the
fuzzer finds later are merged into the same folder (docs/BUILDING.md); they
keep libFuzzer's hash names, these keep readable ones.

Usage: tests/fuzz/make_seed_corpus.py [FOLDER]   (default: corpus/safetensors beside this file)
"""
import json
import os
import struct
import sys


def container(header, data=b"", pad=True):
    """8-byte little-endian length, header bytes (str/dict), data."""
    if isinstance(header, dict):
        header = json.dumps(header, separators=(",", ":"))
    raw = header.encode() if isinstance(header, str) else header
    if pad:
        raw += b" " * (-len(raw) % 8)
    return struct.pack("<Q", len(raw)) + raw + data


def tensors(*entries, metadata=None):
    """entries: (name, dtype, shape, data bytes); offsets follow in order."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    return container(header, data)


def one(dtype="F32", shape=(1,), offsets=(0, 4), data=b"\0\0\x80\x3f", **extra):
    return container({"a": {"dtype": dtype, "shape": list(shape), "data_offsets": list(offsets), **extra}}, data)


VALID = {
    "f32_matrix_metadata": tensors(("w", "F32", [2, 3], struct.pack("<6f", 1, -2, 0.5, 0, -0.0, 3e38)),
                                   metadata={"format": "pt", "epoch": "3"}),
    "every_dtype": tensors(("f64", "F64", [2], struct.pack("<2d", 1.5, float("nan"))),
                           ("f16", "F16", [2], struct.pack("<2H", 0x3C00, 0x7C00)),
                           ("bf16", "BF16", [2], struct.pack("<2H", 0x3F80, 0xFF80)),
                           ("i64", "I64", [2], struct.pack("<2q", -2**63, 2**63 - 1)),
                           ("i32", "I32", [1, 2], struct.pack("<2i", -7, 2**31 - 1)),
                           ("u8", "U8", [3], bytes([0, 128, 255])),
                           ("flags", "BOOL", [2], bytes([0, 1]))),
    "scalar_0d": tensors(("s", "F64", [], struct.pack("<d", 2.5))),
    "empty_tensors": tensors(("e", "F32", [0, 4], b""), ("z", "I64", [3, 0, 2], b""), ("x", "U8", [1], b"\7")),
    "no_tensors": container({}),
    "metadata_only": container({"__metadata__": {"k": "v", "unicode": "\u00e9\u2713"}}),
    "unpadded_header": container('{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}', b"ab", pad=False),
    "reversed_order": container({"b": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]},
                                 "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, b"xy"),
    "extra_entry_field": one(extra={"note": 1}),
}

INVALID = {
    "too_short": b"\4\0\0",
    "header_over_limit": b"\xff" * 8 + b"{}",
    "header_past_end": struct.pack("<Q", 64) + b"{}",
    "bad_json": container("{not json"),
    "truncated_json": container('{"a":{"dtype":"F32"'),
    "json_array": container("[1,2]"),
    "nul_in_header": container('{"a\0":1}'),
    "invalid_utf8_key": container(b'{"\xff\xfe":{}}'),
    "duplicate_key": container('{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                               '"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"x"),
    "deep_nesting": container('{"a":' + "[" * 40 + "]" * 40 + "}"),
    "entry_not_object": container('{"a":[]}'),
    "missing_shape": container({"a": {"dtype": "F32", "data_offsets": [0, 4]}}, b"1234"),
    "unknown_dtype": one(dtype="F8_E4M3"),
    "dtype_not_string": one(dtype=3),
    "negative_dim": one(shape=(-1,)),
    "float_dim": one(shape=(1.0,)),
    "shape_not_array": container({"a": {"dtype": "U8", "shape": 1, "data_offsets": [0, 1]}}, b"x"),
    "huge_dims_with_zero": one(shape=(0, 2**62, 2**62), offsets=(0, 0), data=b""),
    "shape_overflows": one(shape=(2**40, 2**40), offsets=(0, 4)),
    "dim_over_int64": one(shape=(0, 2**64 - 1), offsets=(0, 0), data=b""),
    "size_mismatch": one(shape=(2,)),
    "offsets_past_end": one(offsets=(0, 8)),
    "offsets_reversed": one(offsets=(4, 0)),
    "offsets_three": one(offsets=(0, 2, 4)),
    "offsets_negative": one(offsets=(-4, 0)),
    "overlap": container({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                          "b": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}, b"abcdef"),
    "hole": container({"a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}, b"xy"),
    "trailing_bytes": one(data=b"\0\0\x80\x3f!!"),
    "bool_byte_not_0_or_1": one(dtype="BOOL", offsets=(0, 1), data=b"\7"),
    "metadata_not_string": container({"__metadata__": {"epoch": 3}}),
    "metadata_not_object": container({"__metadata__": "pt"}),
}


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "safetensors")
    os.makedirs(folder, exist_ok=True)
    for prefix, group in (("valid", VALID), ("bad", INVALID)):
        for name, data in group.items():
            with open(os.path.join(folder, f"{prefix}_{name}.safetensors"), "wb") as f:
                f.write(data)
    print(f"wrote {len(VALID)} valid and {len(INVALID)} invalid seeds to {folder}")


if __name__ == "__main__":
    main()
