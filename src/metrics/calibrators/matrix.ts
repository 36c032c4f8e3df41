/**
 * Matrix scaling: softmax(W z + b) with a full C×C matrix, fitted with Newton-CG
 * from W = I, b = 0 by minimising
 * `mean NLL + λ (Σ_{i≠j} W_ij² / (C(C-1)) + Σ_c b_c² / C)`: the off-diagonal
 * and intercept regularisation (ODIR) of Kull et al. 2019, which keeps the
 * C² + C parameters from fitting noise. It is refused when they outnumber
 * the fitting samples.
 */
import { MetricsInputError } from "../../errors.ts";
import {
  arrayParam,
  type Calibrator,
  checkFitData,
  type FitData,
  numberParam,
  softmaxRows,
} from "./common.ts";
import { minimizeNewtonCg } from "./newton_cg.ts";
import { SoftmaxNll } from "./nll.ts";

/** Default ODIR strength λ. */
export const MATRIX_L2 = 0.01;

/** softmax(W z + b). */
export class MatrixScaling implements Calibrator {
  /** The method. */
  readonly method = "matrix" as const;
  /** `W` row-major C×C (output class × input logit), `b` C, and the λ it was fitted with. */
  constructor(
    readonly numClasses: number,
    readonly W: Float64Array,
    readonly b: Float64Array,
    readonly l2: number,
  ) {}

  /** softmax(W z + b) of each row. */
  apply(logits: ArrayLike<number>): Float64Array {
    return softmaxRows(matrixTransform(logits, this.W, this.b), this.numClasses);
  }

  /** `{W (rows), b, l2}`. */
  params(): Record<string, unknown> {
    const C = this.numClasses;
    const W = Array.from({ length: C }, (_, r) => [...this.W.subarray(r * C, (r + 1) * C)]);
    return { W, b: [...this.b], l2: this.l2 };
  }
}

/** W z + b of each row of `z` [n, C], into `out`. */
function matrixTransform(
  z: ArrayLike<number>,
  W: ArrayLike<number>,
  b: ArrayLike<number>,
  out = new Float64Array(z.length),
): Float64Array {
  const C = b.length;
  for (let row = 0; row < z.length; row += C) {
    for (let r = 0; r < C; r++) {
      let s = b[r];
      for (let j = 0; j < C; j++) s += W[r * C + j] * z[row + j];
      out[row + r] = s;
    }
  }
  return out;
}

/** Σ_i u_ir z_ij (W part) and Σ_i u_ir (b part) into `out` (the chain rule to (W, b)). */
function matrixBackprop(z: ArrayLike<number>, u: Float64Array, C: number, out: Float64Array) {
  out.fill(0);
  for (let row = 0; row < z.length; row += C) {
    for (let r = 0; r < C; r++) {
      const g = u[row + r];
      for (let j = 0; j < C; j++) out[r * C + j] += g * z[row + j];
      out[C * C + r] += g;
    }
  }
}

/** Fits W and b by Newton-CG from W = I, b = 0; refused when C(C+1) > n. */
export function fitMatrixScaling(d: FitData, l2 = MATRIX_L2): MatrixScaling {
  const n = checkFitData(d, "matrix");
  const C = d.numClasses, z = d.logits;
  if (C * (C + 1) > n) {
    throw new MetricsInputError(
      `matrix scaling has ${C * (C + 1)} parameters for ${C} classes but only ${n} fitting ` +
        `samples: refused (it would fit noise). Use vector or temperature scaling, or fit on ` +
        `more samples.`,
    );
  }
  // The penalty's second derivative per parameter: 2λ/(C(C-1)) off the diagonal, 0 on it, 2λ/C on b.
  const pen = new Float64Array(C * C + C);
  for (let r = 0; r < C; r++) {
    for (let j = 0; j < C; j++) if (r !== j) pen[r * C + j] = 2 * l2 / (C * (C - 1));
    pen[C * C + r] = 2 * l2 / C;
  }
  const nll = new SoftmaxNll(d.labels, C);
  const zt = new Float64Array(z.length), u = new Float64Array(z.length);
  const x0 = new Float64Array(C * C + C);
  for (let c = 0; c < C; c++) x0[c * C + c] = 1;
  const { x } = minimizeNewtonCg({
    value(x, grad) {
      let f = nll.value(matrixTransform(z, x.subarray(0, C * C), x.subarray(C * C), zt), u);
      matrixBackprop(z, u, C, grad);
      for (let i = 0; i < x.length; i++) {
        f += (pen[i] / 2) * x[i] * x[i];
        grad[i] += pen[i] * x[i];
      }
      return f;
    },
    hessVec(v, out) {
      nll.hessVec(matrixTransform(z, v.subarray(0, C * C), v.subarray(C * C), zt), u);
      matrixBackprop(z, u, C, out);
      for (let i = 0; i < v.length; i++) out[i] += pen[i] * v[i];
    },
  }, x0);
  return new MatrixScaling(C, x.slice(0, C * C), x.slice(C * C), l2);
}

/** From stored params. */
export function matrixFromParams(p: Record<string, unknown>, C: number, file: string) {
  const rows = p.W;
  if (!Array.isArray(rows) || rows.length !== C) {
    throw new MetricsInputError(`${file}: params.W must be ${C} rows of ${C} numbers`);
  }
  const W = new Float64Array(C * C);
  rows.forEach((row, r) => W.set(arrayParam({ row }, "row", C, `${file} (params.W[${r}])`), r * C));
  return new MatrixScaling(C, W, arrayParam(p, "b", C, file), numberParam(p, "l2", file));
}
