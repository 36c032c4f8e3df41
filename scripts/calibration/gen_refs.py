#!/usr/bin/python3
"""Reference fits of the post-hoc calibration methods (tests/metrics_calibrators_test.ts).

usage: gen_refs.py OUT.json [FIXTURES_DIR]
       gen_refs.py --table IN.json OUT.json

--table: IN.json holds `logits` [n*C], `labels`, `num_classes`, `fit` and `held` (sample
indices) and `bins`; OUT.json gets one row per method fitted on `fit` with its metrics on
`held` (uncalibrated row "none" first): NLL (sklearn.metrics.log_loss), Brier
(sum_c (p_c - onehot_c)^2), ECE over `bins` equal-width bins (lo, hi], adaptive ECE
(stable sort by confidence, numpy.array_split into `bins` groups), class-wise ECE
(mean over classes of the binned error of p_k against label == k) and accuracy.

Cases: seeded synthetic logits (rounded to float32, as a model's logits are) and,
when FIXTURES_DIR/metrics/overconfident_100class.json exists, that case's logits.
Each case is split into a fitting part and an application part; for every method
the file holds the calibrated probabilities (float64) of both parts:

* temperature: T minimising the mean NLL over [0.05, 20] (scipy bounded Brent, xatol 1e-13).
* vector (softmax(w*z + b)) and matrix (softmax(W z + b) + ODIR penalty
  lam * (sum_{i!=j} W_ij^2 / (C(C-1)) + sum b^2 / C), lam = 0.01): Newton's method in
  float64 with the exact Hessian (least-squares steps: b has a flat direction) and
  step halving, to a step below 1e-14.  A different solver from visioneval's L-BFGS on
  purpose: the objectives are convex, so both must reach the same probabilities.
* platt: scikit-learn LogisticRegression(C=1.0, penalty="l2", solver="newton-cg", tol=1e-10,
  max_iter=1000) per class on log_softmax(z)[:, k] vs (label == k); rows renormalised.
  (Not solver="lbfgs": scikit-learn stops it at ftol = 64 eps, ~1e-5 from the optimum.)
* isotonic: scikit-learn IsotonicRegression(out_of_bounds="clip") per class on
  softmax(z)[:, k]; rows renormalised (a zero row -> uniform, CalibratedClassifierCV's rule).
* histogram: 15 bins (lo, hi], bin = clip(ceil(p * 15) - 1, 0, 14); value = fraction of
  positives among the fitting samples in the bin, the bin midpoint when it is empty.
Softmax sums run left to right over the classes, as visioneval's do, so bin edges and
ties see the same float64 values.
"""
import json
import os
import sys
import warnings

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss

BINS = 15
L2 = 0.01


def seq_sum(e):
    s = e[:, 0].copy()
    for c in range(1, e.shape[1]):
        s = s + e[:, c]
    return s


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / seq_sum(e)[:, None]


def log_softmax(z):
    m = z.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(seq_sum(np.exp(z - m)))
    return z - lse[:, None]


def renormalize(p):
    s = seq_sum(p)
    out = np.full_like(p, 1.0 / p.shape[1])
    nz = s > 0
    out[nz] = p[nz] / s[nz, None]
    return out


def nll(z, y):
    return float(np.mean(-log_softmax(z)[np.arange(len(y)), y]))


def temperature(zf, yf):
    r = minimize_scalar(lambda t: nll(zf / t, yf), bounds=(0.05, 20), method="bounded",
                        options={"xatol": 1e-13, "maxiter": 10000})
    return float(r.x)


def newton(fgh, x, iters=200):
    f, g, h = fgh(x)
    for _ in range(iters):
        step = -np.linalg.lstsq(h, g, rcond=None)[0]
        t = 1.0
        while True:
            fn, gn, hn = fgh(x + t * step)
            if fn <= f + 1e-15 * abs(f) or t < 1e-10:
                break
            t /= 2
        x = x + t * step
        f, g, h = fn, gn, hn
        if np.max(np.abs(t * step)) < 1e-14:
            break
    return x


