#!/usr/bin/env python3
"""Writes tests/fixtures/embed_quality/cases.safetensors, the reference values
tests/test_embed_quality.c checks src/train/embed_quality.c against.

For each case k (0, 1, ...):
  case{k}.X          (n, C) float32 embeddings (the exact input of both sides)
  case{k}.y          (n,)   int64 labels in [0, K)
  case{k}.K          (1,)   int64 label range K
  case{k}.samples    (n,)   float64 sklearn.metrics.silhouette_samples(X, y, metric="cosine")
  case{k}.score      (1,)   float64 sklearn.metrics.silhouette_score(X, y, metric="cosine")
  case{k}.per_class  (K,)   float64 mean of samples per class (NaN for absent classes)
  case{k}.macro      (1,)   float64 mean of per_class over the classes present
  case{k}.pca        (n, 2) float64 sklearn PCA(2).fit_transform(X), each axis's sign
                            flipped so its largest-|loading| coordinate is positive
sklearn runs on X converted to float64 (the C code computes in double from the
float32 values), so the references carry no float32 rounding.

Cases cover K = 2..8, a singleton class, a label absent from [0, K), a zero row
and clustered as well as isotropic data; PCA data have distinct top eigenvalues.

Run from the repository root:  python3 tools/make_embed_quality_fixtures.py
Needs numpy, scikit-learn and safetensors (pip). The output is committed.
"""
import os

import numpy as np
import sklearn
from safetensors.numpy import save_file
from sklearn.decomposition import PCA
from sklearn.metrics import silhouette_samples, silhouette_score

OUT = os.path.join("tests", "fixtures", "embed_quality", "cases.safetensors")


def make_case(rng, n, C, K, centre_scale, singleton=None, absent=None, zero_row=False):
    present = [k for k in range(K) if k != absent]
    y = rng.choice(present, size=n)
    # every present class gets at least two members unless it is the singleton
    for j, k in enumerate(present):
        y[2 * j] = k
        y[2 * j + 1] = k
    if singleton is not None:
        y[y == singleton] = present[0] if present[0] != singleton else present[1]
        y[n - 1] = singleton
    centres = rng.normal(size=(K, C)) * centre_scale
    # anisotropic noise so the principal axes are well separated
    scales = np.linspace(2.0, 0.3, C)
    X = centres[y] + rng.normal(size=(n, C)) * scales
    X = X.astype(np.float32)
    if zero_row:
        X[3] = 0.0
    return X, y.astype(np.int64)


def pca_ref(X64):
    p = PCA(n_components=2, svd_solver="full")
    proj = p.fit_transform(X64)
    comps = p.components_
    for a in range(2):
        arg = int(np.argmax(np.abs(comps[a])))
        if comps[a, arg] < 0:
            proj[:, a] = -proj[:, a]
    return proj


def main():
    rng = np.random.default_rng(20240611)
    specs = [
        dict(n=50, C=8, K=2, centre_scale=1.0),
        dict(n=120, C=16, K=5, centre_scale=0.8, singleton=2),
        dict(n=300, C=32, K=8, centre_scale=0.5, absent=5),
        dict(n=500, C=24, K=6, centre_scale=1.5, zero_row=True, singleton=0, absent=4),
        dict(n=200, C=12, K=3, centre_scale=0.0),  # isotropic-ish: silhouettes near 0
    ]
    tensors = {}
    for k, spec in enumerate(specs):
        X, y = make_case(rng, **spec)
        K = spec["K"]
        X64 = X.astype(np.float64)
        s = silhouette_samples(X64, y, metric="cosine")
        score = silhouette_score(X64, y, metric="cosine")
        per = np.full(K, np.nan)
        for c in range(K):
            if np.any(y == c):
                per[c] = s[y == c].mean()
        macro = np.nanmean(per)
        tensors[f"case{k}.X"] = X
        tensors[f"case{k}.y"] = y
        tensors[f"case{k}.K"] = np.array([K], dtype=np.int64)
        tensors[f"case{k}.samples"] = s.astype(np.float64)
        tensors[f"case{k}.score"] = np.array([score], dtype=np.float64)
        tensors[f"case{k}.per_class"] = per
        tensors[f"case{k}.macro"] = np.array([macro], dtype=np.float64)
        tensors[f"case{k}.pca"] = np.ascontiguousarray(pca_ref(X64))
        print(f"case{k}: n={spec['n']} C={spec['C']} K={K} classes={np.unique(y).tolist()} "
              f"score={score:.6f} macro={macro:.6f}")
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    save_file(tensors, OUT, metadata={"made_by": "make_embed_quality_fixtures.py",
                                      "sklearn": sklearn.__version__, "ncases": str(len(specs))})
    print("wrote", OUT, os.path.getsize(OUT), "bytes")


if __name__ == "__main__":
    main()
