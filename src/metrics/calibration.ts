/**
 * Calibration metrics. Confidence = the largest probability, correct =
 * argmax equals the label. B equal-width bins `(lo, hi]` (see
 * {@link calibrationBin}); ECE = Σ_b (n_b/n)|acc_b - conf_b| over non-empty
 * bins, MCE = max_b |acc_b - conf_b|; adaptive ECE splits the samples sorted
 * by confidence (stable) into B groups of equal size (numpy.array_split);
 * class-wise ECE is the mean over all C classes of the binned calibration
 * error of p_k against 1[label = k]. Temperature scaling minimises the
 * mean NLL of softmax(z / T) over T in [0.05, 20] (Newton on 1/T, where it is convex).
 */
import { calibrationBin, type MetricSnapshot } from "./snapshot.ts";
import { MetricsInputError } from "../errors.ts";

/** One reliability-diagram bin. */
export interface ReliabilityBin {
  /** Lower edge (exclusive, except 0 for the first bin). */
  lo: number;
  /** Upper edge (inclusive). */
  hi: number;
  /** Samples in the bin. */
  count: number;
  /** Mean confidence, null for an empty bin. */
  confidence: number | null;
  /** Accuracy, null for an empty bin. */
  accuracy: number | null;
}

/** ECE, MCE and the reliability table of binned (count, Σconf, Σcorrect). */
export function binnedCalibration(
  count: ArrayLike<number>,
  confSum: ArrayLike<number>,
  correct: ArrayLike<number>,
): { ece: number; mce: number; reliability: ReliabilityBin[] } {
  const B = count.length;
  let n = 0;
  for (let b = 0; b < B; b++) n += count[b];
  let ece = 0, mce = 0;
  const reliability: ReliabilityBin[] = [];
  for (let b = 0; b < B; b++) {
    const bin: ReliabilityBin = {
      lo: b / B,
      hi: (b + 1) / B,
      count: count[b],
      confidence: null,
      accuracy: null,
    };
    if (count[b] > 0) {
      bin.confidence = confSum[b] / count[b];
      bin.accuracy = correct[b] / count[b];
      const gap = Math.abs(bin.accuracy - bin.confidence);
      ece += (count[b] / n) * gap;
      mce = Math.max(mce, gap);
    }
    reliability.push(bin);
  }
  return { ece, mce, reliability };
}

/** ECE / MCE / reliability of a snapshot. */
export function snapshotCalibration(s: MetricSnapshot): ReturnType<typeof binnedCalibration> {
  return binnedCalibration(s.calibCount, s.calibConfSum, s.calibCorrect);
}

/** Class-wise ECE: the per-class errors and their mean over all C classes. */
export function classwiseEce(s: MetricSnapshot): { mean: number; perClass: number[] } {
  const C = s.numClasses, B = s.calibrationBins, n = s.numSamples;
  const perClass: number[] = [];
  for (let k = 0; k < C; k++) {
    let e = 0;
    for (let b = 0; b < B; b++) {
      const i = k * B + b;
      if (s.classwiseCount[i] > 0) {
        // (n_b / n) |mean(y) - mean(p)| = |Σy - Σp| / n
        e += Math.abs(s.classwisePositives[i] - s.classwiseProbSum[i]) / n;
      }
    }
    perClass.push(n ? e : 0);
  }
  return { mean: perClass.reduce((a, b) => a + b, 0) / C, perClass };
}

/**
 * Adaptive (equal-mass) ECE from per-sample confidence and correctness:
 * stable sort by confidence, `groups` contiguous groups, the first
 * `n mod groups` one sample larger.
 */
export function adaptiveEce(
  conf: ArrayLike<number>,
  correct: ArrayLike<number>,
  groups: number,
): number {
  const n = conf.length;
  if (n === 0) return 0;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => conf[a] - conf[b] || a - b);
  const base = Math.floor(n / groups), extra = n % groups;
  let at = 0, ace = 0;
  for (let g = 0; g < groups; g++) {
    const size = base + (g < extra ? 1 : 0);
    if (size === 0) continue;
    let c = 0, a = 0;
    for (let j = at; j < at + size; j++) {
      c += conf[order[j]];
      a += correct[order[j]];
    }
    ace += (size / n) * Math.abs(a / size - c / size);
    at += size;
  }
  return ace;
}

/** Mean NLL of softmax(z / T) over rows of `logits` (n×C), in float64. */
export function temperatureNll(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  C: number,
  T: number,
): number {
  const n = labels.length;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const row = i * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[row + c] / T);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(logits[row + c] / T - m);
    total += m + Math.log(s) - logits[row + labels[i]] / T;
  }
  return total / n;
}

/** Calibration of softmax(z / T) computed in float64 from logits. */
export function calibrationFromLogits(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  C: number,
  T: number,
  bins: number,
): ReturnType<typeof binnedCalibration> {
  const count = new Float64Array(bins),
    confSum = new Float64Array(bins),
    correct = new Float64Array(bins);
  const n = labels.length;
  for (let i = 0; i < n; i++) {
    const row = i * C;
    let pred = 0, m = logits[row];
    for (let c = 1; c < C; c++) if (logits[row + c] > m) m = logits[row + (pred = c)];
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp((logits[row + c] - m) / T);
    const conf = 1 / s;
    const b = calibrationBin(conf, bins);
    count[b]++;
    confSum[b] += conf;
    correct[b] += pred === labels[i] ? 1 : 0;
  }
  return binnedCalibration(count, confSum, correct);
}

