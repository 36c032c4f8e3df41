/**
 * One-vs-rest ROC and precision-recall curves: computed from per-sample
 * (score, is-positive) pairs or from binned score histograms (what the GPU
 * metric state keeps), and plotted for a few chosen classes.
 */
import { categorical } from "./colormap.ts";
import { className, fmt, isNum } from "./format.ts";
import {
  axes,
  el,
  emptyPlot,
  legend,
  LinearScale,
  MUTED,
  pathThrough,
  svgRoot,
  title,
  tooltip,
} from "./svg.ts";
import type { ClassCurves, PrPoint, RocPoint } from "./types.ts";

/** A class's curves with their areas. */
export interface CurvePoints {
  /** ROC points from (0,0) to (1,1), one per distinct threshold. */
  roc: RocPoint[];
  /** PR points in order of increasing recall, one per distinct threshold. */
  pr: PrPoint[];
  /** Area under the ROC curve (trapezoids: tied scores count one half); NaN without positives or negatives. */
  auroc: number;
  /** Average precision: sum over thresholds of (R_n - R_{n-1}) P_n; NaN without positives. */
  auprc: number;
}

/**
 * Curves from groups of samples that share a threshold, visited from the
 * highest score down: `tp[g]` positives and `fp[g]` negatives in group g.
 */
function curvesFromGroups(tp: ArrayLike<number>, fp: ArrayLike<number>): CurvePoints {
  let P = 0, N = 0;
  for (let g = 0; g < tp.length; g++) {
    P += tp[g];
    N += fp[g];
  }
  const roc: RocPoint[] = [{ fpr: 0, tpr: 0 }];
  const pr: PrPoint[] = [];
  let t = 0, f = 0, auroc = 0, ap = 0, prevR = 0;
  for (let g = 0; g < tp.length; g++) {
    if (tp[g] === 0 && fp[g] === 0) continue;
    const t0 = t, f0 = f;
    t += tp[g];
    f += fp[g];
    if (P > 0 && N > 0) {
      roc.push({ fpr: f / N, tpr: t / P });
      auroc += ((f - f0) / N) * ((t + t0) / 2 / P);
    }
    if (P > 0) {
      const r = t / P, p = t / (t + f);
      pr.push({ recall: r, precision: p });
      ap += (r - prevR) * p;
      prevR = r;
    }
  }
  return {
    roc: P > 0 && N > 0 ? roc : [],
    pr,
    auroc: P > 0 && N > 0 ? auroc : NaN,
    auprc: P > 0 ? ap : NaN,
  };
}

/**
 * Curves of one class from per-sample scores (e.g. probs[:, k]) and whether each
 * sample is a positive (label == k). Tied scores form one threshold.
 */
export function curvesFromScores(
  scores: ArrayLike<number>,
  positive: ArrayLike<boolean | number>,
): CurvePoints {
  if (scores.length !== positive.length) {
    throw new RangeError(`${scores.length} scores but ${positive.length} labels`);
  }
  const order = Array.from({ length: scores.length }, (_, i) => i)
    .sort((a, b) => scores[b] - scores[a]);
  const tp: number[] = [], fp: number[] = [];
  for (let i = 0; i < order.length; i++) {
    const s = scores[order[i]];
    if (i === 0 || s !== scores[order[i - 1]]) {
      tp.push(0);
      fp.push(0);
    }
    if (positive[order[i]]) tp[tp.length - 1]++;
    else fp[fp.length - 1]++;
  }
  return curvesFromGroups(tp, fp);
}

/**
 * Curves of one class from score histograms over the same bins in ascending
 * score order: `positives[b]` / `negatives[b]` samples with a score in bin b.
 * Each bin is one threshold, so the areas are the binned approximation.
 */
export function curvesFromHistograms(
  positives: ArrayLike<number>,
  negatives: ArrayLike<number>,
): CurvePoints {
  if (positives.length !== negatives.length) {
    throw new RangeError(`histograms differ in length: ${positives.length} vs ${negatives.length}`);
  }
  const n = positives.length;
  const tp = Array.from({ length: n }, (_, i) => positives[n - 1 - i]);
  const fp = Array.from({ length: n }, (_, i) => negatives[n - 1 - i]);
  return curvesFromGroups(tp, fp);
}

/** Trapezoid area under ROC points (any order). */
export function rocArea(points: readonly RocPoint[]): number {
  const p = sortedRoc(points);
  let a = 0;
  for (let i = 1; i < p.length; i++) a += (p[i].fpr - p[i - 1].fpr) * (p[i].tpr + p[i - 1].tpr) / 2;
  return a;
}

/** Step area (average precision) under PR points (any order). */
export function prArea(points: readonly PrPoint[]): number {
  const p = sortedPr(points);
  let a = 0, prev = 0;
  for (const q of p) {
    a += (q.recall - prev) * q.precision;
    prev = q.recall;
  }
  return a;
}

