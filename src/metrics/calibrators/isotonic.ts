/**
 * Isotonic regression, one-vs-rest: for each class k a non-decreasing
 * step-free map of p_k = softmax(z)_k to the frequency of `label = k`, then
 * rows renormalised (a row summing to 0 becomes uniform). It reproduces
 * scikit-learn's `IsotonicRegression(out_of_bounds="clip")`: inputs within
 * {@link POOL_EPS} of a group's first are pooled (mean target), pool-adjacent-violators gives the least-squares fit,
 * prediction interpolates linearly between the fitted points and clips
 * outside them.
 */
import { MetricsInputError } from "../../errors.ts";
import {
  type Calibrator,
  checkFitData,
  type FitData,
  renormalizeRows,
  softmaxRows,
} from "./common.ts";

/**
 * Inputs closer than this to the first of a group are pooled, as scikit-learn
 * does (`numpy.finfo(float64).resolution`): probabilities that are equal
 * mathematically but differ by rounding count as ties.
 */
export const POOL_EPS = 1e-15;

/** One class's fitted map: thresholds `x` (increasing) and values `y`. */
export interface IsotonicMap {
  /** Input probabilities, strictly increasing. */
  x: number[];
  /** Fitted values at `x`, non-decreasing, in [0, 1]. */
  y: number[];
}

/** One-vs-rest isotonic regression. */
export class IsotonicCalibrator implements Calibrator {
  /** The method. */
  readonly method = "isotonic" as const;
  /** One fitted map per class. */
  constructor(readonly numClasses: number, readonly maps: IsotonicMap[]) {}

  /** The interpolated maps of softmax(z), renormalised per row. */
  apply(logits: ArrayLike<number>): Float64Array {
    const C = this.numClasses, p = softmaxRows(logits, C);
    for (let i = 0; i < p.length; i++) p[i] = interpolate(this.maps[i % C], p[i]);
    return renormalizeRows(p, C);
  }

  /** `{maps: [{x, y}, ...]}`. */
  params(): Record<string, unknown> {
    return { maps: this.maps };
  }
}

/** Linear interpolation clipped to the ends (scipy interp1d's interval choice). */
export function interpolate(map: IsotonicMap, v: number): number {
  const { x, y } = map, last = x.length - 1;
  if (last === 0 || v <= x[0]) return y[0];
  if (v >= x[last]) return y[last];
  // First index with x[hi] >= v (searchsorted left), as scipy picks the interval.
  let lo = 0, hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (x[mid] >= v) hi = mid;
    else lo = mid;
  }
  const slope = (y[hi] - y[lo]) / (x[hi] - x[lo]);
  return slope * (v - x[lo]) + y[lo];
}

/**
 * The least-squares non-decreasing fit of targets `t` at inputs `v`:
 * pooled duplicates, pool-adjacent-violators, and the interior points of
 * flat runs dropped (they change no interpolated value).
 */
export function fitIsotonic(v: ArrayLike<number>, t: ArrayLike<number>): IsotonicMap {
  const order = Array.from({ length: v.length }, (_, i) => i).sort((a, b) => v[a] - v[b] || a - b);
  // Pool (near-)equal inputs: one point per group, at its first input, weight = count.
  const xs: number[] = [], sums: number[] = [], weights: number[] = [];
  for (const i of order) {
    if (xs.length && v[i] - xs[xs.length - 1] < POOL_EPS) {
      sums[sums.length - 1] += t[i];
      weights[weights.length - 1]++;
    } else {
      xs.push(v[i]);
      sums.push(t[i]);
      weights.push(1);
    }
  }
  // PAVA over blocks (sum, weight, first point); merge while a block's mean ≥ the next's.
  const bSum: number[] = [], bW: number[] = [], bStart: number[] = [];
  for (let j = 0; j < xs.length; j++) {
    bSum.push(sums[j]);
    bW.push(weights[j]);
    bStart.push(j);
    while (bSum.length > 1) {
      const k = bSum.length - 1;
      if (bSum[k - 1] / bW[k - 1] < bSum[k] / bW[k]) break;
      bSum[k - 1] += bSum[k];
      bW[k - 1] += bW[k];
      bSum.pop();
      bW.pop();
      bStart.pop();
    }
  }
  const fitted = new Float64Array(xs.length);
  for (let k = 0; k < bStart.length; k++) {
    const end = k + 1 < bStart.length ? bStart[k + 1] : xs.length;
    fitted.fill(bSum[k] / bW[k], bStart[k], end);
  }
  const x: number[] = [], y: number[] = [];
  for (let j = 0; j < xs.length; j++) {
    const interior = j > 0 && j < xs.length - 1 && fitted[j - 1] === fitted[j] &&
      fitted[j] === fitted[j + 1];
    if (!interior) {
      x.push(xs[j]);
      y.push(fitted[j]);
    }
  }
  return { x, y };
}

/** Fits one map per class. */
export function fitIsotonicCalibrator(d: FitData): IsotonicCalibrator {
  const n = checkFitData(d, "isotonic");
  const C = d.numClasses, p = softmaxRows(d.logits, C);
  const v = new Float64Array(n), t = new Float64Array(n);
  const maps: IsotonicMap[] = [];
  for (let k = 0; k < C; k++) {
    for (let i = 0; i < n; i++) {
      v[i] = p[i * C + k];
      t[i] = d.labels[i] === k ? 1 : 0;
    }
    maps.push(fitIsotonic(v, t));
  }
  return new IsotonicCalibrator(C, maps);
}

/** From stored params. */
export function isotonicFromParams(p: Record<string, unknown>, C: number, file: string) {
  const maps = p.maps;
  const ok = (a: unknown, len?: number): a is number[] =>
    Array.isArray(a) && a.length > 0 && (len === undefined || a.length === len) &&
    a.every((v) => typeof v === "number" && Number.isFinite(v));
  if (!Array.isArray(maps) || maps.length !== C) {
    throw new MetricsInputError(`${file}: params.maps must list ${C} maps {x, y}`);
  }
  return new IsotonicCalibrator(
    C,
    maps.map((m, k) => {
      const { x, y } = (m ?? {}) as Record<string, unknown>;
      if (!ok(x) || !ok(y, x.length) || x.some((v, j) => j > 0 && !(v > x[j - 1]))) {
        throw new MetricsInputError(
          `${file}: params.maps[${k}] needs x (increasing) and y of the same length`,
        );
      }
      return { x, y };
    }),
  );
}
