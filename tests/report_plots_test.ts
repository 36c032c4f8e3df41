/**
 * SVG plots: well-formed XML in normal and edge cases (empty bins, 1 class,
 * 1000 classes, NaN metrics, long names), and the ROC/PR computations against
 * brute-force definitions and the metrics code.
 */
import assert from "node:assert/strict";
import { computeMetricsFromArrays } from "../src/metrics/report.ts";
import {
  confusedPairsSvg,
  confusionHeatmapSvg,
  confusionOverviewImage,
  mostConfusedPairs,
} from "../src/report/confusion.ts";
import {
  curvesFromHistograms,
  curvesFromScores,
  prArea,
  prCurvesSvg,
  rocArea,
  rocCurvesSvg,
} from "../src/report/curves.ts";
import {
  confidenceDistributionSvg,
  histogramsFromReliability,
} from "../src/report/distributions.ts";
import { perClassBarsSvg, perClassRows, perClassTableHtml } from "../src/report/perclass.ts";
import { reliabilityDiagramSvg } from "../src/report/reliability.ts";
import { embeddingScatterSvg } from "../src/report/scatter.ts";
import { niceTicks } from "../src/report/svg.ts";
import type { ReliabilityBin } from "../src/report/types.ts";
import { rng } from "./_helpers.ts";
import { assertWellFormedXml } from "./_xml_check.ts";

const LONG = 'an extremely long class name that would overflow every axis & <tooltip> "quoted"';

function bins15(fill: (b: number) => Partial<ReliabilityBin>): ReliabilityBin[] {
  return Array.from({ length: 15 }, (_, b) => ({
    lo: b / 15,
    hi: (b + 1) / 15,
    count: 0,
    confidence: null,
    accuracy: null,
    ...fill(b),
  }));
}

Deno.test("xml checker rejects broken markup (so the plot checks mean something)", () => {
  assert.equal(assertWellFormedXml(`<svg a="1"><g><text>x &amp; y</text></g><rect/></svg>`), 4);
  for (
    const bad of [
      "<svg><g></svg>",
      "<svg>a & b</svg>",
      `<svg a="1" a="2"/>`,
      "<svg><text>1 < 2</text></svg>",
      "<svg>",
    ]
  ) {
    assert.throws(() => assertWellFormedXml(bad), Error, bad);
  }
});

Deno.test("reliability diagram: normal, empty bins, no samples, NaN metrics", () => {
  const normal = reliabilityDiagramSvg(
    bins15((b) => b < 4 ? {} : { count: 10 * b, confidence: (b + 0.5) / 15, accuracy: b / 16 }),
    { ece: 0.0412, mce: NaN },
  );
  assertWellFormedXml(normal);
  assert.match(normal, /ECE 0\.0412/);
  assert.match(normal, /MCE n\/a/);
  // 11 non-empty bins -> 11 accuracy bars with tooltips; empty bins say so in the histogram tooltip.
  assert.equal((normal.match(/accuracy 0\.\d+, mean confidence/g) ?? []).length, 2 * 11);
  assert.equal((normal.match(/\(empty bin\)/g) ?? []).length, 4);
  const none = reliabilityDiagramSvg(bins15(() => ({})));
  assertWellFormedXml(none);
  assert.match(none, /no samples/);
  assertWellFormedXml(reliabilityDiagramSvg([]));
  // a single sample with confidence exactly 1
  const one = reliabilityDiagramSvg(
    bins15((b) => b === 14 ? { count: 1, confidence: 1, accuracy: 1 } : {}),
  );
  assertWellFormedXml(one);
});

Deno.test("confusion heatmap: 1 class, empty row, long names truncated with full-name tooltip", () => {
  assertWellFormedXml(confusionHeatmapSvg([[5]], ["only"]));
  assertWellFormedXml(confusionHeatmapSvg([]));
  const names = ["a", LONG, "c"];
  const svg = confusionHeatmapSvg([[3, 1, 0], [0, 0, 0], [2, 0, 7]], names);
  assertWellFormedXml(svg);
  assert.match(svg, /no samples of this true class/);
  assert.ok(
    svg.includes(
      "<title>an extremely long class name that would overflow every axis &amp; &lt;tooltip&gt;",
    ),
  );
  assert.ok(svg.includes(">an extremely long…<"), "truncated label");
  assert.match(svg, /3 of 4 \(75\.0%\)/);
  // 30 classes still a grid with 900 cells
  const C = 30;
  const cm = Array.from(
    { length: C },
    (_, i) => Array.from({ length: C }, (_, j) => (i === j ? 20 : (i * j) % 3)),
  );
  const big = confusionHeatmapSvg(cm);
  assertWellFormedXml(big);
  assert.equal((big.match(/<title>true: /g) ?? []).length, C * C);
});