def vector_fgh(zf, yf):
    n, C = zf.shape
    onehot = np.eye(C)[yf]

    def fgh(x):
        w, b = x[:C], x[C:]
        zt = zf * w + b
        p = softmax(zt)
        f = nll(zt, yf)
        r = (p - onehot) / n
        g = np.concatenate([(r * zf).sum(0), r.sum(0)])
        A = (p[:, :, None] * np.eye(C)[None] - p[:, :, None] * p[:, None, :]) / n
        hww = np.einsum("ic,icd,id->cd", zf, A, zf)
        hwb = np.einsum("ic,icd->cd", zf, A)
        hbb = A.sum(0)
        return f, g, np.block([[hww, hwb], [hwb.T, hbb]])
    return fgh


def matrix_fgh(zf, yf):
    n, C = zf.shape
    onehot = np.eye(C)[yf]
    phi = np.concatenate([zf, np.ones((n, 1))], axis=1)  # [n, C+1]
    pen = np.zeros((C, C + 1))
    pen[:, :C] = 2 * L2 / (C * (C - 1))
    pen[np.arange(C), np.arange(C)] = 0
    pen[:, C] = 2 * L2 / C
    pen = pen.ravel()

    def fgh(x):
        theta = x.reshape(C, C + 1)
        zt = phi @ theta.T
        p = softmax(zt)
        f = nll(zt, yf) + 0.5 * np.sum(pen * x * x)
        g = (((p - onehot) / n).T @ phi).ravel() + pen * x
        A = (p[:, :, None] * np.eye(C)[None] - p[:, :, None] * p[:, None, :]) / n
        h = np.einsum("icd,ij,ik->cjdk", A, phi, phi).reshape(C * (C + 1), C * (C + 1))
        return f, g, h + np.diag(pen)
    return fgh


def fit_apply(method, zf, yf, zs):
    n, C = zf.shape
    if method == "temperature":
        t = temperature(zf, yf)
        return {"temperature": t}, [softmax(z / t) for z in zs]
    if method == "vector":
        x = newton(vector_fgh(zf, yf), np.concatenate([np.ones(C), np.zeros(C)]))
        return {}, [softmax(z * x[:C] + x[C:]) for z in zs]
    if method == "matrix":
        if C * (C + 1) > n:
            return None, None
        x0 = np.concatenate([np.eye(C), np.zeros((C, 1))], axis=1).ravel()
        theta = newton(matrix_fgh(zf, yf), x0).reshape(C, C + 1)
        return {}, [softmax(z @ theta[:, :C].T + theta[:, C]) for z in zs]
    if method == "platt":
        lf = log_softmax(zf)
        models = []
        for k in range(C):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = LogisticRegression(C=1.0, penalty="l2", solver="newton-cg", tol=1e-10,
                                       max_iter=1000).fit(lf[:, k:k + 1], (yf == k).astype(int))
            models.append(m)
        out = []
        for z in zs:
            lz = log_softmax(z)
            out.append(renormalize(np.stack(
                [models[k].predict_proba(lz[:, k:k + 1])[:, 1] for k in range(C)], axis=1)))
        return {"a": [float(m.coef_[0, 0]) for m in models],
                "b": [float(m.intercept_[0]) for m in models]}, out
    if method == "isotonic":
        pf = softmax(zf)
        models = [IsotonicRegression(out_of_bounds="clip").fit(pf[:, k], (yf == k).astype(float))
                  for k in range(C)]
        out = []
        for z in zs:
            p = softmax(z)
            out.append(renormalize(np.stack([models[k].predict(p[:, k]) for k in range(C)], 1)))
        return {}, out
    if method == "histogram":
        pf = softmax(zf)
        b = np.clip(np.ceil(pf * BINS) - 1, 0, BINS - 1).astype(int)
        values = np.zeros((C, BINS))
        for k in range(C):
            cnt = np.bincount(b[:, k], minlength=BINS)
            pos = np.bincount(b[:, k], weights=(yf == k).astype(float), minlength=BINS)
            values[k] = np.where(cnt > 0, pos / np.maximum(cnt, 1), (np.arange(BINS) + 0.5) / BINS)
        out = []
        for z in zs:
            p = softmax(z)
            bb = np.clip(np.ceil(p * BINS) - 1, 0, BINS - 1).astype(int)
            out.append(renormalize(values[np.arange(C)[None, :], bb]))
        return {}, out
    raise ValueError(method)


