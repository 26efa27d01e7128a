#!/usr/bin/env python3
"""Writes tests/fixtures/gloss/cases.safetensors, the reference tests/test_gloss.c
compares src/loss/graph_loss.c against.

Run from the repository root:   python3 tools/make_gloss_fixtures.py
Needs torch and safetensors. Deterministic (fixed seeds): the tensors are
bit-identical from run to run (only the order of the __metadata__ entries in
the JSON header may change). A few seconds.

THE REFERENCE
-------------
An independent float64 PyTorch implementation of G-Loss
(../shared/docs/gloss-method.md), written directly with torch ops; the gradient
with respect to the raw embeddings h comes from autograd:
    e      = h / clamp_min(|h|, 1e-12)                       (row-wise)
    d2_ij  = sum_c (e_ic - e_jc)^2
    W      = exp(-d2 / (2 sigma^2)) * (1 - I)
    paper:      T = W / rowsum(W), evaluated as torch.softmax of -d2 / (2 sigma^2)
                over each row with the diagonal masked to -inf: the same
                matrix, with no underflow for any sigma (no node is isolated)
    reference:  W is evaluated as exp(-(d2 - m) / (2 sigma^2)), m = the
                smallest off-diagonal d2 (detached): one global scale of W,
                which the chain below is invariant to;
                A = W + W^T ; S = diag(a^-1/2) A diag(a^-1/2), a = rowsum(A);
                S = S / colsum(S) ; T = S / rowsum(S)
    F_U    = torch.linalg.solve(I - T_UU, T_UL Y_L)          (Y_L one-hot)
    paper:      G = -sum_U w_y log(clamp_min(F_U[i, y_i], 1e-10)) / sum_U w_y
    reference:  G = torch.nn.functional.cross_entropy(F_U, y_U, weight=w)
The labelled mask and the class weights are given explicitly in each case.
torch.autograd.gradcheck validates the reference on two small cases.

Degree guard of the reference variant (used only for the degenerate cases, and
checked to be a no-op everywhere else): a node whose degree (rowsum A) is below
1e-300 is isolated: its row and column of S are zero; a column or row sum of S
or of the column-normalised matrix below 1e-300 likewise gives a zero
column/row. This is the behaviour documented in src/loss/graph_loss.c.

TENSOR NAMES
------------
params              F64 (2)      prob_floor = 1e-10, rcond_min = 1e-12
ncases              I64 ()       number of regular cases N
ndeg                I64 ()       number of degenerate cases M
case{i}.h           F64 (B, C)   raw embeddings (rows of various norms)
case{i}.y           I64 (B)      labels in [0, K)
case{i}.labelled    U8  (B)      1 = label visible (L), 0 = hidden (U)
case{i}.class_w     F64 (K)      class weights
case{i}.sigma       F64 ()       kernel width
case{i}.paper.loss  F64 ()       G, paper variant
case{i}.paper.grad  F64 (B, C)   dG/dh, paper variant
case{i}.reference.loss, case{i}.reference.grad   same, reference variant
case{i}.paper.F, case{i}.reference.F  F64 (|U|, K)  the propagated F_U, rows
                                 in increasing node order
deg{j}.h, .y, .labelled, .class_w, .sigma         as above
deg{j}.expect       I64 (5)      [skip, low_degree_paper, clamped_paper, has_values,
                                  low_degree_reference]
                                 skip: 0 none, 1 U empty (skipped_no_hidden),
                                 2 L empty (skipped_no_labelled),
                                 3 singular / ill-conditioned (skipped_singular);
                                 low_degree_*: expected gloss_stats.low_degree
                                 (per call, only meaningful when skip is 0 or 3;
                                 always 0 for the paper variant);
                                 clamped_paper: expected gloss_stats.clamped for
                                 the paper variant (when skip is 0);
                                 has_values: 1 if deg{j}.paper.* and
                                 deg{j}.reference.* (loss, grad) are present
deg{j}.cond         F64 ()       (singular cases) 1-norm condition number of
                                 I - T_UU (paper variant) as torch computes it
The file's __metadata__ maps "case{i}" / "deg{j}" to a short description.

CASES
-----
regular: random class-clustered batches B = 5, 16, 64, 16, 5 (C 8..48, K 2..6);
B = 2; a class present only among the hidden nodes; a batch with a single
class (true gradient exactly 0); two pairs of identical normalised embeddings
(one pair with different raw norms); sigma = 0.05 with an outlier whose degree
is ~1e-130 (near underflow, still normal) inside a tight group; sigma = 50.
degenerate (C side only): U empty; L empty; sigma = 1e-3 with exactly-zero and
subnormal plain degrees (four nodes isolated in the reference variant, none in
the paper one) next to a tight well-connected group (expected values from the
guarded reference); sigma = 0.03 on a spread batch of 32, where every row of
the plain kernel lies below 1e-300 (the regime dicm reaches on R52); an
exactly singular I - T_UU
(two identical hidden nodes whose edges to L underflow to 0); an
ill-conditioned one (edges to L ~ 1e-14).
"""
import math
import os