function sortedRoc(points: readonly RocPoint[]): RocPoint[] {
  const p = points.filter((q) => isNum(q.fpr) && isNum(q.tpr))
    .sort((a, b) => a.fpr - b.fpr || a.tpr - b.tpr);
  if (p.length && (p[0].fpr > 0 || p[0].tpr > 0)) p.unshift({ fpr: 0, tpr: 0 });
  const last = p[p.length - 1];
  if (p.length && (last.fpr < 1 || last.tpr < 1)) p.push({ fpr: 1, tpr: 1 });
  return p;
}

function sortedPr(points: readonly PrPoint[]): PrPoint[] {
  return points.filter((q) => isNum(q.recall) && isNum(q.precision))
    .sort((a, b) => a.recall - b.recall || b.precision - a.precision);
}

/** Options of the curve plots. */
export interface CurvePlotOptions {
  /** Plot title. */
  title?: string;
  /** Width and height in pixels (default 460 × 440). */
  width?: number;
  /** Height in pixels. */
  height?: number;
  /** Most curves drawn (default 10). */
  maxCurves?: number;
}

function curvesPlot(
  kind: "roc" | "pr",
  curves: readonly ClassCurves[],
  names: readonly string[] | undefined,
  opts: CurvePlotOptions,
): string {
  const width = opts.width ?? 460, height = opts.height ?? 440;
  const heading = opts.title ??
    (kind === "roc" ? "ROC curves (one vs rest)" : "Precision-recall curves");
  const shown = curves.slice(0, opts.maxCurves ?? 10);
  if (shown.length === 0) return emptyPlot(width, height, heading, "no curves");
  const frame = { x: 64, y: 44, width: width - 64 - 20, height: height - 44 - 56 };
  const xs = new LinearScale(0, 1, frame.x, frame.x + frame.width);
  const ys = new LinearScale(0, 1, frame.y + frame.height, frame.y);
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const parts: string[] = [
    title(16, 26, heading),
    axes(frame, xs, ys, {
      xLabel: kind === "roc" ? "False positive rate" : "Recall",
      yLabel: kind === "roc" ? "True positive rate" : "Precision",
      xTicks: ticks,
      yTicks: ticks,
    }),
  ];
  if (kind === "roc") {
    parts.push(el("line", {
      x1: xs.map(0),
      y1: ys.map(0),
      x2: xs.map(1),
      y2: ys.map(1),
      stroke: MUTED,
      "stroke-dasharray": "5 4",
    }));
  }
  const items = shown.map((c, i) => {
    const color = categorical(i, Math.min(10, shown.length));
    const name = className(c.class, names);
    let pts: [number, number][];
    let area: number;
    if (kind === "roc") {
      const p = sortedRoc(c.roc);
      pts = p.map((q) => [xs.map(q.fpr), ys.map(q.tpr)]);
      area = isNum(c.auroc) ? c.auroc : p.length ? rocArea(p) : NaN;
    } else {
      const p = sortedPr(c.pr);
      // Step plot: precision holds until the next recall value is reached.
      pts = [];
      p.forEach((q, j) => {
        const prevR = j === 0 ? 0 : p[j - 1].recall;
        pts.push([xs.map(prevR), ys.map(q.precision)], [xs.map(q.recall), ys.map(q.precision)]);
      });
      area = isNum(c.auprc) ? c.auprc : p.length ? prArea(p) : NaN;
    }
    const label = `${name} (${kind === "roc" ? "AUC" : "AP"} ${fmt(area, 3)})`;
    if (pts.length > 1) {
      parts.push(el("path", {
        d: pathThrough(pts),
        fill: "none",
        stroke: color,
        "stroke-width": 2,
        "stroke-linejoin": "round",
      }, tooltip(label)));
    }
    return { label, color, shape: "line" as const };
  });
  const lg = legend(items, 0, 0, { maxChars: 30 });
  const lx = kind === "roc" ? frame.x + frame.width - lg.width - 8 : frame.x + 8;
  parts.push(legend(items, lx, frame.y + frame.height - lg.height - 8, { maxChars: 30 }).svg);
  return svgRoot(width, height, parts, { title: heading });
}

/** ROC curves of the given classes, AUC in the legend. */
export function rocCurvesSvg(
  curves: readonly ClassCurves[],
  names?: readonly string[],
  opts: CurvePlotOptions = {},
): string {
  return curvesPlot("roc", curves, names, opts);
}

/** Precision-recall curves of the given classes, AP in the legend. */
export function prCurvesSvg(
  curves: readonly ClassCurves[],
  names?: readonly string[],
  opts: CurvePlotOptions = {},
): string {
  return curvesPlot("pr", curves, names, opts);
}
