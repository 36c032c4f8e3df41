/**
 * Calibration judged on held-out data. `--calibration-split F` splits the
 * evaluated samples (seeded, stratified by label) into a fitting part (a
 * fraction F of each class) and an evaluation part; every method is fitted
 * on the first and all its metrics are computed on the second, next to the
 * uncalibrated model's on the same samples: one {@link CalibrationRow} per
 * method. `--calibrator FILE` gives the same table for a stored calibrator on
 * every sample. The metrics are the ones metrics.json defines (docs/metrics.md),
 * computed in float64 from the calibrated probabilities.
 */
import { MetricsInputError } from "../errors.ts";
import { mulberry32 } from "../random.ts";
import type { ReliabilityBin } from "./calibration.ts";
import { computeMetricsFromArrays } from "./report.ts";
import {
  CALIBRATION_METHODS,
  type CalibrationMethod,
  type Calibrator,
  type CalibratorSettings,
  fitCalibrator,
} from "./calibrators/index.ts";
import { softmaxRows } from "./calibrators/common.ts";

/** Calibration metrics of one method on the evaluation samples. */
export interface CalibrationRow {
  /** The method, or "none" for the uncalibrated softmax. */
  method: CalibrationMethod | "none";
  /** Why the method was not fitted (e.g. matrix scaling with too few samples); metrics are null then. */
  refused?: string;
  /** Mean negative log-likelihood (scikit-learn's clipped log loss). */
  nll: number | null;
  /** Multiclass Brier score (0..2). */
  brier: number | null;
  /** ECE, equal-width bins. */
  ece: number | null;
  /** Adaptive (equal-mass) ECE. */
  ace: number | null;
  /** Mean class-wise ECE. */
  classwise_ece: number | null;
  /** Top-1 accuracy (isotonic, histogram, Platt and matrix scaling can change predictions). */
  accuracy: number | null;
  /** Reliability table. */
  reliability: ReliabilityBin[] | null;
}

/** metrics.json's `calibration_split`. */
export interface CalibrationSplitReport {
  /** Fraction of each class used for fitting. */
  fraction: number;
  /** Seed of the split. */
  seed: number;
  /** Samples the methods were fitted on. */
  fit_samples: number;
  /** Samples every row's metrics are computed on. */
  eval_samples: number;
  /** Calibration bins of ECE, class-wise ECE, ACE groups (and histogram binning). */
  bins: number;
  /** "none" first, then one row per method. */
  rows: CalibrationRow[];
}

/** metrics.json's `calibrated`: a stored calibrator applied to every sample. */
export interface CalibratedReport {
  /** The calibrator file. */
  calibrator: string;
  /** Its method. */
  method: CalibrationMethod;
  /** Samples the rows are computed on. */
  samples: number;
  /** "none" and the calibrator's row. */
  rows: CalibrationRow[];
}

/**
 * Seeded stratified split: per class (in class order), the samples in order
 * are shuffled (Fisher-Yates, one mulberry32 stream) and the first
 * round(fraction · n_k) go to `fit`. Both lists are returned sorted.
 */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  fraction: number,
  seed: number,
): { fit: number[]; held: number[] } {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const list = byClass.get(labels[i]) ?? [];
    list.push(i);
    byClass.set(labels[i], list);
  }
  const rand = mulberry32(seed);
  const fit: number[] = [], held: number[] = [];
  for (const k of [...byClass.keys()].sort((a, b) => a - b)) {
    const idx = byClass.get(k)!;
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [idx[i], idx[j]] = [idx[j], idx[i]];
    }
    const m = Math.round(fraction * idx.length);
    fit.push(...idx.slice(0, m));
    held.push(...idx.slice(m));
  }
  return { fit: fit.sort((a, b) => a - b), held: held.sort((a, b) => a - b) };
}

/** Rows `idx` of an [n, C] array. */
function pickRows(values: ArrayLike<number>, C: number, idx: number[]): Float64Array {
  const out = new Float64Array(idx.length * C);
  idx.forEach((i, r) => {
    for (let c = 0; c < C; c++) out[r * C + c] = values[i * C + c];
  });
  return out;
}

/** The metrics of probabilities [n, C] against labels, as one row. */
export function calibrationRow(
  method: CalibrationRow["method"],
  probs: Float64Array,
  labels: ArrayLike<number>,
  C: number,
  bins: number,
): CalibrationRow {
  const m = computeMetricsFromArrays(labels, probs, {
    numClasses: C,
    input: "probs",
    calibrationBins: bins,
    keepScores: false,
  });
  return {
    method,
    nll: m.log_loss,
    brier: m.brier,
    ece: m.ece,
    ace: m.ace,
    classwise_ece: m.classwise_ece,
    accuracy: m.top1,
    reliability: m.reliability,
  };
}

