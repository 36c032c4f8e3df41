/**
 * Comparing classifiers on the same images: per model, the headline metrics
 * (top-1, macro-F1, log loss, ECE) with bootstrap intervals; per pair,
 * McNemar's exact test, paired-bootstrap intervals of the differences, the
 * per-class recall/F1 deltas and the 2x2 agreement table; over all models,
 * the matrix of how often two models predict the same class.
 *
 * The paired bootstrap resamples images, the same resample for every model:
 * replicate r gives image i (its position in the matched list) the Poisson(1)
 * weight of src/metrics/bootstrap.ts, so each replicate's difference is
 * measured on one and the same weighted set of images. Intervals are
 * percentile intervals (numpy's linear interpolation).
 */
import { MetricsInputError } from "../errors.ts";
import { poissonWeight } from "./bootstrap.ts";
import type { Interval } from "./bootstrap.ts";
import { safeDiv } from "./classification.ts";
import { calibrationBin } from "./snapshot.ts";
import { mcnemar, type McNemarTest } from "./mcnemar.ts";

/** One model's results on the matched images (all arrays in the same image order). */
export interface ModelRecords {
  /** Model name shown in tables. */
  name: string;
  /** Predicted class per image (metric label space). */
  pred: Int32Array;
  /** Confidence (largest probability) per image. */
  conf: Float64Array;
  /**
   * Log loss of each image (scikit-learn's: probabilities clipped to
   * [eps, 1 - eps] and renormalised), or null when the run kept no
   * per-image probabilities.
   */
  nll: Float64Array | null;
}

/** The headline metrics compared. */
export const COMPARED_METRICS = ["top1", "macro_f1", "log_loss", "ece"] as const;
/** One of {@link COMPARED_METRICS}. */
export type ComparedMetric = typeof COMPARED_METRICS[number];
/** Whether a larger value of the metric is better. */
export const HIGHER_IS_BETTER: Readonly<Record<ComparedMetric, boolean>> = {
  top1: true,
  macro_f1: true,
  log_loss: false,
  ece: false,
};

/** A metric value with its bootstrap interval (null where it cannot be computed). */
export interface ValueWithInterval {
  /** Value on the matched images. */
  value: number | null;
  /** Percentile bootstrap interval, or null. */
  interval: Interval | null;
}

/** A model's headline metrics on the matched images. */
export interface ModelSummary {
  /** Model name. */
  name: string;
  /** Each metric with its interval. */
  metrics: Record<ComparedMetric, ValueWithInterval>;
}

/** One class's recall and F1 for both models of a pair. */
export interface ClassDelta {
  /** Class index (metric label space). */
  class: number;
  /** Class name. */
  name: string;
  /** Images of the class. */
  support: number;
  /** Recall of A, of B, and A - B. */
  recall: { a: number; b: number; delta: number };
  /** F1 of A, of B, and A - B. */
  f1: { a: number; b: number; delta: number };
}

/** Everything about one pair of models (A = first, B = second). */
export interface PairComparison {
  /** Name of model A. */
  a: string;
  /** Name of model B. */
  b: string;
  /** McNemar's exact test on the discordant images. */
  mcnemar: McNemarTest;
  /** 2x2 table of correctness: both right, A only, B only, both wrong. */
  agreement: { both_right: number; a_only: number; b_only: number; both_wrong: number };
  /** Images where both models predict the same class. */
  same_prediction: number;
  /** A - B per metric, with its paired-bootstrap interval. */
  differences: Record<ComparedMetric, ValueWithInterval>;
  /** Per-class recall/F1 deltas, largest |delta| first. */
  per_class: ClassDelta[];
}

/** The comparison of two or more models on the same images. */
export interface Comparison {
  /** Images compared. */
  num_samples: number;
  /** Classes of the label space. */
  num_classes: number;
  /** Per-model summaries. */
  models: ModelSummary[];
  /** Every pair (i < j). */
  pairs: PairComparison[];
  /** Fraction of images on which models i and j predict the same class. */
  prediction_agreement: number[][];
  /** Bootstrap settings. */
  bootstrap: { replicates: number; seed: number; level: number; method: string };
  /** Equal-width bins of ECE. */
  calibration_bins: number;
}

/** Options of {@link compareModels}. */
export interface CompareOptions {
  /** Bootstrap replicates (default 1000; 0 = no intervals). */
  replicates?: number;
  /** Seed of the bootstrap weights (default 0). */
  seed?: number;
  /** Interval coverage (default 0.95). */
  level?: number;
  /** Equal-width ECE bins (default 15). */
  bins?: number;
  /** Class names (default: the indices). */
  classNames?: readonly string[];
}

/** Per-image loss and bin of a model, precomputed once for every replicate. */
interface Prepared {
  ok: Uint8Array;
  bin: Int32Array;
  nll: Float64Array | null;
}

function prepare(m: ModelRecords, label: Int32Array, bins: number): Prepared {
  const n = label.length;
  const ok = new Uint8Array(n), bin = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    ok[i] = m.pred[i] === label[i] ? 1 : 0;
    bin[i] = calibrationBin(m.conf[i], bins);
  }
  return { ok, bin, nll: m.nll };
}

