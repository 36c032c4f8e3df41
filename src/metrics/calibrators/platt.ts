/**
 * Platt scaling, one-vs-rest: for each class k a logistic regression
 * `p_k = σ(a_k · log softmax(z)_k + b_k)` fitted on the binary target
 * `label = k`, then rows renormalised. The feature is the log-probability
 * rather than the raw logit because logits carry an arbitrary per-sample
 * shift. Each fit minimises scikit-learn's `LogisticRegression(C=1.0,
 * penalty="l2")` objective, `Σ_i logloss_i + a² / (2C)` (the intercept is not
 * penalised), by Newton's method with step halving (the 2×2 problem is
 * strictly convex when the class has positives and negatives).
 */
import {
  arrayParam,
  type Calibrator,
  checkFitData,
  type FitData,
  renormalizeRows,
} from "./common.ts";

/** scikit-learn's default inverse regularisation strength C. */
export const PLATT_C = 1.0;

/**
 * Intercept of a class absent from the fitting labels (−) or making up all of
 * them (+): σ(∓1000) is exactly 0 (1) in float64, a finite stand-in for ∓∞.
 */
const SATURATED = 1000;

/** One-vs-rest Platt scaling. */
export class PlattScaling implements Calibrator {
  /** The method. */
  readonly method = "platt" as const;
  /** Slopes `a` and intercepts `b`, one per class. */
  constructor(readonly numClasses: number, readonly a: Float64Array, readonly b: Float64Array) {}

  /** σ(a_k log p_k + b_k), renormalised per row. */
  apply(logits: ArrayLike<number>): Float64Array {
    const C = this.numClasses, logp = logSoftmaxRows(logits, C);
    const out = new Float64Array(logp.length);
    for (let i = 0; i < logp.length; i++) {
      out[i] = sigmoid(this.a[i % C] * logp[i] + this.b[i % C]);
    }
    return renormalizeRows(out, C);
  }

  /** `{a, b}`. */
  params(): Record<string, unknown> {
    return { a: [...this.a], b: [...this.b] };
  }
}

/** log softmax of each row: z - max - log Σ exp(z - max). */
export function logSoftmaxRows(z: ArrayLike<number>, C: number): Float64Array {
  const out = new Float64Array(z.length);
  for (let row = 0; row < z.length; row += C) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, z[row + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.exp(z[row + c] - m);
    const lse = m + Math.log(s);
    for (let c = 0; c < C; c++) out[row + c] = z[row + c] - lse;
  }
  return out;
}

function sigmoid(t: number): number {
  return t >= 0 ? 1 / (1 + Math.exp(-t)) : Math.exp(t) / (1 + Math.exp(t));
}

/** log(1 + e^t) without overflow. */
function softplus(t: number): number {
  return t > 0 ? t + Math.log1p(Math.exp(-t)) : Math.log1p(Math.exp(t));
}

/**
 * Minimises Σ_i [softplus(a x_i + b) - y_i (a x_i + b)] + a² / (2 Creg):
 * Newton from (0, 0), halving a step until the objective does not rise,
 * until the step is below 1e-13 relative (at most 200 iterations).
 */
export function fitLogistic1d(
  x: ArrayLike<number>,
  y: ArrayLike<number>,
  Creg = PLATT_C,
): [number, number] {
  const n = x.length;
  const objective = (a: number, b: number) => {
    let f = a * a / (2 * Creg);
    for (let i = 0; i < n; i++) {
      const t = a * x[i] + b;
      f += softplus(t) - y[i] * t;
    }
    return f;
  };
  let a = 0, b = 0, f = objective(a, b);
  for (let iter = 0; iter < 200; iter++) {
    let ga = a / Creg, gb = 0, haa = 1 / Creg, hab = 0, hbb = 0;
    for (let i = 0; i < n; i++) {
      const p = sigmoid(a * x[i] + b), r = p - y[i], w = p * (1 - p);
      ga += r * x[i];
      gb += r;
      haa += w * x[i] * x[i];
      hab += w * x[i];
      hbb += w;
    }
    const det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    let da = -(hbb * ga - hab * gb) / det, db = -(haa * gb - hab * ga) / det;
    let fNew = objective(a + da, b + db);
    for (let k = 0; k < 50 && fNew > f; k++) {
      da /= 2;
      db /= 2;
      fNew = objective(a + da, b + db);
    }
    if (fNew > f) break;
    a += da;
    b += db;
    f = fNew;
    if (Math.abs(da) <= 1e-13 * (1 + Math.abs(a)) && Math.abs(db) <= 1e-13 * (1 + Math.abs(b))) {
      break;
    }
  }
  return [a, b];
}

/** Fits a and b of every class. */
export function fitPlattScaling(d: FitData, Creg = PLATT_C): PlattScaling {
  const n = checkFitData(d, "platt");
  const C = d.numClasses, logp = logSoftmaxRows(d.logits, C);
  const a = new Float64Array(C), b = new Float64Array(C);
  const x = new Float64Array(n), y = new Float64Array(n);
  for (let k = 0; k < C; k++) {
    let positives = 0;
    for (let i = 0; i < n; i++) {
      x[i] = logp[i * C + k];
      positives += y[i] = d.labels[i] === k ? 1 : 0;
    }
    if (positives === 0 || positives === n) b[k] = positives ? SATURATED : -SATURATED;
    else [a[k], b[k]] = fitLogistic1d(x, y, Creg);
  }
  return new PlattScaling(C, a, b);
}

/** From stored params. */
export function plattFromParams(p: Record<string, unknown>, C: number, file: string) {
  return new PlattScaling(C, arrayParam(p, "a", C, file), arrayParam(p, "b", C, file));
}
