"""Reference metrics of one prediction case, for tests/metrics_gpu_test.ts.

Usage: metric_edges_ref.py CASE.json  (CASE: {"values": [[...], ...], "labels": [...],
"kind": "logits" | "probs", "k": 5, "bins": 15}). Prints the metrics as JSON, computed
from the definitions in docs/metrics.md with scikit-learn 1.2 and numpy in float64.

Logits go through a float64 softmax whose row sums are math.fsum (correctly rounded,
so independent of the order of the classes): numpy's plain e.sum(1) rounds
differently for rows that are permutations of each other and breaks ties the
probabilities truly have, which AUROC / AP count.
"""
import json
import math
import sys
import warnings

import numpy as np
from sklearn import metrics as M


def softmax(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / np.array([math.fsum(r) for r in e])[:, None]


def rank_hits(p, y, k, lower_first):
    """Label within the first k: classes above it plus tied ones on the given side."""
    hits = 0
    for row, t in zip(p, y):
        tied = row[:t] if lower_first else row[t + 1:]
        hits += int((row > row[t]).sum() + (tied == row[t]).sum()) < k
    return hits / len(y)


def reference(case):
    z = np.asarray(case["values"], np.float64)
    y = np.asarray(case["labels"], int)
    n, C = z.shape
    k, bins = case.get("k", 5), case.get("bins", 15)
    p = softmax(z) if case["kind"] == "logits" else np.clip(z, 0, 1)
    pred, conf = p.argmax(1), p.max(1)  # argmax: first maximum, as the project rule
    classes = list(range(C))
    warnings.simplefilter("ignore")
    r = {
        "top1": float((pred == y).mean()),
        # Ranks from the values themselves: softmax is monotone, and its float64
        # underflow to 0 would tie logits that differ by more than ~745.
        "topk": rank_hits(z, y, k, True),
        "topk_sklearn_ties": rank_hits(z, y, k, False),
        "balanced_accuracy": float(M.balanced_accuracy_score(y, pred)),
        "mcc": float(M.matthews_corrcoef(y, pred)),
        "log_loss": float(M.log_loss(y, p, labels=classes)),
        "brier": float(((p - np.eye(C)[y]) ** 2).sum(1).mean()),
        "confusion_matrix": M.confusion_matrix(y, pred, labels=classes).tolist(),
    }
    kappa = M.cohen_kappa_score(y, pred, labels=classes)
    r["cohen_kappa"] = 0.0 if np.isnan(kappa) else float(kappa)
    for name, f in [("precision", M.precision_score), ("recall", M.recall_score), ("f1", M.f1_score)]:
        r[name] = {"per_class": f(y, pred, labels=classes, average=None, zero_division=0).tolist()}
        for avg in ["macro", "weighted", "micro"]:
            r[name][avg] = float(f(y, pred, labels=classes, average=avg, zero_division=0))
    auroc, auprc = [], []
    for c in classes:
        t = (y == c).astype(int)
        one_sided = t.sum() in (0, n)
        auroc.append(None if one_sided else float(M.roc_auc_score(t, p[:, c])))
        auprc.append(None if one_sided else float(M.average_precision_score(t, p[:, c])))
    r["auroc"], r["auprc"] = auroc, auprc
    b = np.clip(np.ceil(conf * bins) - 1, 0, bins - 1).astype(int)
    gaps = [(float((b == j).mean()), abs(conf[b == j].mean() - (pred == y)[b == j].mean()))
            for j in range(bins) if (b == j).any()]
    r["ece"] = sum(w * g for w, g in gaps)
    r["mce"] = max(g for _, g in gaps)
    return r


if __name__ == "__main__":
    with open(sys.argv[1]) as f:
        print(json.dumps(reference(json.load(f))))
