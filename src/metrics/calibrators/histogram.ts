/**
 * Histogram binning (Zadrozny & Elkan 2001), one-vs-rest: p_k = softmax(z)_k
 * falls into one of B equal-width bins `(lo, hi]` (the same bin rule as
 * ECE, {@link calibrationBin}), and is replaced by the fraction of samples of
 * class k among the fitting samples in that bin; a bin no fitting sample
 * reached keeps its midpoint. Rows are then renormalised (0 → uniform).
 */
import { calibrationBin } from "../snapshot.ts";
import { MetricsInputError } from "../../errors.ts";
import {
  arrayParam,
  type Calibrator,
  checkFitData,
  type FitData,
  renormalizeRows,
  softmaxRows,
} from "./common.ts";

/** Default number of bins. */
export const HISTOGRAM_BINS = 15;

/** One-vs-rest histogram binning. */
export class HistogramBinning implements Calibrator {
  /** The method. */
  readonly method = "histogram" as const;
  /** `values` [C, B] row-major: the calibrated probability of class k in bin b. */
  constructor(readonly numClasses: number, readonly bins: number, readonly values: Float64Array) {}

  /** The bin values of softmax(z), renormalised per row. */
  apply(logits: ArrayLike<number>): Float64Array {
    const C = this.numClasses, B = this.bins, p = softmaxRows(logits, C);
    for (let i = 0; i < p.length; i++) {
      p[i] = this.values[(i % C) * B + calibrationBin(p[i], B)];
    }
    return renormalizeRows(p, C);
  }

  /** `{bins, values: [[class 0's B values], ...]}`. */
  params(): Record<string, unknown> {
    const B = this.bins;
    const values = Array.from(
      { length: this.numClasses },
      (_, k) => [...this.values.subarray(k * B, (k + 1) * B)],
    );
    return { bins: B, values };
  }
}

/** Fits the C×B bin values. */
export function fitHistogramBinning(d: FitData, bins = HISTOGRAM_BINS): HistogramBinning {
  const n = checkFitData(d, "histogram");
  const C = d.numClasses, B = bins, p = softmaxRows(d.logits, C);
  const count = new Float64Array(C * B), positives = new Float64Array(C * B);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < C; k++) {
      const j = k * B + calibrationBin(p[i * C + k], B);
      count[j]++;
      if (d.labels[i] === k) positives[j]++;
    }
  }
  const values = new Float64Array(C * B);
  for (let j = 0; j < C * B; j++) {
    values[j] = count[j] > 0 ? positives[j] / count[j] : ((j % B) + 0.5) / B;
  }
  return new HistogramBinning(C, B, values);
}

/** From stored params. */
export function histogramFromParams(p: Record<string, unknown>, C: number, file: string) {
  const B = p.bins;
  if (!Number.isInteger(B) || (B as number) < 1) {
    throw new MetricsInputError(`${file}: params.bins must be a positive integer`);
  }
  const rows = p.values;
  if (!Array.isArray(rows) || rows.length !== C) {
    throw new MetricsInputError(`${file}: params.values must be ${C} rows of ${B} numbers`);
  }
  const values = new Float64Array(C * (B as number));
  rows.forEach((row, k) =>
    values.set(
      arrayParam({ row }, "row", B as number, `${file} (params.values[${k}])`),
      k * (B as number),
    )
  );
  return new HistogramBinning(C, B as number, values);
}
