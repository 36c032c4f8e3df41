/**
 * The calibrator registry: fit any method by name, and save / load a fitted
 * calibrator as a versioned JSON file:
 * `{"format": "visioneval-calibrator", "version": 1, "method", "num_classes",
 * "params", "fitted_on": {...}}`.
 */
import { MetricsInputError, UsageError } from "../../errors.ts";
import { VERSION } from "../../version.ts";
import {
  CALIBRATION_METHODS,
  type CalibrationMethod,
  type Calibrator,
  type FitData,
} from "./common.ts";
import { fitTemperatureCalibrator, temperatureFromParams } from "./temperature.ts";
import { fitVectorScaling, vectorFromParams } from "./vector.ts";
import { fitMatrixScaling, MATRIX_L2, matrixFromParams } from "./matrix.ts";
import { fitPlattScaling, PLATT_C, plattFromParams } from "./platt.ts";
import { fitIsotonicCalibrator, isotonicFromParams } from "./isotonic.ts";
import { fitHistogramBinning, HISTOGRAM_BINS, histogramFromParams } from "./histogram.ts";

/** The `format` field of a calibrator file. */
export const CALIBRATOR_FORMAT = "visioneval-calibrator";
/** The calibrator file version this build writes and reads. */
export const CALIBRATOR_VERSION = 1;

/** Settings of the methods that have them. */
export interface CalibratorSettings {
  /** Bins of histogram binning (default 15). */
  histogramBins?: number;
  /** ODIR strength λ of matrix scaling (default 0.01). */
  matrixL2?: number;
  /** Inverse regularisation C of Platt scaling (default 1.0, scikit-learn's). */
  plattC?: number;
}

/** Parses a comma-separated list of method names ("all" = every method); a UsageError names `option`. */
export function parseMethods(s: string, option = "--method"): CalibrationMethod[] {
  if (s === "all") return [...CALIBRATION_METHODS];
  const names = s.split(",").map((x) => x.trim()).filter((x) => x);
  const bad = names.find((x) => !(CALIBRATION_METHODS as readonly string[]).includes(x));
  if (bad !== undefined || names.length === 0) {
    throw new UsageError(
      `${option}: unknown calibration method "${bad ?? s}"; use all or a list of ` +
        CALIBRATION_METHODS.join(", "),
    );
  }
  return [...new Set(names)] as CalibrationMethod[];
}

/** Fits `method` on float64 logits and labels. */
export function fitCalibrator(
  method: CalibrationMethod,
  data: FitData,
  settings: CalibratorSettings = {},
): Calibrator {
  switch (method) {
    case "temperature":
      return fitTemperatureCalibrator(data);
    case "vector":
      return fitVectorScaling(data);
    case "matrix":
      return fitMatrixScaling(data, settings.matrixL2 ?? MATRIX_L2);
    case "platt":
      return fitPlattScaling(data, settings.plattC ?? PLATT_C);
    case "isotonic":
      return fitIsotonicCalibrator(data);
    case "histogram":
      return fitHistogramBinning(data, settings.histogramBins ?? HISTOGRAM_BINS);
  }
}

/** The JSON object of a calibrator file. */
export interface CalibratorFile {
  /** Always "visioneval-calibrator". */
  format: string;
  /** File version (1). */
  version: number;
  /** The method. */
  method: CalibrationMethod;
  /** Number of classes the calibrator expects. */
  num_classes: number;
  /** The method's fitted parameters. */
  params: Record<string, unknown>;
  /** Where it was fitted (samples, source, visioneval version). */
  fitted_on: Record<string, unknown>;
}

/** The file object of a fitted calibrator. */
export function calibratorToJson(
  c: Calibrator,
  fittedOn: Record<string, unknown> = {},
): CalibratorFile {
  return {
    format: CALIBRATOR_FORMAT,
    version: CALIBRATOR_VERSION,
    method: c.method,
    num_classes: c.numClasses,
    params: c.params(),
    fitted_on: { ...fittedOn, visioneval: VERSION },
  };
}

/** A calibrator from a parsed file object; `file` names it in errors. */
export function calibratorFromJson(json: unknown, file = "calibrator"): Calibrator {
  const o = (json ?? {}) as Record<string, unknown>;
  if (o.format !== CALIBRATOR_FORMAT) {
    throw new MetricsInputError(
      `${file}: not a visioneval calibrator (format is not "${CALIBRATOR_FORMAT}"); ` +
        `write one with \`visioneval calibrate --method M ... --out DIR\``,
    );
  }
  if (o.version !== CALIBRATOR_VERSION) {
    throw new MetricsInputError(
      `${file}: calibrator version ${o.version} is not supported (this visioneval reads ` +
        `version ${CALIBRATOR_VERSION}); refit it with \`visioneval calibrate\``,
    );
  }
  const C = o.num_classes;
  if (!Number.isInteger(C) || (C as number) < 2) {
    throw new MetricsInputError(`${file}: num_classes must be an integer >= 2`);
  }
  const p = o.params;
  if (!p || typeof p !== "object") throw new MetricsInputError(`${file}: params missing`);
  const params = p as Record<string, unknown>, n = C as number;
  switch (o.method) {
    case "temperature":
      return temperatureFromParams(params, n, file);
    case "vector":
      return vectorFromParams(params, n, file);
    case "matrix":
      return matrixFromParams(params, n, file);
    case "platt":
      return plattFromParams(params, n, file);
    case "isotonic":
      return isotonicFromParams(params, n, file);
    case "histogram":
      return histogramFromParams(params, n, file);
  }
  throw new MetricsInputError(
    `${file}: unknown method "${o.method}" (known: ${CALIBRATION_METHODS.join(", ")})`,
  );
}

/** Reads a calibrator file. */
export async function readCalibrator(path: string): Promise<Calibrator> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new MetricsInputError(
      `${path}: cannot read the calibrator (${(e as Error).message}); check the --calibrator path`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new MetricsInputError(`${path}: not valid JSON (${(e as Error).message})`);
  }
  return calibratorFromJson(json, path);
}

/** Refuses a calibrator fitted for another number of classes. */
export function checkCalibratorClasses(c: Calibrator, numClasses: number, file: string): void {
  if (c.numClasses !== numClasses) {
    throw new MetricsInputError(
      `${file}: the calibrator was fitted for ${c.numClasses} classes but the model has ` +
        `${numClasses}; fit one on this model's outputs with \`visioneval calibrate\``,
    );
  }
}

export { CALIBRATION_METHODS, type CalibrationMethod, type Calibrator, type FitData };
