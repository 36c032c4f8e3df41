"""Peer for the PCA benchmark: scikit-learn PCA(2) on 10,000 x 768 features.

Writes the features (raw little-endian float32) and sklearn's coordinates and
explained-variance ratios to OUT_DIR, for bench/peers/pca_compare.ts, and
prints sklearn's fit_transform times. Usage:
  /usr/bin/python3 bench/peers/pca_sklearn.py OUT_DIR
"""
import json
import sys
import time

import numpy as np
from sklearn.decomposition import PCA

out = sys.argv[1]
rng = np.random.default_rng(3)
N, D, RANK = 10_000, 768, 32
basis = rng.uniform(-1, 1, (RANK, D))
z = rng.standard_normal((N, RANK)) * (4 / np.arange(1, RANK + 1))
x = (z @ basis + 0.1 * rng.standard_normal((N, D))).astype(np.float32)
x.tofile(f"{out}/features.f32")
times = {}
for solver in ["full", "randomized"]:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        pca = PCA(n_components=2, svd_solver=solver, random_state=0)
        coords = pca.fit_transform(x)
        best = min(best, time.perf_counter() - t0)
    times[solver] = best
    if solver == "full":
        coords.astype(np.float64).tofile(f"{out}/sklearn_coords.f64")
        ratio = pca.explained_variance_ratio_.tolist()
json.dump({"rows": N, "dims": D, "seconds": times, "explained_variance_ratio": ratio},
          open(f"{out}/sklearn.json", "w"))
print(json.dumps({"sklearn": "1.2.1", "seconds_best_of_3": times, "ratio": ratio}))
