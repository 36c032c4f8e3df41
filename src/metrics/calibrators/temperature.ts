/** Temperature scaling as a {@link Calibrator}: softmax(z / T), T fitted by src/metrics/calibration.ts. */
import { fitTemperature } from "../calibration.ts";
import { MetricsInputError } from "../../errors.ts";
import { type Calibrator, checkFitData, type FitData, numberParam, softmaxRows } from "./common.ts";

/** softmax(z / T). */
export class TemperatureCalibrator implements Calibrator {
  /** The method. */
  readonly method = "temperature" as const;
  /** Wraps a temperature T > 0 for C classes. */
  constructor(readonly numClasses: number, readonly temperature: number) {}

  /** softmax(z / T) of each row. */
  apply(logits: ArrayLike<number>): Float64Array {
    return softmaxRows(Float64Array.from(logits, (v) => v / this.temperature), this.numClasses);
  }

  /** `{temperature}`. */
  params(): Record<string, unknown> {
    return { temperature: this.temperature };
  }
}

/** Fits T minimising the mean NLL (Newton on 1/T, T in [0.05, 20]). */
export function fitTemperatureCalibrator(d: FitData): TemperatureCalibrator {
  checkFitData(d, "temperature");
  const fit = fitTemperature(d.logits, d.labels, d.numClasses);
  return new TemperatureCalibrator(d.numClasses, fit.temperature);
}

/** From stored params. */
export function temperatureFromParams(
  p: Record<string, unknown>,
  C: number,
  file: string,
): TemperatureCalibrator {
  const t = numberParam(p, "temperature", file);
  if (!(t > 0)) throw new MetricsInputError(`${file}: params.temperature must be positive`);
  return new TemperatureCalibrator(C, t);
}
