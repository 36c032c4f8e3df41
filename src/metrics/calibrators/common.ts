/**
 * What every post-hoc calibrator shares: the {@link Calibrator} interface
 * (fitted on float64 logits and labels, applied to logits, saved as JSON),
 * the float64 softmax, and the one-vs-rest renormalisation.
 */
import { MetricsInputError } from "../../errors.ts";

/** The calibration methods, in the order tables list them. */
export const CALIBRATION_METHODS = [
  "temperature",
  "vector",
  "matrix",
  "platt",
  "isotonic",
  "histogram",
] as const;

/** A post-hoc calibration method. */
export type CalibrationMethod = typeof CALIBRATION_METHODS[number];

/** A fitted calibrator: maps logits [n, C] to calibrated probabilities [n, C]. */
export interface Calibrator {
  /** The method. */
  readonly method: CalibrationMethod;
  /** Number of classes C. */
  readonly numClasses: number;
  /** Calibrated probabilities (rows sum to 1) of row-major logits [n, C]. */
  apply(logits: ArrayLike<number>): Float64Array;
  /** The fitted parameters, as stored in the calibrator file's `params`. */
  params(): Record<string, unknown>;
}

/** Logits and labels a calibrator is fitted on (float64 arithmetic throughout). */
export interface FitData {
  /** Row-major logits [n, C]. */
  logits: ArrayLike<number>;
  /** n labels in 0..C-1. */
  labels: ArrayLike<number>;
  /** Number of classes C. */
  numClasses: number;
}

/** Number of rows of `values` with C columns, or a MetricsInputError. */
export function rowCount(values: ArrayLike<number>, C: number, what: string): number {
  const n = values.length / C;
  if (!Number.isInteger(n)) {
    throw new MetricsInputError(
      `${what}: ${values.length} values do not form rows of ${C} classes`,
    );
  }
  return n;
}

/** Checks the fit data: rows of C, labels in range, at least one sample. */
export function checkFitData(d: FitData, method: string): number {
  const n = rowCount(d.logits, d.numClasses, `${method} calibration`);
  if (d.labels.length !== n) {
    throw new MetricsInputError(
      `${method} calibration: ${d.labels.length} labels for ${n} rows of logits`,
    );
  }
  if (n === 0) throw new MetricsInputError(`${method} calibration needs at least one sample`);
  for (let i = 0; i < n; i++) {
    const y = d.labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= d.numClasses) {
      throw new MetricsInputError(
        `${method} calibration: label ${y} of sample ${i} is outside 0..${d.numClasses - 1}`,
      );
    }
  }
  return n;
}

/** softmax of each row of `z` [n, C] in float64 (shifted by the row maximum). */
export function softmaxRows(z: ArrayLike<number>, C: number): Float64Array {
  const n = z.length / C;
  const p = new Float64Array(n * C);
  for (let i = 0; i < n; i++) {
    const row = i * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, z[row + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += p[row + c] = Math.exp(z[row + c] - m);
    for (let c = 0; c < C; c++) p[row + c] /= s;
  }
  return p;
}

/**
 * Divides each row of one-vs-rest probabilities by its sum, in place; a row
 * summing to 0 becomes uniform (scikit-learn's CalibratedClassifierCV rule).
 */
export function renormalizeRows(p: Float64Array, C: number): Float64Array {
  for (let row = 0; row < p.length; row += C) {
    let s = 0;
    for (let c = 0; c < C; c++) s += p[row + c];
    for (let c = 0; c < C; c++) p[row + c] = s > 0 ? p[row + c] / s : 1 / C;
  }
  return p;
}

/** Reads a finite number `key` of a calibrator's params, or throws naming the file. */
export function numberParam(params: Record<string, unknown>, key: string, file: string): number {
  const v = params[key];
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new MetricsInputError(`${file}: params.${key} must be a finite number`);
  }
  return v;
}

/** Reads a numeric array `key` of length `len` from a calibrator's params. */
export function arrayParam(
  params: Record<string, unknown>,
  key: string,
  len: number,
  file: string,
): Float64Array {
  const v = params[key];
  if (
    !Array.isArray(v) || v.length !== len ||
    v.some((x) => typeof x !== "number" || !Number.isFinite(x))
  ) {
    throw new MetricsInputError(`${file}: params.${key} must be ${len} finite numbers`);
  }
  return Float64Array.from(v as number[]);
}
