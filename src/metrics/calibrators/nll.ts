/**
 * The mean multinomial negative log-likelihood of transformed logits z' =
 * T(z), with its gradient and Hessian-vector products in z'. Vector and
 * matrix scaling chain these to their parameters.
 */

/** NLL of transformed logits; keeps the softmax for {@link SoftmaxNll.hessVec}. */
export class SoftmaxNll {
  /** softmax(z') of the last {@link value} call, [n, C]. */
  readonly p: Float64Array;

  /** For labels (n) and C classes. */
  constructor(readonly labels: ArrayLike<number>, readonly C: number) {
    this.p = new Float64Array(labels.length * C);
  }

  /**
   * Mean over rows of `logsumexp(z'_i) - z'_i[label_i]`; writes ∂/∂z' =
   * (softmax(z') - onehot) / n into `grad` [n, C].
   */
  value(zt: Float64Array, grad: Float64Array): number {
    const { C, labels, p } = this, n = labels.length;
    let total = 0;
    for (let i = 0, row = 0; i < n; i++, row += C) {
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, zt[row + c]);
      let s = 0;
      for (let c = 0; c < C; c++) s += p[row + c] = Math.exp(zt[row + c] - m);
      const y = labels[i];
      total += m + Math.log(s) - zt[row + y];
      for (let c = 0; c < C; c++) {
        p[row + c] /= s;
        grad[row + c] = p[row + c] / n;
      }
      grad[row + y] -= 1 / n;
    }
    return total / n;
  }

  /** (diag p_i - p_i p_iᵀ) δ_i / n for each row of `delta` [n, C], into `out`. */
  hessVec(delta: Float64Array, out: Float64Array): void {
    const { C, p } = this, n = this.labels.length;
    for (let row = 0; row < n * C; row += C) {
      let pd = 0;
      for (let c = 0; c < C; c++) pd += p[row + c] * delta[row + c];
      for (let c = 0; c < C; c++) out[row + c] = p[row + c] * (delta[row + c] - pd) / n;
    }
  }
}