Deno.test("most confused pairs: order, rates, 1000 classes, no mistakes", () => {
  const cm = [[5, 3, 0], [1, 4, 6], [0, 6, 2]];
  const pairs = mostConfusedPairs(cm, 10);
  assert.deepEqual(pairs.map((p) => [p.trueClass, p.predClass, p.count]), [[1, 2, 6], [2, 1, 6], [
    0,
    1,
    3,
  ], [1, 0, 1]]);
  assert.equal(pairs[0].rate, 6 / 11);
  const C = 1000, r = rng(5);
  const big = Array.from(
    { length: C },
    (_, i) =>
      Array.from(
        { length: C },
        (_, j) => (i === j ? 40 : r() < 0.003 ? 1 + Math.floor(r() * 5) : 0),
      ),
  );
  const t0 = performance.now();
  const svg = confusedPairsSvg(mostConfusedPairs(big, 25), undefined, { numClasses: C });
  assertWellFormedXml(svg);
  const img = confusionOverviewImage(big);
  assert.equal(img.data.length, C * C * 3);
  assert.ok(performance.now() - t0 < 5000);
  assert.match(confusedPairsSvg([], undefined), /no misclassifications/);
});

Deno.test("per-class: rows from metrics, 1000 classes show the 30 lowest F1, n/a for missing", () => {
  const C = 1000;
  const f1 = Array.from({ length: C }, (_, k) => ((k * 37) % 101) / 100);
  const rows = perClassRows({
    num_classes: C,
    f1: { per_class: f1 },
    precision: { per_class: f1 },
    recall: { per_class: f1.map((x, k) => (k === 7 ? NaN : x)) },
    support: Array(C).fill(3),
  });
  const svg = perClassBarsSvg(rows);
  assertWellFormedXml(svg);
  assert.match(svg, /30 classes with the lowest F1 \(of 1000; 10 with samples have F1 = 0\)/);
  const lowest = [...f1].sort((a, b) => a - b)[29];
  const shownF1 = [...svg.matchAll(/F1 (\d\.\d+)<\/title>/g)].map((m) => Number(m[1]));
  assert.equal(shownF1.length, 30);
  assert.ok(Math.max(...shownF1) <= lowest + 1e-9);
  const table = perClassTableHtml(rows);
  assert.equal((table.match(/<tr>/g) ?? []).length, C + 1);
  assertWellFormedXml(table);
  assert.match(table, /data-v="-Infinity">.*n\/a/);
  // Support and predictions from the confusion matrix when `support` is absent.
  const small = perClassRows({ confusion_matrix: [[2, 1], [0, 3]] }, [LONG]);
  assert.deepEqual(small.map((r) => [r.support, r.predicted]), [[3, 2], [3, 4]]);
  assert.equal(small[1].name, "class 1");
  assertWellFormedXml(perClassBarsSvg(small));
  assertWellFormedXml(perClassBarsSvg([]));
});

/** AUROC by its definition: P(score_pos > score_neg) + 0.5 P(tie). */
function bruteAuroc(scores: number[], pos: boolean[]): number {
  let s = 0, n = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!pos[i]) continue;
    for (let j = 0; j < scores.length; j++) {
      if (pos[j]) continue;
      s += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
      n++;
    }
  }
  return s / n;
}

/** AP by its definition: mean over positives of precision at their score threshold. */
function bruteAp(scores: number[], pos: boolean[]): number {
  let s = 0, P = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!pos[i]) continue;
    P++;
    let tp = 0, all = 0;
    for (let j = 0; j < scores.length; j++) {
      if (scores[j] >= scores[i]) {
        all++;
        if (pos[j]) tp++;
      }
    }
    s += tp / all;
  }
  return s / P;
}

