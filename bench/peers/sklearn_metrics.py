#!/usr/bin/env python3
"""scikit-learn peer of bench/metrics_bench.ts (opt-in; Debian: apt-get install python3-sklearn).

Computes the same metrics as `visioneval metrics` on the same data: the logits
written by `deno run -A bench/metrics_data.ts N C DIR` (float32 [N, C] .npy and
int32 labels). Prints one JSON object with the wall time of each step, the
total, samples/s and the metric values.

usage: /usr/bin/python3 bench/peers/sklearn_metrics.py DIR/bench_logits_NxC.npy
"""
import json
import sys
import time

import numpy as np
from scipy.special import softmax
from sklearn import metrics as M
from sklearn.preprocessing import label_binarize


def ece_numpy(conf, correct, bins=15):
    b = np.clip(np.ceil(conf * bins).astype(np.int64) - 1, 0, bins - 1)
    n = len(conf)
    count = np.bincount(b, minlength=bins)
    s_conf = np.bincount(b, weights=conf, minlength=bins)
    s_corr = np.bincount(b, weights=correct, minlength=bins)
    nz = count > 0
    gap = np.abs(s_corr[nz] / count[nz] - s_conf[nz] / count[nz])
    return float(np.sum(count[nz] / n * gap)), float(gap.max())


def main():
    path = sys.argv[1]
    logits = np.load(path)
    labels = np.load(path[:-4] + ".labels.npy").astype(np.int64)
    n, C = logits.shape
    classes = np.arange(C)
    times = {}
    out = {"num_samples": int(n), "num_classes": int(C)}
    t_all = time.perf_counter()

    def step(name, fn):
        t = time.perf_counter()
        r = fn()
        times[name] = time.perf_counter() - t
        return r

    probs = step("softmax", lambda: softmax(logits.astype(np.float64), axis=1))
    pred = step("argmax", lambda: probs.argmax(axis=1))
    out["top1"] = step("accuracy", lambda: float(M.accuracy_score(labels, pred)))
    out["top5"] = step("top5", lambda: float(M.top_k_accuracy_score(labels, probs, k=5, labels=classes)))
    out["balanced_accuracy"] = step("balanced_accuracy", lambda: float(M.balanced_accuracy_score(labels, pred)))
    for avg in ("macro", "weighted", "micro"):
        p, r, f, _ = step(f"prf_{avg}", lambda: M.precision_recall_fscore_support(
            labels, pred, labels=classes, average=avg, zero_division=0))
        out[f"f1_{avg}"] = float(f)
    out["mcc"] = step("mcc", lambda: float(M.matthews_corrcoef(labels, pred)))
    out["cohen_kappa"] = step("kappa", lambda: float(M.cohen_kappa_score(labels, pred)))
    out["log_loss"] = step("log_loss", lambda: float(M.log_loss(labels, probs, labels=classes)))
    onehot = step("binarize", lambda: label_binarize(labels, classes=classes))
    out["brier"] = step("brier", lambda: float(np.mean(np.sum((probs - onehot) ** 2, axis=1))))
    out["auroc_macro"] = step("auroc", lambda: float(M.roc_auc_score(labels, probs, multi_class="ovr", average="macro", labels=classes)))
    out["auprc_macro"] = step("auprc", lambda: float(M.average_precision_score(onehot, probs, average="macro")))
    step("confusion", lambda: M.confusion_matrix(labels, pred, labels=classes))
    conf = probs.max(axis=1)
    out["ece"], out["mce"] = step("ece", lambda: ece_numpy(conf, (pred == labels).astype(np.float64)))
    total = time.perf_counter() - t_all
    out["seconds"] = total
    out["samples_per_s"] = n / total
    out["step_seconds"] = times
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