import torch
import torch.nn.functional as Fn
from safetensors.torch import save_file

torch.set_default_dtype(torch.float64)
OUT = "tests/fixtures/gloss/cases.safetensors"
FLOOR = 1e-10
RCOND_MIN = 1e-12
TINY = 1e-300


def transition(W, guard):
    """T from W, reference variant. With guard, nodes of tiny degree are
    isolated (see docstring)."""
    A = W + W.T
    a = A.sum(1)
    if not guard:
        u = a.pow(-0.5)
        S = u[:, None] * A * u[None, :]
        S = S / S.sum(0, keepdim=True)
        return S / S.sum(1, keepdim=True), torch.zeros(W.shape[0], dtype=torch.bool)
    low = a < TINY
    u = torch.where(low, torch.zeros_like(a), torch.where(low, torch.ones_like(a), a).pow(-0.5))
    S = u[:, None] * A * u[None, :]
    c = S.sum(0)
    lowc = c < TINY
    P = torch.where(lowc[None, :], torch.zeros_like(S), S / torch.where(lowc, torch.ones_like(c), c)[None, :])
    q = P.sum(1)
    lowr = q < TINY
    T = torch.where(lowr[:, None], torch.zeros_like(P), P / torch.where(lowr, torch.ones_like(q), q)[:, None])
    return T, low | lowc | lowr


def graph(h, sigma, variant, guard):
    """The transition matrix T of the batch (and the low-degree mask)."""
    B = h.shape[0]
    e = h / h.norm(dim=1, keepdim=True).clamp_min(1e-12)
    d2 = (e[:, None, :] - e[None, :, :]).pow(2).sum(-1)
    off = ~torch.eye(B, dtype=torch.bool)
    if variant == "paper":
        z = torch.where(off, -d2 / (2 * sigma * sigma), torch.full_like(d2, -math.inf))
        return torch.softmax(z, dim=1), torch.zeros(B, dtype=torch.bool)
    m = d2.detach()[off].min()
    W = torch.exp(-(d2 - m) / (2 * sigma * sigma)) * off
    return transition(W, guard)


def gloss_torch(h, y, lab, w, sigma, variant, guard=False):
    """Returns (G, F_U, T, low-degree mask)."""
    K = w.shape[0]
    T, low = graph(h, sigma, variant, guard)
    U = (lab == 0).nonzero().flatten()
    L = (lab != 0).nonzero().flatten()
    TUU = T[U][:, U]
    TUL = T[U][:, L]
    YL = Fn.one_hot(y[L], K).to(torch.float64)
    FU = torch.linalg.solve(torch.eye(len(U)) - TUU, TUL @ YL)
    yU = y[U]
    if variant == "paper":
        p = FU.gather(1, yU[:, None]).squeeze(1).clamp_min(FLOOR)
        wy = w[yU]
        G = -(wy * p.log()).sum() / wy.sum()
    else:
        G = Fn.cross_entropy(FU, yU, weight=w)
    return G, FU, T, low