/** The four metrics of one model under image weights `w` (null = all 1). */
function weightedMetrics(
  m: ModelRecords,
  p: Prepared,
  label: Int32Array,
  C: number,
  bins: number,
  w: Uint8Array | null,
  scratch: Float64Array,
): Record<ComparedMetric, number | null> {
  const n = label.length;
  scratch.fill(0);
  // scratch layout: tp[C] pred[C] support[C] count[B] confSum[B] correct[B]
  const tp = 0, pr = C, su = 2 * C, cnt = 3 * C, cs = 3 * C + bins, cr = 3 * C + 2 * bins;
  let total = 0, hits = 0, nll = 0;
  for (let i = 0; i < n; i++) {
    const wi = w ? w[i] : 1;
    if (wi === 0) continue;
    const ok = p.ok[i] * wi, b = p.bin[i];
    total += wi;
    hits += ok;
    scratch[tp + label[i]] += ok;
    scratch[pr + m.pred[i]] += wi;
    scratch[su + label[i]] += wi;
    scratch[cnt + b] += wi;
    scratch[cs + b] += wi * m.conf[i];
    scratch[cr + b] += ok;
    if (p.nll) nll += wi * p.nll[i];
  }
  let f1 = 0;
  for (let k = 0; k < C; k++) f1 += safeDiv(2 * scratch[tp + k], scratch[pr + k] + scratch[su + k]);
  let ece = 0;
  for (let b = 0; b < bins; b++) ece += Math.abs(scratch[cr + b] - scratch[cs + b]);
  return {
    top1: safeDiv(hits, total),
    macro_f1: f1 / C,
    log_loss: p.nll ? safeDiv(nll, total) : null,
    ece: safeDiv(ece, total),
  };
}