Deno.test("curves: AUROC/AP from scores equal the brute-force definitions (with ties)", () => {
  const r = rng(11);
  let maxDiff = 0;
  for (const n of [2, 17, 200]) {
    const scores = Array.from({ length: n }, () => Math.round(r() * 20) / 20); // many ties
    const pos = scores.map((s) => r() < 0.3 + 0.4 * s);
    pos[0] = true;
    pos[1] = false;
    const c = curvesFromScores(scores, pos);
    maxDiff = Math.max(
      maxDiff,
      Math.abs(c.auroc - bruteAuroc(scores, pos)),
      Math.abs(c.auprc - bruteAp(scores, pos)),
      Math.abs(rocArea(c.roc) - c.auroc),
      Math.abs(prArea(c.pr) - c.auprc),
    );
    assert.deepEqual(c.roc[0], { fpr: 0, tpr: 0 });
    assert.deepEqual(c.roc.at(-1), { fpr: 1, tpr: 1 });
  }
  assert.ok(maxDiff < 1e-12, `max diff ${maxDiff}`);
  const none = curvesFromScores([0.1, 0.2], [false, false]);
  assert.ok(Number.isNaN(none.auroc) && Number.isNaN(none.auprc) && none.roc.length === 0);
});

Deno.test("curves: histograms with one score per bin equal the per-sample result; metrics agree", () => {
  const r = rng(12);
  const B = 50, pos = new Array(B).fill(0), neg = new Array(B).fill(0);
  const scores: number[] = [], labels: boolean[] = [];
  for (let i = 0; i < 400; i++) {
    const b = Math.floor(r() * B), p = r() < b / B;
    scores.push(b);
    labels.push(p);
    (p ? pos : neg)[b]++;
  }
  const a = curvesFromScores(scores, labels), h = curvesFromHistograms(pos, neg);
  assert.ok(Math.abs(a.auroc - h.auroc) < 1e-12 && Math.abs(a.auprc - h.auprc) < 1e-12);

  // Against the metrics module's exact one-vs-rest AUROC / AP.
  const C = 4, n = 300, probs: number[] = [], y: number[] = [];
  for (let i = 0; i < n; i++) {
    y.push(Math.floor(r() * C));
    const row = Array.from({ length: C }, (_, c) => Math.exp(2 * r() + (c === y[i] ? 1 : 0)));
    const s = row.reduce((u, v) => u + v, 0);
    probs.push(...row.map((v) => v / s));
  }
  const m = computeMetricsFromArrays(y, probs, { numClasses: C, input: "probs" });
  for (let k = 0; k < C; k++) {
    const c = curvesFromScores(
      Array.from({ length: n }, (_, i) => probs[i * C + k]),
      y.map((v) => v === k),
    );
    assert.ok(Math.abs(c.auroc - (m.auroc.per_class[k] as number)) < 1e-12, `auroc ${k}`);
    assert.ok(Math.abs(c.auprc - (m.auprc.per_class[k] as number)) < 1e-12, `ap ${k}`);
  }
});

Deno.test("curve plots: legend with areas, empty input, long names", () => {
  const c = curvesFromScores([0.9, 0.8, 0.3, 0.1], [true, false, true, false]);
  const curves = [{ class: 1, ...c }, { class: 0, roc: [], pr: [] }];
  const roc = rocCurvesSvg(curves, ["x", LONG]);
  assertWellFormedXml(roc);
  assert.match(roc, /\(AUC 0\.750\)/);
  assert.match(roc, /\(AUC n\/a\)/);
  const pr = prCurvesSvg(curves, ["x", LONG]);
  assertWellFormedXml(pr);
  assert.match(pr, /\(AP 0\.833\)/);
  assert.match(rocCurvesSvg([]), /no curves/);
});

Deno.test("confidence distributions: from reliability bins; only-correct and empty inputs", () => {
  const bins = bins15((b) => ({ count: 10, confidence: (b + 0.5) / 15, accuracy: b / 15 }));
  const h = histogramsFromReliability(bins);
  assert.equal(h.correct.reduce((a, b) => a + b, 0) + h.wrong.reduce((a, b) => a + b, 0), 150);
  assert.equal(h.correct[3], 2);
  assertWellFormedXml(confidenceDistributionSvg(h));
  const onlyCorrect = confidenceDistributionSvg({ correct: [0, 1, 5], wrong: [0, 0, 0] });
  assertWellFormedXml(onlyCorrect);
  assert.match(onlyCorrect, /Wrong \(n = 0\)/);
  assert.match(confidenceDistributionSvg({ correct: [], wrong: [] }), /no samples/);
});

