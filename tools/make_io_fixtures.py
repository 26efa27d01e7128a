#!/usr/bin/env python3
"""Writes the small fixtures tests/test_io.c checks against, into tests/fixtures/io/.

  dtypes.safetensors     F16 / BF16 / F64 / I32 / U8 / I64 tensors with awkward
                         values (subnormals, +-inf, nan, +-0, extreme normals),
                         each next to "<name>.expected": the values PyTorch gets
                         converting them to float32 (int64 for integer tensors).
                         Written with the reference `safetensors` package.
  reference.safetensors  F32 tensors + metadata saved by `safetensors`; the C
                         writer must produce the same bytes for the same input.
  reference_2d.npy       numpy.save of a (2, 3) float32 array; the C writer must
                         produce the same bytes.
  reference_1d.npy       numpy.save of a (5,) float32 array, for the reader.

Run from the repository root:  python3 tools/make_io_fixtures.py
Needs numpy, torch and safetensors (pip). The outputs are committed so the
tests need no Python.
"""
import os

import numpy as np
import torch
from safetensors.torch import save_file

OUT = os.path.join("tests", "fixtures", "io")


def from_bits(bits, torch_dtype):
    """A 1-D tensor of 16-bit floats given their raw bit patterns."""
    raw = np.array(bits, dtype=np.uint16).view(np.int16)
    return torch.from_numpy(raw.copy()).view(torch_dtype)


def f16_values():
    bits = [
        0x0000, 0x8000,          # +0, -0
        0x0001, 0x8001,          # smallest subnormal 2^-24, negated
        0x0002, 0x0155, 0x03FF,  # subnormals up to the largest, 2^-14 - 2^-24
        0x83FF,
        0x0400, 0x8400,          # smallest normal 2^-14
        0x3C00, 0xBC00,          # +-1
        0x3555,                  # ~1/3
        0x7BFF, 0xFBFF,          # +-65504, largest finite
        0x7C00, 0xFC00,          # +-inf
        0x7E00, 0xFE00,          # quiet nan, negative nan
        0x7C01, 0x7FFF,          # signalling nan, nan with full payload
    ]
    extra = torch.tensor([0.1, -2.5, 1e-5, 6e-8, 3.0e4, -1e-7, 1234.5], dtype=torch.float16)
    return torch.cat([from_bits(bits, torch.float16), extra])


def bf16_values():
    bits = [
        0x0000, 0x8000,          # +0, -0
        0x0001, 0x8001,          # smallest subnormal 2^-133
        0x0040, 0x007F,          # subnormals, largest is 2^-126 - 2^-133
        0x0080, 0x8080,          # smallest normal 2^-126
        0x3F80, 0xBF80,          # +-1
        0x3EAB,                  # ~1/3
        0x7F7F, 0xFF7F,          # largest finite ~3.39e38
        0x7F80, 0xFF80,          # +-inf
        0x7FC0, 0xFFC0,          # nan, negative nan
        0x7F81,                  # signalling nan
    ]
    extra = torch.tensor([0.1, -2.5, 1e-40, 1e30, -1e-30, 65504.0], dtype=torch.bfloat16)
    return torch.cat([from_bits(bits, torch.bfloat16), extra])


def check_same(a, b, what):
    """Bitwise equality of two float32 arrays, nan matching any nan."""
    a = np.asarray(a, dtype=np.float32)
    b = np.asarray(b, dtype=np.float32)
    both_nan = np.isnan(a) & np.isnan(b)
    same = (a.view(np.uint32) == b.view(np.uint32)) | both_nan
    assert same.all(), f"{what}: torch and numpy disagree"


def main():
    os.makedirs(OUT, exist_ok=True)

    f16 = f16_values()
    f16_exp = f16.to(torch.float32)
    check_same(f16_exp.numpy(), f16.numpy().astype(np.float32), "f16")

    bf16 = bf16_values()
    bf16_exp = bf16.to(torch.float32)
    # independent check: a bfloat16 is the top 16 bits of a float32
    top = bf16.view(torch.int16).numpy().view(np.uint16).astype(np.uint32) << 16
    check_same(bf16_exp.numpy(), top.view(np.float32), "bf16")

    f64 = torch.tensor([0.0, -0.0, 1.0 / 3.0, 1e-310, 1e300, -1e-45, 3.4028235677973366e38,
                        float("inf"), float("-inf"), float("nan"), 0.1, -7.25], dtype=torch.float64)
    i32 = torch.tensor([0, 1, -1, 2**31 - 1, -(2**31), 123456], dtype=torch.int32)
    u8 = torch.tensor([0, 1, 127, 128, 255], dtype=torch.uint8)
    i64 = torch.tensor([0, -1, 2**63 - 1, -(2**63), 2**40 + 7], dtype=torch.int64)

    tensors = {
        "f16": f16, "f16.expected": f16_exp,
        "bf16": bf16, "bf16.expected": bf16_exp,
        "f64": f64, "f64.expected": f64.to(torch.float32),
        "i32": i32, "i32.expected": i32.to(torch.int64),
        "u8": u8, "u8.expected": u8.to(torch.int64),
        "i64": i64,
        "f16_matrix": torch.arange(6, dtype=torch.float16).reshape(2, 3) - 2.5,
        "f32_scalar": torch.tensor(4.5, dtype=torch.float32),
        "f32_empty": torch.zeros((2, 0), dtype=torch.float32),
    }
    save_file(tensors, os.path.join(OUT, "dtypes.safetensors"), metadata={"made_by": "make_io_fixtures.py"})

    # Reference bytes for the C writer. safetensors orders tensors by dtype
    # alignment then name; with F32 only that is name order, which the C test uses.
    ref = {
        "a.weight": torch.tensor([[1.0, -2.0, 3.5], [0.25, -0.0, 1e-3]], dtype=torch.float32),
        "b.bias": torch.tensor([7.0, 8.0], dtype=torch.float32),
        "c.scalar": torch.tensor(-1.5, dtype=torch.float32),
    }
    save_file(ref, os.path.join(OUT, "reference.safetensors"), metadata={"format": "pt"})

    np.save(os.path.join(OUT, "reference_2d.npy"),
            np.array([[1.0, -2.0, 3.5], [0.25, -0.0, 1e-3]], dtype="<f4"))
    np.save(os.path.join(OUT, "reference_1d.npy"), np.array([1.5, -2.0, 0.0, 1e-20, 3e20], dtype="<f4"))

    for name in sorted(os.listdir(OUT)):
        print(f"{os.path.join(OUT, name)}: {os.path.getsize(os.path.join(OUT, name))} bytes")


if __name__ == "__main__":
    main()