function percentile(sorted: Float64Array, q: number): number {
  const pos = q * (sorted.length - 1);
  const i = Math.floor(pos), f = pos - i;
  return i + 1 < sorted.length ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

function intervalOf(values: number[], level: number): Interval | null {
  if (values.length === 0) return null;
  const v = Float64Array.from(values).sort();
  const tail = (1 - level) / 2;
  return { lo: percentile(v, tail), hi: percentile(v, 1 - tail) };
}

/** Per-class recall and F1 from predictions. */
function perClass(pred: Int32Array, label: Int32Array, C: number) {
  const tp = new Float64Array(C), np = new Float64Array(C), sup = new Float64Array(C);
  for (let i = 0; i < label.length; i++) {
    sup[label[i]]++;
    np[pred[i]]++;
    if (pred[i] === label[i]) tp[label[i]]++;
  }
  return {
    support: sup,
    recall: Array.from(tp, (t, k) => safeDiv(t, sup[k])),
    f1: Array.from(tp, (t, k) => safeDiv(2 * t, np[k] + sup[k])),
  };
}

function checkRecords(models: readonly ModelRecords[], label: Int32Array, C: number): void {
  if (models.length < 2) {
    throw new MetricsInputError(`a comparison needs at least two models, got ${models.length}`);
  }
  for (const m of models) {
    if (m.pred.length !== label.length || m.conf.length !== label.length) {
      throw new MetricsInputError(
        `model ${m.name}: ${m.pred.length} predictions for ${label.length} labels`,
      );
    }
    if (m.nll && m.nll.length !== label.length) {
      throw new MetricsInputError(`model ${m.name}: ${m.nll.length} log losses`);
    }
    for (let i = 0; i < label.length; i++) {
      if (!(m.pred[i] >= 0 && m.pred[i] < C && label[i] >= 0 && label[i] < C)) {
        throw new MetricsInputError(
          `model ${m.name}, image ${i}: label ${label[i]} / prediction ${m.pred[i]} ` +
            `outside the ${C} classes`,
        );
      }
    }
  }
}

/**
 * Compares models on the same images: `label` holds the true class of each
 * image, and every model's records are in that order.
 */
export function compareModels(
  models: readonly ModelRecords[],
  label: Int32Array,
  numClasses: number,
  opts: CompareOptions = {},
): Comparison {
  const C = numClasses, n = label.length;
  const R = opts.replicates ?? 1000, seed = opts.seed ?? 0, level = opts.level ?? 0.95;
  const bins = opts.bins ?? 15;
  checkRecords(models, label, C);
  const prepared = models.map((m) => prepare(m, label, bins));
  const scratch = new Float64Array(3 * C + 3 * bins);
  const observed = models.map((m, j) =>
    weightedMetrics(m, prepared[j], label, C, bins, null, scratch)
  );
  // replicates[j][metric] = the metric of model j in each replicate.
  const reps = models.map(() =>
    Object.fromEntries(COMPARED_METRICS.map((k) => [k, [] as number[]])) as Record<
      ComparedMetric,
      number[]
    >
  );
  const w = new Uint8Array(n);
  for (let r = 0; r < R; r++) {
    for (let i = 0; i < n; i++) w[i] = poissonWeight(seed, i, r);
    models.forEach((m, j) => {
      const v = weightedMetrics(m, prepared[j], label, C, bins, w, scratch);
      for (const k of COMPARED_METRICS) if (v[k] !== null) reps[j][k].push(v[k]!);
    });
  }
  const summaries: ModelSummary[] = models.map((m, j) => ({
    name: m.name,
    metrics: Object.fromEntries(COMPARED_METRICS.map((k) => [k, {
      value: observed[j][k],
      interval: observed[j][k] === null ? null : intervalOf(reps[j][k], level),
    }])) as Record<ComparedMetric, ValueWithInterval>,
  }));
  const names = opts.classNames;
  const classes = models.map((m) => perClass(m.pred, label, C));
  const pairs: PairComparison[] = [];
  for (let a = 0; a < models.length; a++) {
    for (let b = a + 1; b < models.length; b++) {
      pairs.push(comparePair(a, b));
    }
  }
  function comparePair(a: number, b: number): PairComparison {
    const A = models[a], B = models[b];
    const okA = Array.from(prepared[a].ok, Boolean), okB = Array.from(prepared[b].ok, Boolean);
    let bothRight = 0, bothWrong = 0, same = 0;
    for (let i = 0; i < n; i++) {
      if (okA[i] && okB[i]) bothRight++;
      if (!okA[i] && !okB[i]) bothWrong++;
      if (A.pred[i] === B.pred[i]) same++;
    }
    const test = mcnemar(okA, okB);
    const differences = Object.fromEntries(COMPARED_METRICS.map((k) => {
      const va = observed[a][k], vb = observed[b][k];
      if (va === null || vb === null) return [k, { value: null, interval: null }];
      const d = reps[a][k].map((x, r) => x - reps[b][k][r]);
      return [k, { value: va - vb, interval: intervalOf(d, level) }];
    })) as Record<ComparedMetric, ValueWithInterval>;
    const ca = classes[a], cb = classes[b];
    const perClassDeltas: ClassDelta[] = Array.from({ length: C }, (_, k) => ({
      class: k,
      name: names?.[k] ?? String(k),
      support: ca.support[k],
      recall: { a: ca.recall[k], b: cb.recall[k], delta: ca.recall[k] - cb.recall[k] },
      f1: { a: ca.f1[k], b: cb.f1[k], delta: ca.f1[k] - cb.f1[k] },
    }));
    // Largest change first (of recall or F1), then by class index.
    const size = (d: ClassDelta) => Math.max(Math.abs(d.recall.delta), Math.abs(d.f1.delta));
    perClassDeltas.sort((x, y) => size(y) - size(x) || x.class - y.class);
    return {
      a: A.name,
      b: B.name,
      mcnemar: test,
      agreement: { both_right: bothRight, a_only: test.b, b_only: test.c, both_wrong: bothWrong },
      same_prediction: same,
      differences,
      per_class: perClassDeltas,
    };
  }
  const agreementMatrix = models.map((A) =>
    models.map((B) => {
      let same = 0;
      for (let i = 0; i < n; i++) if (A.pred[i] === B.pred[i]) same++;
      return safeDiv(same, n);
    })
  );
  return {
    num_samples: n,
    num_classes: C,
    models: summaries,
    pairs,
    prediction_agreement: agreementMatrix,
    bootstrap: {
      replicates: R,
      seed,
      level,
      method: "paired Poisson bootstrap over images (the same weights for every model)",
    },
    calibration_bins: bins,
  };
}

/** One line per pair and metric: which model is better, by how much, and whether it is significant. */
export function comparisonSummary(c: Comparison, alpha = 0.05): string[] {
  const lines: string[] = [];
  for (const p of c.pairs) {
    for (const k of COMPARED_METRICS) {
      const d = p.differences[k];
      if (d.value === null) {
        lines.push(`${k}: not compared (a run kept no per-image probabilities)`);
        continue;
      }
      const better = d.value === 0 ? "tie" : (d.value > 0) === HIGHER_IS_BETTER[k] ? p.a : p.b;
      const ci = d.interval ? ` [${fmtSigned(d.interval.lo)}, ${fmtSigned(d.interval.hi)}]` : "";
      // top-1: McNemar's exact test; the others: does the paired interval exclude 0?
      const significant = k === "top1"
        ? p.mcnemar.p_value < alpha
        : d.interval !== null && (d.interval.lo > 0 || d.interval.hi < 0);
      const why = k === "top1"
        ? `McNemar p = ${p.mcnemar.p_value.toPrecision(3)} (b = ${p.mcnemar.b}, c = ${p.mcnemar.c})`
        : `${Math.round(c.bootstrap.level * 100)}% paired interval ${
          significant ? "excludes" : "includes"
        } 0`;
      lines.push(
        `${k.padEnd(8)} ${p.a} - ${p.b} = ${fmtSigned(d.value)}${ci}: ${
          better === "tie" ? "tie" : `${better} better`
        }, ${significant ? "significant" : "not significant"} at ${alpha} (${why})`,
      );
    }
  }
  return lines;
}

function fmtSigned(x: number): string {
  return (x >= 0 ? "+" : "") + x.toFixed(4);
}
