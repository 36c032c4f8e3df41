/**
 * Vector scaling (Guo et al. 2017): softmax(w ⊙ z + b) with a weight and a
 * bias per class, fitted by minimising the mean NLL (unregularised, as in the
 * paper) with Newton-CG from w = 1, b = 0. The NLL is convex in (w, b); adding
 * a constant to every b_c changes nothing, so b is stored centred (mean 0).
 */
import { arrayParam, type Calibrator, checkFitData, type FitData, softmaxRows } from "./common.ts";
import { minimizeNewtonCg } from "./newton_cg.ts";
import { SoftmaxNll } from "./nll.ts";

/** softmax(w ⊙ z + b). */
export class VectorScaling implements Calibrator {
  /** The method. */
  readonly method = "vector" as const;
  /** Per-class weights `w` and biases `b` (C each). */
  constructor(readonly numClasses: number, readonly w: Float64Array, readonly b: Float64Array) {}

  /** softmax(w ⊙ z + b) of each row. */
  apply(logits: ArrayLike<number>): Float64Array {
    return softmaxRows(vectorTransform(logits, this.w, this.b), this.numClasses);
  }

  /** `{w, b}`. */
  params(): Record<string, unknown> {
    return { w: [...this.w], b: [...this.b] };
  }
}

/** w ⊙ z + b of each row of `z` [n, C], into `out`. */
function vectorTransform(
  z: ArrayLike<number>,
  w: ArrayLike<number>,
  b: ArrayLike<number>,
  out = new Float64Array(z.length),
): Float64Array {
  const C = w.length;
  for (let row = 0; row < z.length; row += C) {
    for (let c = 0; c < C; c++) out[row + c] = w[c] * z[row + c] + b[c];
  }
  return out;
}

/** Σ_i u_ic z_ic and Σ_i u_ic into `out` = [w part, b part] (the chain rule to (w, b)). */
function vectorBackprop(z: ArrayLike<number>, u: Float64Array, C: number, out: Float64Array) {
  out.fill(0);
  for (let row = 0; row < z.length; row += C) {
    for (let c = 0; c < C; c++) {
      out[c] += u[row + c] * z[row + c];
      out[C + c] += u[row + c];
    }
  }
}

/** Fits w and b (2C parameters) by Newton-CG from w = 1, b = 0. */
export function fitVectorScaling(d: FitData): VectorScaling {
  checkFitData(d, "vector");
  const C = d.numClasses, z = d.logits;
  const nll = new SoftmaxNll(d.labels, C);
  const zt = new Float64Array(z.length), u = new Float64Array(z.length);
  const x0 = new Float64Array(2 * C);
  x0.fill(1, 0, C);
  const { x } = minimizeNewtonCg({
    value(x, grad) {
      const f = nll.value(vectorTransform(z, x.subarray(0, C), x.subarray(C), zt), u);
      vectorBackprop(z, u, C, grad);
      return f;
    },
    hessVec(v, out) {
      nll.hessVec(vectorTransform(z, v.subarray(0, C), v.subarray(C), zt), u);
      vectorBackprop(z, u, C, out);
    },
  }, x0);
  const b = x.slice(C);
  const mean = b.reduce((a, v) => a + v, 0) / C;
  return new VectorScaling(C, x.slice(0, C), b.map((v) => v - mean));
}

/** From stored params. */
export function vectorFromParams(p: Record<string, unknown>, C: number, file: string) {
  return new VectorScaling(C, arrayParam(p, "w", C, file), arrayParam(p, "b", C, file));
}