Deno.test("embedding scatter: mistakes marked, NaN points dropped, degenerate extents, subsampling", () => {
  const r = rng(4);
  const pts = Array.from({ length: 300 }, (_, i) => ({
    x: r(),
    y: r(),
    label: i % 25,
    pred: i % 7 === 0 ? (i + 1) % 25 : i % 25,
  }));
  const svg = embeddingScatterSvg({ method: "umap", points: [...pts, { x: NaN, y: 1 }] });
  assertWellFormedXml(svg);
  const mistakes = pts.filter((p) => p.pred !== p.label).length;
  assert.equal((svg.match(/<title>true: /g) ?? []).length, mistakes);
  assert.match(svg, /\+ 5 more classes/);
  assert.match(svg, /mistake \(pred\. color\)/);
  assertWellFormedXml(
    embeddingScatterSvg({ method: "pca", points: [{ x: 1, y: 1, label: 0, pred: 0 }] }),
  );
  assertWellFormedXml(embeddingScatterSvg({ method: "pca", points: [] }));
  const many = Array.from(
    { length: 45000 },
    (_, i) => ({ x: Math.sin(i), y: Math.cos(i * 1.1), label: 0 }),
  );
  const sub = embeddingScatterSvg({ method: "tsne", points: many });
  assert.match(sub, /showing 15000 of 45000 points/);
});

Deno.test("nice ticks are round and cover the range", () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0, 254, 2), [0, 100, 200]);
  assert.deepEqual(niceTicks(-3.2, 7.9, 5), [-2, 0, 2, 4, 6]);
  assert.deepEqual(niceTicks(5, 5), [5]);
});

Deno.test("from snapshot: worst-class curves (exact and binned) agree with the metrics module", async () => {
  const { accumulateArrays } = await import("../src/metrics/snapshot.ts");
  const { computeMetrics } = await import("../src/metrics/report.ts");
  const { confidenceHistogramsFromSnapshot, mostConfidentMistakes, worstClassCurves } =
    await import(
      "../src/report/from_snapshot.ts"
    );
  const r = rng(21);
  const C = 6, n = 500, logits: number[] = [], y: number[] = [];
  for (let i = 0; i < n; i++) {
    y.push(Math.floor(r() * C));
    for (let c = 0; c < C; c++) logits.push(3 * r() + (c === y[i] ? 1.5 * (1 + (c % 3)) : 0));
  }
  const s = accumulateArrays(y, logits, { numClasses: C, input: "logits" });
  const m = computeMetrics(s);
  const exact = worstClassCurves(s, 3, m.auroc.per_class);
  assert.equal(exact.length, 3);
  const sortedAuc = [...(m.auroc.per_class as number[])].sort((a, b) => a - b);
  exact.forEach((c, i) => {
    assert.ok(
      Math.abs((c.auroc as number) - sortedAuc[i]) < 1e-12,
      `exact auroc of class ${c.class}`,
    );
    assert.ok(Math.abs((c.auprc as number) - (m.auprc.per_class[c.class] as number)) < 1e-12);
  });
  const binned = worstClassCurves({ ...s, scores: null }, C);
  for (const c of binned) {
    assert.ok(
      Math.abs((c.auroc as number) - (m.auroc_binned!.per_class[c.class] as number)) < 1e-12,
    );
    assert.ok(
      Math.abs((c.auprc as number) - (m.auprc_binned!.per_class[c.class] as number)) < 1e-12,
    );
  }
  const h = confidenceHistogramsFromSnapshot(s);
  const correct = h.correct.reduce((a, b) => a + b, 0), wrong = h.wrong.reduce((a, b) => a + b, 0);
  assert.equal(correct + wrong, n);
  assert.equal(correct / n, m.top1);
  const h2 = confidenceHistogramsFromSnapshot({ ...s, samples: null });
  assert.equal(h2.correct.length, 15);
  assert.equal(h2.correct.reduce((a, b) => a + b, 0), correct);
  const worst = mostConfidentMistakes(s, 5);
  assert.equal(worst.length, 5);
  assert.ok(
    worst.every((w, i) =>
      w.label !== w.pred && (i === 0 || worst[i - 1].confidence >= w.confidence)
    ),
  );
  assert.equal(mostConfidentMistakes({ ...s, samples: null }).length, 0);
});