def synthetic(name, seed, C, n, n_fit, weights=None, scale=3.0, decimals=None):
    rng = np.random.default_rng(seed)
    y = rng.choice(C, size=n, p=weights)
    z = scale * (2.0 * np.eye(C)[y] + rng.normal(size=(n, C)))
    if decimals is not None:
        z = np.round(z, decimals)  # repeated values: ties for isotonic pooling
    z = z.astype(np.float32).astype(np.float64)
    return name, z, y, n_fit


def calibration_metrics(p, y, bins):
    n, C = p.shape
    pred = p.argmax(1)
    conf = p[np.arange(n), pred]
    correct = (pred == y).astype(float)
    binof = lambda v: np.clip(np.ceil(v * bins) - 1, 0, bins - 1).astype(int)
    def binned(v, t):
        b = binof(v)
        e = 0.0
        for j in range(bins):
            m = b == j
            if m.any():
                e += m.sum() / n * abs(t[m].mean() - v[m].mean())
        return e
    order = np.argsort(conf, kind="stable")
    ace = sum(len(g) / n * abs(correct[g].mean() - conf[g].mean())
              for g in np.array_split(order, bins) if len(g))
    onehot = np.eye(C)[y]
    return {
        "nll": float(log_loss(y, p, labels=list(range(C)))),
        "brier": float(np.mean(np.sum((p - onehot) ** 2, axis=1))),
        "ece": float(binned(conf, correct)),
        "ace": float(ace),
        "classwise_ece": float(np.mean([binned(p[:, k], (y == k).astype(float)) for k in range(C)])),
        "accuracy": float(correct.mean()),
    }


def table(in_path, out_path):
    with open(in_path) as f:
        d = json.load(f)
    C = d["num_classes"]
    z = np.array(d["logits"], dtype=np.float64).reshape(-1, C)
    y = np.array(d["labels"])
    fit, held = np.array(d["fit"]), np.array(d["held"])
    rows = [{"method": "none", **calibration_metrics(softmax(z[held]), y[held], d["bins"])}]
    for method in ["temperature", "vector", "matrix", "platt", "isotonic", "histogram"]:
        _, probs = fit_apply(method, z[fit], y[fit], [z[held]])
        if probs is None:
            rows.append({"method": method, "refused": True})
        else:
            rows.append({"method": method, **calibration_metrics(probs[0], y[held], d["bins"])})
    with open(out_path, "w") as f:
        json.dump({"rows": rows}, f)


def main():
    if sys.argv[1] == "--table":
        return table(sys.argv[2], sys.argv[3])
    out_path = sys.argv[1]
    fixtures = sys.argv[2] if len(sys.argv) > 2 else None
    cases = [
        synthetic("balanced_10class", 1, 10, 1000, 600),
        synthetic("imbalanced_4class_ties", 2, 4, 800, 500, [0.5, 0.25, 0.15, 0.1], 1.5, 0),
        synthetic("binary", 3, 2, 500, 300, None, 2.0),
    ]
    if fixtures:
        path = os.path.join(fixtures, "metrics", "overconfident_100class.json")
        if os.path.exists(path):
            with open(path) as f:
                d = json.load(f)
            z = np.array(d["logits"], dtype=np.float64)[:1600]
            cases.append(("overconfident_100class", z, np.array(d["labels"])[:1600], 1200))
    result = []
    for name, z, y, n_fit in cases:
        zf, yf, za = z[:n_fit], y[:n_fit], z[n_fit:]
        case = {"name": name, "num_classes": z.shape[1], "n_fit": n_fit,
                "logits": z.ravel().tolist(), "labels": y.tolist(), "methods": {}}
        for method in ["temperature", "vector", "matrix", "platt", "isotonic", "histogram"]:
            params, probs = fit_apply(method, zf, yf, [zf, za])
            if probs is None:
                case["methods"][method] = {"refused": True}
                continue
            case["methods"][method] = {"params": params, "fit": probs[0].ravel().tolist(),
                                       "apply": probs[1].ravel().tolist()}
        result.append(case)
        print(f"{name}: C={z.shape[1]} n={len(y)} fit={n_fit}", file=sys.stderr)
    with open(out_path, "w") as f:
        json.dump({"cases": result}, f)


if __name__ == "__main__":
    main()