/** The interval [lo, hi] {@link fitTemperature} searches T in by default. */
export const TEMPERATURE_RANGE: readonly [number, number] = [0.05, 20];

/**
 * Why a fitted temperature is not to be trusted, or undefined: a T at an end
 * of {@link TEMPERATURE_RANGE} means the NLL was still falling there. At the
 * low end the fitting samples are all classified right (sharper is always
 * better: T would go to 0); at the high end the logits carry no signal.
 */
export function temperatureAtBound(T: number): string | undefined {
  const [lo, hi] = TEMPERATURE_RANGE;
  if (T <= lo * (1 + 1e-6)) {
    return `the temperature stopped at the search bound ${lo}: the NLL still falls as T -> 0, ` +
      `which happens when every fitting sample is classified right; fit on more samples, ` +
      `mistakes included, before applying it`;
  }
  if (T >= hi * (1 - 1e-6)) {
    return `the temperature stopped at the search bound ${hi}: the NLL still falls as T grows, ` +
      `so the logits barely tell the classes apart on the fitting samples; check the labels ` +
      `and the model`;
  }
  return undefined;
}

/** Result of {@link fitTemperature}. */
export interface TemperatureScaling {
  /** The fitted temperature T. */
  temperature: number;
  /** Mean NLL at T = 1. */
  nll_before: number;
  /** Mean NLL at the fitted T. */
  nll_after: number;
  /** ECE at T = 1. */
  ece_before: number;
  /** ECE at the fitted T. */
  ece_after: number;
  /** MCE at T = 1. */
  mce_before: number;
  /** MCE at the fitted T. */
  mce_after: number;
  /** Reliability table at T = 1. */
  reliability_before: ReliabilityBin[];
  /** Reliability table at the fitted T. */
  reliability_after: ReliabilityBin[];
}

/**
 * Mean NLL of softmax(β z) and its first two derivatives in β = 1/T. The NLL
 * is convex in β: the derivative is mean(E_p[z] - z_label) and the second
 * derivative mean(Var_p[z]) ≥ 0.
 */
function nllMoments(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  C: number,
  beta: number,
): { f: number; g: number; h: number } {
  const n = labels.length;
  let f = 0, g = 0, h = 0;
  for (let i = 0; i < n; i++) {
    const row = i * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[row + c]);
    let s = 0, s1 = 0, s2 = 0;
    for (let c = 0; c < C; c++) {
      const d = logits[row + c] - m; // shift by the max: exponents ≤ 0
      const e = Math.exp(beta * d);
      s += e;
      s1 += e * d;
      s2 += e * d * d;
    }
    const mean = s1 / s, zy = logits[row + labels[i]] - m;
    f += Math.log(s) - beta * zy;
    g += mean - zy;
    h += s2 / s - mean * mean;
  }
  return { f: f / n, g: g / n, h: h / n };
}

/**
 * Fits the temperature minimising the mean NLL of softmax(z / T) over T in
 * [lo, hi]: safeguarded Newton on β = 1/T, where the NLL is convex (a
 * bracket on the sign of the derivative, bisection when a Newton step
 * leaves it), until β moves by less than `tol` relative. The fixtures'
 * golden-section reference temperatures agree to 3e-8 relative.
 * Reports NLL / ECE before and after.
 */
export function fitTemperature(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  C: number,
  bins = 15,
  { lo = TEMPERATURE_RANGE[0], hi = TEMPERATURE_RANGE[1], tol = 1e-12 }: {
    lo?: number;
    hi?: number;
    tol?: number;
  } = {},
): TemperatureScaling {
  if (labels.length === 0) {
    throw new MetricsInputError("temperature scaling needs at least one sample");
  }
  let a = 1 / hi, b = 1 / lo; // bracket on β
  let beta = Math.min(Math.max(1, a), b);
  for (let iter = 0; iter < 100; iter++) {
    const { g, h } = nllMoments(logits, labels, C, beta);
    if (g > 0) b = beta;
    else a = beta;
    let next = h > 0 ? beta - g / h : NaN;
    if (!(next > a && next < b)) next = (a + b) / 2;
    const done = Math.abs(next - beta) <= tol * beta || b - a <= tol * beta;
    beta = next;
    if (done) break;
  }
  const T = 1 / beta;
  const before = calibrationFromLogits(logits, labels, C, 1, bins);
  const after = calibrationFromLogits(logits, labels, C, T, bins);
  return {
    temperature: T,
    nll_before: temperatureNll(logits, labels, C, 1),
    nll_after: temperatureNll(logits, labels, C, T),
    ece_before: before.ece,
    ece_after: after.ece,
    mce_before: before.mce,
    mce_after: after.mce,
    reliability_before: before.reliability,
    reliability_after: after.reliability,
  };
}
