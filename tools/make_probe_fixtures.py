#!/usr/bin/env python3
"""Writes tests/fixtures/probe/cases.safetensors: the exact optimum of the
linear probe's objective (src/train/probe.h), for tests/test_probe.c.

OBJECTIVE (written here independently of the C code, in numpy float64)
  z_i = (x_i - mu) / (sd + 1e-8)    mu, sd: per-channel mean and population std
  minimise over W (K, C), b (K):
      sum_i w_i CE(W z_i + b, y_i) / sum_i w_i  +  l2/2 |W|^2
  w_i = class_w[y_i] (balanced: n / (K n_k), as gloss), or 1 without weights.
  Then W_raw = W / sd, b_raw = b - W_raw mu (the probe acts on raw x).
  Softmax is unchanged by adding one constant to every b_k, so b is compared
  after subtracting its mean over k; W is unique (l2 > 0).

REFERENCE  scipy.optimize.minimize(L-BFGS-B) on that objective with its exact
  gradient, gtol 1e-12, from zero.
CROSS-CHECK (asserted every run)  scikit-learn's LogisticRegression (lbfgs,
  multinomial, unpenalised intercept) on z with C = 1 / l2 (2 / l2 for its
  binary form at K = 2) and sample weights w_i / sum w: the same minimiser.
  Its W must agree to 1e-5 relative.

FILE LAYOUT (every tensor named case<k>.<...>)
  ncases              I64 (1)
  case<k>.X           F32 (n, C)  the input (used exactly as float64 by both)
  case<k>.y           I64 (n)     labels in [0, K)
  case<k>.K           I64 (1)
  case<k>.class_w     F64 (K)     class weights (all 1 for an unweighted case)
  case<k>.weighted    I64 (1)     1: pass class_w; 0: pass NULL
  case<k>.l2          F64 (1)
  case<k>.W           F64 (K, C)  W_raw at the optimum
  case<k>.b           F64 (K)     b_raw at the optimum, minus its mean
  case<k>.loss        F64 (1)     the objective at the optimum

CASES
  0  n=60  C=5  K=3  imbalanced classes, balanced weights, l2 1e-2
  1  n=40  C=8  K=2  separable data, no weights, l2 1e-1
  2  n=200 C=16 K=6  clustered, a 2-member class, one constant channel,
                     balanced weights, l2 1e-3
  3  n=120 C=12 K=4  features of very different scales (1e-3 to 1e2), l2 1e-2

Run from the repository root:  python3 tools/make_probe_fixtures.py
Needs numpy, scipy, scikit-learn and safetensors (pip). Deterministic; the
output is committed.
"""
import os

import numpy as np
from safetensors.numpy import save_file
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression

OUT = "tests/fixtures/probe/cases.safetensors"


def objective(theta, Z, y, sw, K, l2):
    n, C = Z.shape
    W, b = theta[: K * C].reshape(K, C), theta[K * C:]
    L = Z @ W.T + b
    L = L - L.max(axis=1, keepdims=True)
    lse = np.log(np.exp(L).sum(axis=1))
    P = np.exp(L - lse[:, None])
    loss = float((sw * (lse - L[np.arange(n), y])).sum() + 0.5 * l2 * (W * W).sum())
    P[np.arange(n), y] -= 1.0
    D = P * sw[:, None]
    return loss, np.concatenate([(D.T @ Z + l2 * W).ravel(), D.sum(axis=0)])


def solve(X, y, K, class_w, l2):
    X = X.astype(np.float64)
    n, C = X.shape
    mu = X.mean(axis=0)
    sd = np.sqrt(((X - mu) ** 2).mean(axis=0)) + 1e-8
    Z = (X - mu) / sd
    w = class_w[y]
    sw = w / w.sum()
    r = minimize(objective, np.zeros(K * C + K), args=(Z, y, sw, K, l2), jac=True, method="L-BFGS-B",
                 options=dict(maxiter=100000, maxfun=200000, gtol=1e-12, ftol=0.0))
    g = np.abs(r.jac).max()
    assert g < 1e-9, f"reference did not converge: |g|max {g}"
    Wz, bz = r.x[: K * C].reshape(K, C), r.x[K * C:]
    # cross-check with scikit-learn on the standardised features
    # (for K = 2 it fits one logistic d = W1 - W0 with penalty |d|^2 / 2; at
    # the optimum W0 = -W1 = d / 2, whose penalty is |d|^2 / 4: C = 2 / l2)
    clf = LogisticRegression(C=(2.0 if K == 2 else 1.0) / l2, tol=1e-12, max_iter=100000)
    clf.fit(Z, y, sample_weight=sw)
    Wsk = clf.coef_ if K > 2 else np.vstack([-clf.coef_ / 2, clf.coef_ / 2])
    rel = np.abs(Wsk - Wz).max() / np.abs(Wz).max()
    assert rel < 1e-5, f"scikit-learn disagrees with the reference: {rel:.2e}"
    Wr = Wz / sd
    br = bz - Wr @ mu
    return Wr, br - br.mean(), r.fun


def clustered(rng, counts, C, spread):
    centres = rng.normal(0, spread, size=(len(counts), C))
    X = np.concatenate([centres[k] + rng.normal(0, 1, size=(c, C)) for k, c in enumerate(counts)])
    y = np.concatenate([np.full(c, k) for k, c in enumerate(counts)])
    perm = rng.permutation(len(y))
    return X[perm], y[perm]


def balanced(y, K):
    cnt = np.bincount(y, minlength=K)
    return len(y) / (K * cnt.astype(np.float64))


def main():
    rng = np.random.default_rng(20261128)
    cases = []
    X, y = clustered(rng, [35, 18, 7], 5, 1.0)
    cases.append((X, y, 3, True, 1e-2))
    X, y = clustered(rng, [20, 20], 8, 4.0)
    cases.append((X, y, 2, False, 1e-1))
    X, y = clustered(rng, [60, 50, 40, 30, 18, 2], 16, 1.5)
    X[:, 7] = 0.25
    cases.append((X, y, 6, True, 1e-3))
    X, y = clustered(rng, [30, 30, 30, 30], 12, 1.0)
    X *= np.logspace(-3, 2, 12)
    cases.append((X, y, 4, True, 1e-2))

    tensors = {"ncases": np.array([len(cases)], dtype=np.int64)}
    for k, (X, y, K, weighted, l2) in enumerate(cases):
        X = X.astype(np.float32)
        cw = balanced(y, K) if weighted else np.ones(K)
        W, b, loss = solve(X, y, K, cw, l2)
        p = f"case{k}."
        tensors[p + "X"] = X
        tensors[p + "y"] = y.astype(np.int64)
        tensors[p + "K"] = np.array([K], dtype=np.int64)
        tensors[p + "class_w"] = cw.astype(np.float64)
        tensors[p + "weighted"] = np.array([int(weighted)], dtype=np.int64)
        tensors[p + "l2"] = np.array([l2])
        tensors[p + "W"] = W
        tensors[p + "b"] = b
        tensors[p + "loss"] = np.array([loss])
        print(f"case {k}: n {len(y)} C {X.shape[1]} K {K} l2 {l2:g}: loss {loss:.10f}")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file(tensors, OUT, metadata={"generator": "tools/make_probe_fixtures.py"})
    print("wrote", OUT)


if __name__ == "__main__":
    main()
