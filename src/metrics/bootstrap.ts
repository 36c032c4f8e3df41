/**
 * Poisson bootstrap confidence intervals for top-1 accuracy, macro-F1 and
 * ECE. Replicate r gives sample i the weight w ~ Poisson(1) drawn from a
 * hash of (seed, global sample index, r), so the weights do not depend on
 * batch order or sharding: merged shards give the same intervals as one
 * pass. Intervals are percentile intervals of the replicate values.
 * A replicate that draws weight 0 for every sample (probability e^-n, 5% at
 * n = 3) has no metrics and is left out: counted as 0 it would pull a
 * perfect classifier's lower bound down to 0.
 */
import { calibrationBin, type SampleRecords } from "./snapshot.ts";
import { safeDiv } from "./classification.ts";

/** A confidence interval. */
export interface Interval {
  /** Lower percentile bound. */
  lo: number;
  /** Upper percentile bound. */
  hi: number;
}

/** Bootstrap intervals of the headline metrics. */
export interface BootstrapIntervals {
  /** Number of replicates. */
  replicates: number;
  /** Seed of the weights. */
  seed: number;
  /** Coverage of the intervals, e.g. 0.95. */
  level: number;
  /** Interval of top-1 accuracy. */
  top1: Interval;
  /** Interval of macro-F1. */
  macro_f1: Interval;
  /** Interval of ECE. */
  ece: Interval;
}

/** murmur3's 32-bit finalizer: a well-mixed hash of a 32-bit word. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Cumulative Poisson(1) probabilities P(K <= k), k = 0..15. */
const POISSON1_CDF: Float64Array = (() => {
  const cdf = new Float64Array(16);
  let p = Math.exp(-1), F = p;
  for (let k = 0; k < 16; k++) {
    cdf[k] = F;
    p /= k + 1;
    F += p;
  }
  return cdf;
})();

/** Hash key of replicate `r` under `seed` (mixed once per replicate). */
function replicateKey(seed: number, r: number): number {
  return fmix32(fmix32(seed ^ 0x9e3779b9) ^ Math.imul(r + 1, 0x27d4eb2f));
}

/** Poisson(1) weight of sample `index` in the replicate with key `key`. */
function weightOf(key: number, index: number): number {
  let h = fmix32(key ^ Math.imul(index >>> 0, 0x85ebca6b));
  if (index >= 4294967296) h = fmix32(h ^ Math.floor(index / 4294967296));
  const u = (h + 0.5) / 4294967296;
  let k = 0;
  while (k < 15 && u > POISSON1_CDF[k]) k++;
  return k;
}

/** Poisson(1) weight of sample `index` in replicate `r` (inversion of a hashed uniform). */
export function poissonWeight(seed: number, index: number, r: number): number {
  return weightOf(replicateKey(seed, r), index);
}

function percentile(sorted: Float64Array, q: number): number {
  // Linear interpolation between order statistics (numpy's default).
  const pos = q * (sorted.length - 1);
  const i = Math.floor(pos), f = pos - i;
  return i + 1 < sorted.length ? sorted[i] * (1 - f) + sorted[i + 1] * f : sorted[i];
}

/** Bootstrap intervals from per-sample records. */
export function bootstrapIntervals(
  samples: SampleRecords,
  numClasses: number,
  bins: number,
  { replicates = 200, seed = 0, level = 0.95 }: {
    replicates?: number;
    seed?: number;
    level?: number;
  } = {},
): BootstrapIntervals {
  const n = samples.label.length, C = numClasses;
  const top1 = new Float64Array(replicates),
    f1 = new Float64Array(replicates),
    ece = new Float64Array(replicates);
  const bin = new Int32Array(n);
  for (let i = 0; i < n; i++) bin[i] = calibrationBin(samples.conf[i], bins);
  const tp = new Float64Array(C), pred = new Float64Array(C), support = new Float64Array(C);
  const count = new Float64Array(bins),
    confSum = new Float64Array(bins),
    correct = new Float64Array(bins);
  const index = samples.index, label = samples.label, predicted = samples.pred, conf = samples.conf;
  let kept = 0; // replicates with a nonzero total weight, stored first
  for (let r = 0; r < replicates; r++) {
    tp.fill(0);
    pred.fill(0);
    support.fill(0);
    count.fill(0);
    confSum.fill(0);
    correct.fill(0);
    let total = 0, hits = 0;
    const key = replicateKey(seed, r);
    for (let i = 0; i < n; i++) {
      const w = weightOf(key, index[i]);
      if (w === 0) continue;
      const y = label[i], p = predicted[i], b = bin[i], ok = y === p ? w : 0;
      total += w;
      hits += ok;
      tp[y] += ok;
      pred[p] += w;
      support[y] += w;
      count[b] += w;
      confSum[b] += w * conf[i];
      correct[b] += ok;
    }
    if (total === 0) continue;
    top1[kept] = hits / total;
    let f = 0;
    for (let k = 0; k < C; k++) f += safeDiv(2 * tp[k], pred[k] + support[k]);
    f1[kept] = f / C;
    let e = 0;
    for (let b = 0; b < bins; b++) {
      if (count[b] > 0) e += Math.abs(correct[b] - confSum[b]) / total;
    }
    ece[kept++] = e;
  }
  const tail = (1 - level) / 2;
  const interval = (all: Float64Array): Interval => {
    // No sample at all (an empty shard): no spread to show, 0 as every ratio over nothing.
    if (kept === 0) return { lo: 0, hi: 0 };
    const v = all.subarray(0, kept).sort();
    return { lo: percentile(v, tail), hi: percentile(v, 1 - tail) };
  };
  return {
    replicates,
    seed,
    level,
    top1: interval(top1),
    macro_f1: interval(f1),
    ece: interval(ece),
  };
}

/**
 * Why a percentile bootstrap interval can miss its own estimate: a
 * statistic that resampling biases. With a few samples per class a
 * replicate lacks some classes, and macro-F1 over the model's classes drops.
 */
export const OUTSIDE_INTERVAL_NOTE =
  "(the estimate lies outside its bootstrap interval: too few samples per class for this interval)";

/** True if `value` lies outside [lo, hi] by more than rounding. */
export function outsideInterval(value: number | null | undefined, lo: number, hi: number): boolean {
  if (value === null || value === undefined || !Number.isFinite(value)) return false;
  const slack = 1e-9 * Math.max(1, Math.abs(value));
  return value < lo - slack || value > hi + slack;
}