/** Options of {@link calibrationSplitReport}. */
export interface CalibrationSplitOptions extends CalibratorSettings {
  /** Fraction of each class to fit on, in (0, 1). */
  fraction: number;
  /** Seed of the split (default 0). */
  seed?: number;
  /** Calibration bins (default 15). */
  bins?: number;
  /** Methods (default every method). */
  methods: readonly CalibrationMethod[];
}

/**
 * Fits every method on the fitting part of (logits, labels) and reports
 * each one's metrics on the evaluation part. A method that refuses the data
 * (matrix scaling with more parameters than samples) gets a row saying why.
 */
export function calibrationSplitReport(
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  C: number,
  opts: CalibrationSplitOptions,
): CalibrationSplitReport {
  const { fraction, seed = 0, bins = 15 } = opts;
  if (!(fraction > 0 && fraction < 1)) {
    throw new MetricsInputError(
      `the calibration split must be a fraction in (0, 1), got ${fraction}`,
    );
  }
  const { fit, held } = stratifiedSplit(labels, fraction, seed);
  if (fit.length === 0 || held.length === 0) {
    throw new MetricsInputError(
      `a calibration split of ${fraction} leaves ${fit.length} samples to fit and ` +
        `${held.length} to evaluate out of ${labels.length}; use more images or another fraction`,
    );
  }
  const fitData = {
    logits: pickRows(logits, C, fit),
    labels: Int32Array.from(fit, (i) => labels[i]),
    numClasses: C,
  };
  const heldLogits = pickRows(logits, C, held);
  const heldLabels = Int32Array.from(held, (i) => labels[i]);
  const rows = [calibrationRow("none", softmaxRows(heldLogits, C), heldLabels, C, bins)];
  for (const method of opts.methods) {
    let cal: Calibrator;
    try {
      cal = fitCalibrator(method, fitData, { histogramBins: bins, ...opts });
    } catch (e) {
      if (!(e instanceof MetricsInputError)) throw e;
      rows.push({
        method,
        refused: e.message,
        nll: null,
        brier: null,
        ece: null,
        ace: null,
        classwise_ece: null,
        accuracy: null,
        reliability: null,
      });
      continue;
    }
    rows.push(calibrationRow(method, cal.apply(heldLogits), heldLabels, C, bins));
  }
  return { fraction, seed, fit_samples: fit.length, eval_samples: held.length, bins, rows };
}

/** The uncalibrated and the calibrated rows of a stored calibrator on every sample. */
export function calibratedReport(
  calibrator: Calibrator,
  file: string,
  logits: ArrayLike<number>,
  labels: ArrayLike<number>,
  bins = 15,
): CalibratedReport {
  const C = calibrator.numClasses;
  return {
    calibrator: file,
    method: calibrator.method,
    samples: labels.length,
    rows: [
      calibrationRow("none", softmaxRows(logits, C), labels, C, bins),
      calibrationRow(calibrator.method, calibrator.apply(logits), labels, C, bins),
    ],
  };
}

/** What {@link calibrationReports} adds to metrics.json. */
export interface CalibrationReports {
  /** Every method fitted on one part and judged on the other. */
  calibration_split?: CalibrationSplitReport;
  /** A stored calibrator applied to every sample. */
  calibrated?: CalibratedReport;
}

/**
 * The `calibration_split` and `calibrated` entries of an evaluation from its
 * kept logits (metric label space) and labels; empty when neither is asked for.
 */
export function calibrationReports(
  logits: ArrayLike<number> | null,
  labels: ArrayLike<number>,
  C: number,
  opts: {
    split?: number;
    methods?: readonly CalibrationMethod[];
    seed?: number;
    bins?: number;
    calibrator?: { calibrator: Calibrator; file: string };
  },
): CalibrationReports {
  if (opts.split === undefined && !opts.calibrator) return {};
  if (!logits) throw new Error("calibration needs the logits kept by the metric state");
  const out: CalibrationReports = {};
  if (opts.split !== undefined) {
    out.calibration_split = calibrationSplitReport(logits, labels, C, {
      fraction: opts.split,
      seed: opts.seed,
      bins: opts.bins,
      methods: opts.methods ?? CALIBRATION_METHODS,
    });
  }
  if (opts.calibrator) {
    const { calibrator, file } = opts.calibrator;
    out.calibrated = calibratedReport(calibrator, file, logits, labels, opts.bins);
  }
  return out;
}
