#!/usr/bin/env python3
"""Reference numbers for `visioneval compare` (tests/compare_test.ts).

usage: mcnemar_ref.py A.csv B.csv     McNemar of two prediction files (columns path,label,pred;
                                       eval's predictions.csv or the fixtures' reference CSVs),
                                       matched by path
       mcnemar_ref.py --grid          scipy.stats.binomtest(k, n).pvalue on a grid of (k, n)

Prints JSON. p-values come from scipy.stats.binomtest (exact two-sided binomial test at 1/2).
"""
import csv
import json
import sys

from scipy.stats import binomtest


def read(path):
    with open(path, newline="") as f:
        return {r["path"]: (int(r["label"]), int(r["pred"])) for r in csv.DictReader(f)}


def pair(a_path, b_path):
    a, b = read(a_path), read(b_path)
    assert a.keys() == b.keys(), "different image sets"
    n_b = sum(1 for p in a if a[p][1] == a[p][0] and b[p][1] != b[p][0])
    n_c = sum(1 for p in a if a[p][1] != a[p][0] and b[p][1] == b[p][0])
    p = binomtest(n_b, n_b + n_c).pvalue if n_b + n_c > 0 else 1.0
    return {"n": len(a), "b": n_b, "c": n_c, "p_value": p}


def grid():
    cases = [(k, n) for n in range(1, 41) for k in range(0, n + 1)]
    cases += [(10, 1000), (480, 1000), (499, 1000), (500, 1000), (4000, 9000), (12345, 25000),
              (150, 400), (1, 2000), (0, 5000), (2600, 5000)]
    return [{"k": k, "n": n, "p_value": binomtest(k, n).pvalue} for k, n in cases]


if __name__ == "__main__":
    if sys.argv[1:] == ["--grid"]:
        print(json.dumps(grid()))
    elif len(sys.argv) == 3:
        print(json.dumps(pair(sys.argv[1], sys.argv[2])))
    else:
        sys.exit(__doc__)
