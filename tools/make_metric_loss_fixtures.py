#!/usr/bin/env python3
"""Writes tests/fixtures/metric_losses/cases.safetensors: float64 PyTorch
reference values and gradients of the three baseline metric losses of
src/loss/metric_losses.h, for tests/test_metric_losses.c.

Run from the repository root:   python3 tools/make_metric_loss_fixtures.py
Needs torch and safetensors. Deterministic (fixed seed; the file is written
by a small sorted-key writer, so reruns are byte-identical), about 10 s on CPU.
Optionally cross-checks against sentence-transformers (see below).

DEFINITIONS (the references below are straightforward torch ops + autograd,
written independently of the C code)
  normalise    z_i = h_i / max(|h_i|, 1e-12)          (F.normalize, eps 1e-12)
  supcon       S = z z^T / t; for anchors i with P_i >= 1 positives (j != i,
               y_j = y_i): L_i = logsumexp_{a != i} S_ia - mean_{p in P(i)} S_ip;
               loss = mean of L_i over those anchors, 0 if none.
  triplet      d_ij = sqrt(|h_i - h_j|^2 + 1e-12)
     all       mean of relu(d_ap - d_an + m) over valid triplets (p != a,
               y_p = y_a, y_n != y_a) whose value is > 0; 0 if none.
     hard      per anchor with >= 1 positive and >= 1 negative:
               relu(d_ap* - d_an* + m), p* = argmax, n* = argmin, ties -> the
               first (lowest) index (torch.argmax/argmin); mean over those
               anchors, 0 if none.
  cosine       mean over i < j of (z_i.z_j - [y_i = y_j])^2; 0 if B < 2.
A loss that is 0 because its set is empty has a zero gradient; relu has
subgradient 0 at 0 (torch's convention).

CROSS-CHECKS (asserted every run, the fixture itself comes only from the
references above)
  * supcon vs a re-derivation in the structure of Khosla et al.'s reference
    SupConLoss (one view, contrast_mode "all", max-subtracted logits, self
    masked, times t / base_temperature with base_temperature = t), on
    batches where every anchor has a positive (that code averages over all
    anchors and gives NaN for an anchor without one); 1e-12 relative. Their
    code also adds 1e-9 inside the log; that is left out here because, with
    the max taken over a row that includes the self-similarity 1/t, it moves
    the value by up to ~1e-4 at t = 0.1 (a numerical guard, not the formula).
  * supcon / triplet / cosine vs plain Python double loops over the
    definitions (small cases).
  * triplet vs sentence-transformers' BatchAllTripletLoss /
    BatchHardTripletLoss (batch_all_triplet_loss / batch_hard_triplet_loss)
    when it can be imported (pip install sentence-transformers, or a
    `pip install --no-deps --target DIR` copy in $ST_PATH): batch-all on every
    case, batch-hard only where every anchor has a positive and a negative
    (sentence-transformers averages over all anchors). Their distance uses
    the Gram expansion and sqrt(0 + 1e-16) masking, so the comparison is to
    1e-7 relative. Skipped with a message if not importable.

FILE LAYOUT (safetensors; every tensor named case<k>.<...>, k = 0..ncases-1)
  ncases                     I64 (1)      number of cases
  case<k>.h                  F32 (B, C)   embeddings; F32 so the file is small,
                                          used exactly as float64 (the
                                          references run on the float64 value)
  case<k>.y                  I64 (B)      labels
  case<k>.<loss>.value       F64 (1)      loss value
  case<k>.<loss>.grad        F64 (B, C)   dLoss/dh (scale 1)
  <loss> is one of
    supcon_t0.1  supcon_t0.5                                  (temperature)
    triplet_all_m1  triplet_all_m5  triplet_hard_m1  triplet_hard_m5  (margin)
    cosine
  __metadata__ "case<k>" holds a one-line description of case k.

CASES
  0  B=2  C=5   K=1  one class
  1  B=2  C=6   K=2  one sample per class (no positives: supcon / triplet 0)
  2  B=7  C=8   K=3  clustered, a singleton class
  3  B=7  C=12  K=1  one class (no negatives: triplet 0)
  4  B=7  C=10  K=2  all embeddings identical
  5  B=7  C=5   K=2  one zero embedding row (normalisation clamp)
  6  B=32 C=40  K=5  clustered, class spread comparable to the margins
  7  B=32 C=16  K=4  clustered, a singleton class, duplicated rows that tie
                     for the hardest positive / negative of several anchors
  8  B=32 C=20  K=2  clustered, scaled so margin 5 is mostly active
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file

torch.set_default_dtype(torch.float64)
OUT = os.path.join("tests", "fixtures", "metric_losses", "cases.safetensors")
NORM_EPS = 1e-12
DIST_EPS2 = 1e-12

LOSSES = [
    ("supcon_t0.1", lambda h, y: supcon(h, y, 0.1)),
    ("supcon_t0.5", lambda h, y: supcon(h, y, 0.5)),
    ("triplet_all_m1", lambda h, y: triplet_all(h, y, 1.0)),
    ("triplet_all_m5", lambda h, y: triplet_all(h, y, 5.0)),
    ("triplet_hard_m1", lambda h, y: triplet_hard(h, y, 1.0)),
    ("triplet_hard_m5", lambda h, y: triplet_hard(h, y, 5.0)),
    ("cosine", lambda h, y: cosine(h, y)),
]


# ---------------------------------------------------------------- references
def supcon(h, y, t):
    B = h.shape[0]
    z = F.normalize(h, dim=1, eps=NORM_EPS)
    S = z @ z.T / t
    eye = torch.eye(B, dtype=torch.bool)
    pos = (y[:, None] == y[None, :]) & ~eye
    npos = pos.sum(1)
    valid = npos > 0
    if not bool(valid.any()):
        return (h * 0).sum()
    lse = torch.logsumexp(S.masked_fill(eye, -math.inf), dim=1)
    mean_pos = (S * pos).sum(1) / npos.clamp(min=1)
    return (lse - mean_pos)[valid].mean()


def pairwise_dist(h):
    diff = h[:, None, :] - h[None, :, :]
    return ((diff * diff).sum(-1) + DIST_EPS2).sqrt()


def triplet_all(h, y, m):
    B = h.shape[0]
    d = pairwise_dist(h)
    same = y[:, None] == y[None, :]
    eye = torch.eye(B, dtype=torch.bool)
    valid = (same & ~eye)[:, :, None] & (~same)[:, None, :]  # [a, p, n]
    v = (d[:, :, None] - d[:, None, :] + m)[valid]
    v = v[v > 0]
    if v.numel() == 0:
        return (h * 0).sum()
    return v.mean()


def triplet_hard(h, y, m):
    B = h.shape[0]
    d = pairwise_dist(h)
    same = y[:, None] == y[None, :]
    eye = torch.eye(B, dtype=torch.bool)
    pos, neg = same & ~eye, ~same
    valid = pos.any(1) & neg.any(1)
    if not bool(valid.any()):
        return (h * 0).sum()
    ar = torch.arange(B)
    p_idx = d.detach().masked_fill(~pos, -math.inf).argmax(1)  # first index on ties
    n_idx = d.detach().masked_fill(~neg, math.inf).argmin(1)
    v = torch.relu(d[ar, p_idx] - d[ar, n_idx] + m)
    return v[valid].mean()


def cosine(h, y):
    B = h.shape[0]
    if B < 2:
        return (h * 0).sum()
    z = F.normalize(h, dim=1, eps=NORM_EPS)
    c = z @ z.T
    tgt = (y[:, None] == y[None, :]).to(h.dtype)
    iu = torch.triu_indices(B, B, 1)
    r = (c - tgt)[iu[0], iu[1]]
    return (r * r).mean()


def value_and_grad(fn, h, y):
    x = h.clone().requires_grad_(True)
    L = fn(x, y)
    (g,) = torch.autograd.grad(L, x, allow_unused=True)
    if g is None:
        g = torch.zeros_like(h)
    return float(L.detach()), g.detach()


# ------------------------------------------------------------- cross-checks
def supcon_khosla_style(h, y, t, base_t, log_eps=0.0):
    """Khosla et al.'s SupConLoss math, one view, contrast_mode 'all' (their
    code has log_eps = 1e-9)."""
    B = h.shape[0]
    f = F.normalize(h, dim=1, eps=NORM_EPS)
    mask = (y.view(-1, 1) == y.view(1, -1)).to(h.dtype)
    adc = (f @ f.T) / t
    lmax, _ = adc.max(dim=1, keepdim=True)
    logits = adc - lmax.detach()
    logits_mask = 1.0 - torch.eye(B)
    mask = mask * logits_mask
    exp_logits = logits.exp() * logits_mask
    log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True) + log_eps)
    mlpp = (mask * log_prob).sum(1) / mask.sum(1)
    return (-(t / base_t) * mlpp).mean()


def loops_value(name, h, y):
    """The definitions as plain Python double loops (values only)."""
    B, C = h.shape
    H = h.tolist()
    Y = [int(v) for v in y]

    def nz(v):
        n = math.sqrt(sum(x * x for x in v))
        n = max(n, NORM_EPS)
        return [x / n for x in v]

    def dist(a, b):
        return math.sqrt(sum((p - q) ** 2 for p, q in zip(a, b)) + DIST_EPS2)

    if name.startswith("supcon"):
        t = float(name.split("_t")[1])
        Z = [nz(v) for v in H]
        tot, cnt = 0.0, 0
        for i in range(B):
            P = [j for j in range(B) if j != i and Y[j] == Y[i]]
            if not P:
                continue
            s = {j: sum(p * q for p, q in zip(Z[i], Z[j])) / t for j in range(B) if j != i}
            mx = max(s.values())
            lse = mx + math.log(sum(math.exp(v - mx) for v in s.values()))
            tot += lse - sum(s[p] for p in P) / len(P)
            cnt += 1
        return tot / cnt if cnt else 0.0
    if name.startswith("triplet"):
        m = float(name.split("_m")[1])
        D = [[dist(H[i], H[j]) for j in range(B)] for i in range(B)]
        if "_all_" in name:
            vals = [D[a][p] - D[a][n] + m for a in range(B) for p in range(B) for n in range(B)
                    if p != a and Y[p] == Y[a] and Y[n] != Y[a]]
            vals = [v for v in vals if v > 0]
            return sum(vals) / len(vals) if vals else 0.0
        tot, cnt = 0.0, 0
        for a in range(B):
            P = [D[a][p] for p in range(B) if p != a and Y[p] == Y[a]]
            N = [D[a][n] for n in range(B) if Y[n] != Y[a]]
            if P and N:
                tot += max(0.0, max(P) - min(N) + m)
                cnt += 1
        return tot / cnt if cnt else 0.0
    Z = [nz(v) for v in H]
    pairs = [(sum(p * q for p, q in zip(Z[i], Z[j])) - (1.0 if Y[i] == Y[j] else 0.0)) ** 2
             for i in range(B) for j in range(i + 1, B)]
    return sum(pairs) / len(pairs) if pairs else 0.0


def load_sentence_transformers():
    extra = os.environ.get("ST_PATH")
    if extra:
        sys.path.insert(0, extra)
    try:
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from sentence_transformers.losses import BatchAllTripletLoss, BatchHardTripletLoss
    except Exception as e:  # noqa: BLE001
        print(f"sentence-transformers not importable ({type(e).__name__}: {e}); skipping that cross-check")
        return None
    return BatchAllTripletLoss, BatchHardTripletLoss


def st_losses(st, h, y, m):
    """(batch_all, batch_hard) values and gradients from sentence-transformers."""
    BAll, BHard = st
    out = []
    for cls, meth in ((BAll, "batch_all_triplet_loss"), (BHard, "batch_hard_triplet_loss")):
        obj = cls.__new__(cls)  # skip __init__ (it wants a model); set what the method reads
        torch.nn.Module.__init__(obj)
        obj.triplet_margin = m
        obj.margin = m
        obj.distance_metric = obj_distance(cls)
        x = h.clone().requires_grad_(True)
        L = getattr(obj, meth)(y, x)
        (g,) = torch.autograd.grad(L, x)
        out.append((float(L.detach()), g))
    return out


def obj_distance(cls):
    import inspect
    return inspect.signature(cls.__init__).parameters["distance_metric"].default


def rel(a, b):
    """Relative L2 difference of a from b; absolute where |b| is below 1e-6."""
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    diff, nb = float((a - b).norm()), float(b.norm())
    return diff / nb if nb > 1e-6 else diff


# -------------------------------------------------------------------- cases
def f32_exact(x):
    return x.to(torch.float32).to(torch.float64)


def clustered(g, y, C, spread, noise):
    K = int(y.max()) + 1
    centres = torch.randn(K, C, generator=g) * spread
    return centres[y] + torch.randn(len(y), C, generator=g) * noise


def make_cases():
    g = torch.Generator().manual_seed(20240611)
    cases = []

    def add(desc, h, y):
        cases.append((desc, f32_exact(h), torch.as_tensor(y, dtype=torch.int64)))

    add("B=2 C=5 K=1 one class", torch.randn(2, 5, generator=g), [0, 0])
    add("B=2 C=6 K=2 one sample per class", torch.randn(2, 6, generator=g), [0, 1])
    y = torch.tensor([0, 1, 0, 2, 1, 0, 1])
    add("B=7 C=8 K=3 clustered, singleton class 2", clustered(g, y, 8, 1.0, 0.6), y)
    add("B=7 C=12 K=1 one class", torch.randn(7, 12, generator=g) * 0.8, [0] * 7)
    row = torch.randn(1, 10, generator=g)
    add("B=7 C=10 K=2 identical embeddings", row.repeat(7, 1), [0, 1, 1, 0, 1, 0, 0])
    h = torch.randn(7, 5, generator=g)
    h[3] = 0.0
    add("B=7 C=5 K=2 zero row 3", h, [0, 1, 0, 0, 1, 1, 0])
    y = torch.randint(0, 5, (32,), generator=g)
    add("B=32 C=40 K=5 clustered", clustered(g, y, 40, 0.5, 0.45), y)
    # K=4 with class 3 a singleton; rows 20 and 27 (class 0) duplicate an
    # outlier of class 0 (a tie for the hardest positive of the other class-0
    # anchors); rows 9 and 14 (class 1) duplicate a point near class 2's
    # centre (a tie for the hardest negative of class-2 anchors).
    y = torch.tensor([0, 1, 2] * 10 + [3, 0])
    y[20], y[27], y[9], y[14] = 0, 0, 1, 1
    h = clustered(g, y, 16, 1.0, 0.3)
    centre2 = h[y == 2].mean(0)
    h[20] = h[20] + 2.5 * torch.randn(16, generator=g) / 4.0
    h[27] = h[20]
    h[9] = centre2 + 0.15 * torch.randn(16, generator=g)
    h[14] = h[9]
    add("B=32 C=16 K=4 singleton class 3, duplicated rows 20=27 (class 0), 9=14 (class 1)", h, y)
    y = torch.randint(0, 2, (32,), generator=g)
    add("B=32 C=20 K=2 clustered", clustered(g, y, 20, 0.8, 0.7), y)
    return cases


def write_safetensors(path, tensors, metadata):
    """A byte-for-byte deterministic safetensors writer (safetensors'
    save_file orders the metadata differently from run to run): header keys
    sorted, data in header order, header padded with spaces to 8 bytes."""
    dt = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}
    header = {"__metadata__": dict(sorted(metadata.items()))}
    blobs, off = [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": dt[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(hj)) + hj + b"".join(blobs))
    os.replace(path + ".tmp", path)


def main():
    cases = make_cases()
    st = load_sentence_transformers()
    tensors = {"ncases": torch.tensor([len(cases)], dtype=torch.int64)}
    meta = {}
    worst = {"loops": 0.0, "khosla": 0.0, "st_all": 0.0, "st_hard": 0.0}
    for k, (desc, h, y) in enumerate(cases):
        B = h.shape[0]
        tensors[f"case{k}.h"] = h.to(torch.float32).contiguous()
        tensors[f"case{k}.y"] = y.contiguous()
        meta[f"case{k}"] = desc
        line = []
        for name, fn in LOSSES:
            v, gr = value_and_grad(fn, h, y)
            assert math.isfinite(v) and bool(torch.isfinite(gr).all()), (k, name)
            tensors[f"case{k}.{name}.value"] = torch.tensor([v])
            tensors[f"case{k}.{name}.grad"] = gr.contiguous()
            line.append(f"{name}={v:.6g}")
            # plain loops
            lv = loops_value(name, h, y)
            e = rel(lv, v)
            assert e < 1e-12, (k, name, v, lv)
            worst["loops"] = max(worst["loops"], e)
        same = y[:, None] == y[None, :]
        every_pos = bool(((same & ~torch.eye(B, dtype=torch.bool)).any(1)).all())
        every_neg = bool((~same).any(1).all())
        if every_pos:
            for t in (0.1, 0.5):
                vk, gk = value_and_grad(lambda x, yy: supcon_khosla_style(x, yy, t, t), h, y)
                v, gr = value_and_grad(lambda x, yy: supcon(x, yy, t), h, y)
                e = max(rel(vk, v), rel(gk, gr))
                assert e < 1e-12, (k, t, vk, v, e)
                worst["khosla"] = max(worst["khosla"], e)
        if st is not None:
            for m in (1.0, 5.0):
                (va, ga), (vh, gh) = st_losses(st, h, y, m)
                v, gr = value_and_grad(lambda x, yy: triplet_all(x, yy, m), h, y)
                e = max(rel(va, v), rel(ga, gr))
                assert e < 1e-7, ("st batch_all", k, m, va, v, e)
                worst["st_all"] = max(worst["st_all"], e)
                if every_pos and every_neg:
                    v, gr = value_and_grad(lambda x, yy: triplet_hard(x, yy, m), h, y)
                    e = max(rel(vh, v), rel(gh, gr))
                    assert e < 1e-7, ("st batch_hard", k, m, vh, v, e)
                    worst["st_hard"] = max(worst["st_hard"], e)
        print(f"case{k} ({desc}): " + " ".join(line))
    # the tie case really ties (in torch and, by construction, in C)
    _, h7, y7 = cases[7]
    d7 = pairwise_dist(h7)
    assert torch.equal(d7[:, 20], d7[:, 27]) and torch.equal(d7[:, 9], d7[:, 14])
    ties_p = sum(1 for a in range(32) if y7[a] == 0 and a not in (20, 27)
                 and int(d7[a].masked_fill(~((y7 == 0) & (torch.arange(32) != a)), -1).argmax()) == 20)
    ties_n = sum(1 for a in range(32) if y7[a] == 2
                 and int(d7[a].masked_fill(y7 == 2, math.inf).argmin()) == 9)
    print(f"tie case: {ties_p} anchors with hardest positive 20 (=27), {ties_n} with hardest negative 9 (=14)")
    assert ties_p >= 2 and ties_n >= 2
    print("cross-check worst relative differences:", {k: f"{v:.2e}" for k, v in worst.items()})
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_safetensors(OUT, tensors, meta)
    back = load_file(OUT)
    assert set(back) == set(tensors) and all(torch.equal(back[k], tensors[k]) for k in tensors)
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes, {len(tensors)} tensors)")


if __name__ == "__main__":
    main()