def evaluate(h, y, lab, w, sigma, variant, guard=False):
    hh = h.clone().requires_grad_(True)
    G, FU, T, low = gloss_torch(hh, y, lab, w, sigma, variant, guard)
    (g,) = torch.autograd.grad(G, hh)
    assert torch.isfinite(G) and torch.isfinite(g).all(), "non-finite reference"
    if not guard:  # the guard must not change anything on a regular case
        G2, _, _, low2 = gloss_torch(h, y, lab, w, sigma, variant, True)
        assert not low2.any() and abs(G2.item() - G.item()) <= 1e-14 * max(1.0, abs(G.item()))
    return G.detach(), g.detach(), FU.detach(), low, T.detach()


def neff_median(T):
    """Median over the non-zero rows of T of the effective neighbours
    1 / sum_j T_ij^2 (the mean of the two middle values for an even count)."""
    s = (T * T).sum(dim=1)
    v, _ = torch.sort(1.0 / s[s > 0])
    n = v.numel()
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def unit(v):
    return v / v.norm()


def clustered(gen, B, C, K, y, spread, noise):
    """Rows near per-class centres, then scaled by random norms in [0.5, 3]."""
    centres = torch.randn(K, C, generator=gen)
    h = spread * centres[y] + noise * torch.randn(B, C, generator=gen)
    return h * (0.5 + 2.5 * torch.rand(B, 1, generator=gen))


def random_labelled(gen, B, gamma, y, need_all_classes=True):
    """A random mask with round(gamma B) visible nodes (retried until every
    class present in y has a visible node, when asked)."""
    n = max(1, min(B - 1, round(gamma * B)))
    for _ in range(1000):
        perm = torch.randperm(B, generator=gen)
        lab = torch.zeros(B, dtype=torch.uint8)
        lab[perm[:n]] = 1
        if not need_all_classes or set(y[lab == 1].tolist()) == set(y.tolist()):
            return lab
    raise RuntimeError("no mask")


def cond_IminusTUU(h, lab, sigma, variant):
    with torch.no_grad():
        T, _ = graph(h, sigma, variant, True)
        U = (lab == 0).nonzero().flatten()
        M = torch.eye(len(U)) - T[U][:, U]
        return torch.linalg.cond(M, p=1).item()


def put_inputs(tensors, meta, p, desc, h, y, lab, w, sigma):
    """The inputs of case p (p.h, p.y, p.labelled, p.class_w, p.sigma) and its description."""
    meta[p] = desc
    tensors[p + ".h"] = h.contiguous()
    tensors[p + ".y"] = y.to(torch.int64)
    tensors[p + ".labelled"] = lab.to(torch.uint8)
    tensors[p + ".class_w"] = w.to(torch.float64)
    tensors[p + ".sigma"] = torch.tensor(float(sigma))


