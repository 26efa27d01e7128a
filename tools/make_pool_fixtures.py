#!/usr/bin/env python3
"""Writes tests/fixtures/model/pool_ref.safetensors: the poolings of
sentence-transformers (mean, cls, max, mean_sqrt_len) and their gradients, the
reference tests/test_pool.c compares gl_pool_forward / gl_pool_backward with.

Run from the repository root:   python3 tools/make_pool_fixtures.py
Needs torch and safetensors; where sentence-transformers is installed, its own
Pooling module is run on the same input and must agree. Deterministic (fixed
seed); a second run writes the same bytes.

Input: hidden H (B=4, T=7, C=12), stored as F32 (the C side reads exactly these
values), its padding positions filled with +-100 so that a pooling that reads
them is far off; mask (B, T) with 7, 4, 1 and 2 real tokens (right-padded as
gloss pads). Reference, computed in float64 from the float32 values:
    mean[b]          = sum_t mask*H / max(n_b, 1e-9)
    mean_sqrt_len[b] = sum_t mask*H / sqrt(max(n_b, 1e-9))
    max[b, c]        = max over real tokens t of H[b, t, c]
    cls[b]           = H[b, 0]
and for each pooling P the gradient dP/dH contracted with a fixed random R
(B, C), drawn as float32 too: d_<name> (B, T, C) = autograd of sum(P * R) (max: all of R[b, c] on the
argmax token; the draws have no ties).

Tensors: hidden F32 (B,T,C), mask I64 (B,T), R F32 (B,C), <name> F64 (B,C),
d_<name> F64 (B,T,C) for name in mean, cls, max, mean_sqrt_len.
"""
import os

import torch
from safetensors.torch import save_file

PATH = "tests/fixtures/model/pool_ref.safetensors"


def poolings(h, mask):
    m = mask.unsqueeze(-1).to(h.dtype)
    n = m.sum(1).clamp(min=1e-9)
    s = (h * m).sum(1)
    return {
        "mean": s / n,
        "cls": h[:, 0],
        "max": h.masked_fill(m == 0, float("-inf")).max(1).values,
        "mean_sqrt_len": s / n.sqrt(),
    }


def cross_check_st(h, mask, ref):
    """sentence-transformers' Pooling on the same input (skipped where it is absent)."""
    try:
        from sentence_transformers.sentence_transformer.modules import Pooling  # 6.x
    except ImportError:
        try:
            from sentence_transformers.models import Pooling
        except ImportError:
            print("sentence-transformers not installed: its Pooling is not cross-checked")
            return
    names = {"mean": "mean", "cls": "cls", "max": "max", "mean_sqrt_len": "mean_sqrt_len_tokens"}
    for name, st_name in names.items():
        p = Pooling(h.shape[-1], pooling_mode=st_name)
        out = p({"token_embeddings": h, "attention_mask": mask})["sentence_embedding"]
        err = (out - ref[name]).abs().max().item()
        print(f"sentence-transformers Pooling({st_name}) vs reference: max abs {err:.1e}")
        assert err < 1e-12, name


def main():
    g = torch.Generator().manual_seed(20240611)
    B, T, C = 4, 7, 12
    lengths = [7, 4, 1, 2]
    mask = torch.zeros(B, T, dtype=torch.int64)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
    h32 = torch.randn(B, T, C, generator=g, dtype=torch.float32)
    pad = torch.where(torch.rand(B, T, C, generator=g) < 0.5, -100.0, 100.0).to(torch.float32)
    h32 = torch.where(mask.unsqueeze(-1) == 1, h32, pad)
    R32 = torch.randn(B, C, generator=g, dtype=torch.float32)
    R = R32.to(torch.float64)

    h = h32.to(torch.float64).requires_grad_(True)
    ref = poolings(h, mask)
    # no ties among the real tokens of a channel: the argmax (and max's gradient) is unique
    for b, n in enumerate(lengths):
        for c in range(C):
            col = h32[b, :n, c]
            assert (col == col.max()).sum() == 1
    out = {"hidden": h32, "mask": mask, "R": R32}
    for name, p in ref.items():
        (d,) = torch.autograd.grad((p * R).sum(), h, retain_graph=True)
        out[name] = p.detach()
        out["d_" + name] = d
    cross_check_st(h.detach(), mask, {k: v.detach() for k, v in ref.items()})
    # one metadata key: safetensors writes several in hash order, and the bytes must be reproducible
    save_file({k: v.contiguous() for k, v in out.items()}, PATH, metadata={"generator": "tools/make_pool_fixtures.py"})
    os.chmod(PATH, 0o644)
    print(f"wrote {PATH}")


if __name__ == "__main__":
    main()