def main():
    gen = torch.Generator().manual_seed(20260425)
    cases = []  # (description, h, y, lab, w, sigma)

    def rand_case(B, C, K, sigma, gamma, spread, noise):
        y = torch.randint(0, K, (B,), generator=gen)
        y[:K] = torch.arange(K)[: min(K, B)]  # every class present
        y = y[torch.randperm(B, generator=gen)]
        h = clustered(gen, B, C, K, y, spread, noise)
        lab = random_labelled(gen, B, gamma, y)
        w = 0.5 + 1.5 * torch.rand(K, generator=gen)
        return h, y, lab, w, sigma

    cases.append(("random B=5 C=8 K=2 sigma=0.7",) + rand_case(5, 8, 2, 0.7, 0.6, 0.5, 1.0))
    cases.append(("random B=16 C=24 K=4 sigma=0.5",) + rand_case(16, 24, 4, 0.5, 0.6, 0.5, 0.5))
    cases.append(("random B=64 C=32 K=6 sigma=0.4",) + rand_case(64, 32, 6, 0.4, 0.7, 0.4, 0.4))
    cases.append(("random B=16 C=48 K=5 sigma=1.0",) + rand_case(16, 48, 5, 1.0, 0.5, 0.5, 0.6))
    cases.append(("random B=5 C=40 K=3 sigma=0.3",) + rand_case(5, 40, 3, 0.3, 0.6, 0.6, 0.3))

    # B = 2: one visible node of class 0, one hidden node of class 1
    h = torch.randn(2, 8, generator=gen) * 1.7
    cases.append(("B=2, hidden node's class not visible", h, torch.tensor([0, 1]), torch.tensor([1, 0], dtype=torch.uint8),
                  torch.tensor([1.3, 0.7]), 0.6))

    # class 3 only among the hidden nodes
    B, C, K = 12, 16, 4
    y = torch.tensor([0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 0])
    lab = torch.tensor([1, 1, 1, 0, 0, 1, 0, 0, 1, 0, 1, 1], dtype=torch.uint8)
    h = clustered(gen, B, C, K, y, 0.6, 0.5)
    cases.append(("class 3 present only among the hidden nodes", h, y, lab, torch.tensor([1.0, 0.8, 1.2, 2.0]), 0.5))

    # a batch with one class (K = 3, only class 0 present): F_U = e_0 exactly
    B, C, K = 10, 12, 3
    y = torch.zeros(B, dtype=torch.long)
    lab = torch.tensor([1, 0, 1, 1, 0, 1, 0, 1, 1, 0], dtype=torch.uint8)
    h = torch.randn(B, C, generator=gen)
    cases.append(("a batch with one class (true gradient 0)", h, y, lab, torch.tensor([0.9, 1.1, 1.5]), 0.6))

    # identical normalised embeddings: h5 = 2.5 h3 (L / U), h6 = h1 exactly (U / U)
    B, C, K = 8, 10, 3
    y = torch.tensor([0, 1, 2, 0, 1, 0, 1, 2])
    lab = torch.tensor([1, 0, 1, 1, 1, 0, 0, 1], dtype=torch.uint8)
    h = clustered(gen, B, C, K, y, 0.5, 0.7)
    h[5] = 2.5 * h[3]
    h[6] = h[1]
    cases.append(("identical embeddings (h5 = 2.5 h3, h6 = h1)", h, y, lab, torch.tensor([1.0, 1.0, 1.0]), 0.5))

    # sigma = 0.05: a tight group (d2 ~ 0.01..0.05) plus one hidden outlier at
    # d2 ~ 1.3 from it: its degree is ~exp(-260) ~ 1e-113, tiny but normal
    B, C, K = 9, 6, 3
    base = unit(torch.randn(C, generator=gen))
    h = base[None, :] + 0.045 * torch.randn(B, C, generator=gen)
    far = unit(torch.randn(C, generator=gen))
    far = unit(far - (far @ base) * base)
    h[8] = unit(0.35 * base + 0.94 * far) + 0.02 * torch.randn(C, generator=gen)
    h = h * (0.5 + 2.5 * torch.rand(B, 1, generator=gen))
    y = torch.tensor([0, 1, 2, 0, 1, 2, 0, 1, 2])
    lab = torch.tensor([1, 1, 1, 1, 0, 1, 0, 0, 0], dtype=torch.uint8)
    cases.append(("sigma=0.05, outlier with degree ~1e-113", h, y, lab, torch.tensor([1.0, 1.4, 0.8]), 0.05))

    cases.append(("random sigma=50",) + rand_case(16, 20, 3, 50.0, 0.6, 0.5, 0.5))

    tensors = {"params": torch.tensor([FLOOR, RCOND_MIN])}
    meta = {}
    for i, (desc, h, y, lab, w, sigma) in enumerate(cases):
        p = f"case{i}"
        put_inputs(tensors, meta, p, desc, h, y, lab, w, sigma)
        line = f"{p:7s} B={h.shape[0]:2d} C={h.shape[1]:2d} K={w.shape[0]} |U|={(lab == 0).sum().item():2d}"
        for v in ("paper", "reference"):
            G, g, FU, _, T = evaluate(h, y.to(torch.int64), lab, w, sigma, v)
            tensors[f"{p}.{v}.loss"] = G
            tensors[f"{p}.{v}.neff"] = neff_median(T).reshape(1)
            tensors[f"{p}.{v}.grad"] = g.contiguous()
            tensors[f"{p}.{v}.F"] = FU.contiguous()
            rc = 1.0 / cond_IminusTUU(h, lab, sigma, v)
            assert rc > 1e-8, f"{p} {v}: rcond {rc}"
            line += f"  {v}: G={G.item():.6g} |g|={g.norm().item():.3g} minF={FU.min().item():.2g}"
        print(line, "-", desc)
    tensors["ncases"] = torch.tensor(len(cases), dtype=torch.int64)

    # independent check of the reference's autograd on two small cases
    for i in (0, 7):
        _, h, y, lab, w, sigma = cases[i]
        for v in ("paper", "reference"):
            hh = h.clone().requires_grad_(True)
            assert torch.autograd.gradcheck(lambda x: gloss_torch(x, y, lab, w, sigma, v)[0], (hh,), eps=1e-6,
                                            atol=1e-7, rtol=1e-6)

    # ---------------- degenerate cases (C side) ----------------
    degs = []  # (desc, h, y, lab, w, sigma, expect[skip, low_paper, clamped_paper], values?, low_reference)
    B, C, K = 6, 8, 2
    h = torch.randn(B, C, generator=gen)
    y = torch.tensor([0, 1, 0, 1, 0, 1])
    degs.append(("U empty (every node labelled)", h, y, torch.ones(B, dtype=torch.uint8), torch.ones(K), 0.5,
                 [1, 0, 0], False, 0))
    degs.append(("L empty (no node labelled)", h, y, torch.zeros(B, dtype=torch.uint8), torch.ones(K), 0.5,
                 [2, 0, 0], False, 0))

    # sigma = 1e-3 (2 sigma^2 = 2e-6): nodes 0..3 a tight group (d2 ~ 1e-5);
    # 4, 5 a pair at d2 = 1.44e-3 (W = exp(-720), subnormal degree); 6, 7 isolated
    B, C, K = 8, 8, 3
    base = unit(torch.randn(C, generator=gen))
    h = base[None, :].repeat(B, 1) + 0.0007 * torch.randn(B, C, generator=gen)
    v4 = unit(torch.randn(C, generator=gen))
    v4 = unit(v4 - (v4 @ base) * base)
    other = unit(torch.randn(C, generator=gen))
    other = unit(other - (other @ base) * base - (other @ v4) * v4)
    cos = 1 - 1.44e-3 / 2
    h[4] = v4
    h[5] = cos * v4 + math.sqrt(1 - cos * cos) * other
    h[6] = unit(torch.randn(C, generator=gen))
    h[7] = unit(torch.randn(C, generator=gen))
    h = h * (0.5 + 2.5 * torch.rand(B, 1, generator=gen))
    y = torch.tensor([0, 1, 0, 1, 2, 2, 0, 1])
    lab = torch.tensor([1, 1, 0, 0, 0, 1, 0, 1], dtype=torch.uint8)
    degs.append(("sigma=1e-3: nodes 4..7 of subnormal or 0 plain degree (reference: isolated), group 0..3 tight",
                 h, y, lab, torch.tensor([1.0, 1.3, 0.6]), 1e-3, [0, 0, None], True, 4))

    # sigma = 0.03 (2 sigma^2 = 1.8e-3) on a spread batch of 32 (8 classes, C =
    # 64): nearest neighbours at d2 > 1.3, so every row of the plain kernel is
    # below 1e-300; the paper variant must still propagate (own generator)
    g2 = torch.Generator().manual_seed(7)
    B, C, K = 32, 64, 8
    y = torch.arange(B) % K
    y = y[torch.randperm(B, generator=g2)]
    h = clustered(g2, B, C, K, y, 0.3, 1.0)
    lab = random_labelled(g2, B, 0.7, y)
    e = h / h.norm(dim=1, keepdim=True)
    d2 = (e[:, None, :] - e[None, :, :]).pow(2).sum(-1) + 10 * torch.eye(B)
    under = (torch.exp(-d2.min(1).values / (2 * 0.03 ** 2)) < TINY).sum().item()
    print(f"sigma=0.03 case: {under} of {B} rows of the plain kernel below {TINY:g}")
    assert under == B
    degs.append(("sigma=0.03 on a spread batch of 32: every plain kernel row below 1e-300", h, y, lab,
                 0.5 + 1.5 * torch.rand(K, generator=g2), 0.03, [0, 0, None], True, None))

    # exactly singular: hidden nodes 0, 1 identical, orthogonal to the labelled
    # group 2..4; with sigma = 0.03 exp(-2 / 0.0018) == 0, so T_UU = [[0,1],[1,0]]
    B, C, K = 5, 6, 3
    u = unit(torch.randn(C, generator=gen))
    vv = unit(torch.randn(C, generator=gen))
    vv = unit(vv - (vv @ u) * u)
    h = torch.zeros(B, C)
    h[0] = u * 1.5
    h[1] = u * 0.7
    for j in (2, 3, 4):
        h[j] = vv + 0.02 * torch.randn(C, generator=gen)
    y = torch.tensor([0, 1, 0, 1, 2])
    lab = torch.tensor([0, 0, 1, 1, 1], dtype=torch.uint8)
    degs.append(("exactly singular I - T_UU (hidden pair disconnected from L)", h, y, lab, torch.ones(K), 0.03,
                 [3, 0, 0], False, 0))

    # ill-conditioned: same layout, labelled group at d2 ~ 0.645 from the hidden
    # pair, sigma = 0.1: edges to L ~ exp(-32) ~ 1e-14, rcond ~ 1e-14
    cosv = 1 - 0.645 / 2
    h = torch.zeros(B, C)
    h[0] = u * 1.2
    h[1] = u * 2.0
    c0 = cosv * u + math.sqrt(1 - cosv * cosv) * vv
    for j in (2, 3, 4):
        h[j] = c0 + 0.003 * torch.randn(C, generator=gen)
    degs.append(("ill-conditioned I - T_UU (edges to L ~ 1e-14)", h, y, lab, torch.ones(K), 0.1, [3, 0, 0], False, 0))

    for j, (desc, h, y, lab, w, sigma, expect, values, low_ref) in enumerate(degs):
        if values:  # counts not fixed by construction come from the guarded reference
            _, _, FU, _, _ = evaluate(h, y.to(torch.int64), lab, w, sigma, "paper", guard=True)
            clamped = int((FU.gather(1, y[lab == 0][:, None]) < FLOOR).sum())
            assert expect[2] is None or expect[2] == clamped
            expect = [expect[0], expect[1], clamped]
            _, _, _, low, _ = evaluate(h, y.to(torch.int64), lab, w, sigma, "reference", guard=True)
            assert low_ref is None or int(low.sum()) == low_ref
            low_ref = int(low.sum())
        p = f"deg{j}"
        put_inputs(tensors, meta, p, desc, h, y, lab, w, sigma)
        tensors[p + ".expect"] = torch.tensor(expect + [1 if values else 0, low_ref], dtype=torch.int64)
        line = f"{p}: expect {expect} low_reference {low_ref}"
        if expect[0] == 3:
            cnd = cond_IminusTUU(h, lab, sigma, "paper")
            tensors[p + ".cond"] = torch.tensor(cnd)
            line += f" cond={cnd:.3g}"
        if values:
            for v in ("paper", "reference"):
                G, g, FU, low, _ = evaluate(h, y.to(torch.int64), lab, w, sigma, v, guard=True)
                assert int(low.sum()) == (expect[1] if v == "paper" else low_ref)
                tensors[f"{p}.{v}.loss"] = G
                tensors[f"{p}.{v}.grad"] = g.contiguous()
                line += f"  {v}: G={G.item():.6g} |g|={g.norm().item():.3g}"
        print(line, "-", desc)
    tensors["ndeg"] = torch.tensor(len(degs), dtype=torch.int64)

    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    tensors = {k: v.clone().contiguous() for k, v in tensors.items()}
    save_file(tensors, OUT, metadata=meta)
    print(f"wrote {OUT} ({os.path.getsize(OUT)} bytes, {len(cases)} cases, {len(degs)} degenerate)")


if __name__ == "__main__":
    main()
