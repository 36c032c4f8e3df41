/**
 * Attention rollout (Abnar & Zuidema, 2020): how much each patch feeds the
 * class token through all layers, accounting for the residual connections.
 *
 *   Â_l = (A_l + I) / rowsum(A_l + I)        A_l = head-mean attention of layer l
 *   R   = Â_1 Â_2 ... Â_L                    (first layer on the left; or reversed)
 *   map = R[0, P:] reshaped to the token grid (P = prefix tokens)
 *
 * Only row 0 of R is needed, so it is computed as the row vector
 * e_0ᵀ Â_1 Â_2 ... Â_L: L vector-matrix products instead of L matrix
 * products, in float64 on the CPU (T² per layer, a few ms for ViT-B/16).
 */

/** Options of {@link attentionRollout}. */
export interface RolloutOptions {
  /** Prefix tokens before the patches (1: class token; 2: class + distillation). Default 1. */
  prefixTokens?: number;
  /** Token grid [gh, gw] of the patches; default square. */
  grid?: [number, number];
  /**
   * "first-left" (default): R = Â_1 ... Â_L, the convention of the reference
   * fixtures; "last-left": R = Â_L ... Â_1.
   */
  order?: "first-left" | "last-left";
  /** Which token's row of R to map (default 0, the class token). */
  token?: number;
}

/** Result of {@link attentionRollout}: the map and its grid. */
export interface RolloutMap {
  /** Rollout weights of the patches, row-major [gh, gw]. */
  map: Float32Array;
  /** Grid height (patch rows). */
  height: number;
  /** Grid width (patch columns). */
  width: number;
}

/**
 * Attention rollout of one image from its head-mean attention maps `attn`
 * [L, T, T] (row = query, column = key; e.g. one image of a ViT forward's
 * `attention` output [B, L, T, T], see {@link rolloutBatch}).
 */
export function attentionRollout(
  attn: ArrayLike<number>,
  layers: number,
  tokens: number,
  opts: RolloutOptions = {},
): RolloutMap {
  const T = tokens;
  const P = opts.prefixTokens ?? 1;
  const patches = T - P;
  if (attn.length !== layers * T * T) {
    throw new RangeError(`attentionRollout: ${attn.length} values are not [${layers}, ${T}, ${T}]`);
  }
  const [gh, gw] = opts.grid ?? [Math.round(Math.sqrt(patches)), Math.round(Math.sqrt(patches))];
  if (gh * gw !== patches) {
    throw new RangeError(
      `attentionRollout: ${patches} patch tokens do not form a ${gh}x${gw} grid`,
    );
  }
  const token = opts.token ?? 0;
  let v = new Float64Array(T);
  v[token] = 1;
  const order = [...Array(layers).keys()];
  if (opts.order === "last-left") order.reverse();
  const rowSum = new Float64Array(T);
  for (const l of order) {
    const base = l * T * T;
    // Row sums of A_l + I.
    for (let i = 0; i < T; i++) {
      let s = 1;
      for (let j = 0; j < T; j++) s += attn[base + i * T + j];
      rowSum[i] = s;
    }
    // v <- v Â_l, with Â_l[i, j] = (A_l[i, j] + [i = j]) / rowSum[i].
    const next = new Float64Array(T);
    for (let i = 0; i < T; i++) {
      const vi = v[i] / rowSum[i];
      if (vi === 0) continue;
      const row = base + i * T;
      for (let j = 0; j < T; j++) next[j] += vi * attn[row + j];
      next[i] += vi;
    }
    v = next;
  }
  return { map: Float32Array.from(v.subarray(P)), height: gh, width: gw };
}

/**
 * Attention rollout of every image of a batch of head-mean attention maps
 * `attn` [B, L, T, T] (the `attention` output of a ViT forward, read back).
 */
export function rolloutBatch(
  attn: Float32Array,
  shape: readonly number[],
  opts: RolloutOptions = {},
): RolloutMap[] {
  const [B, L, T, T2] = shape;
  if (shape.length !== 4 || T !== T2 || attn.length !== B * L * T * T) {
    throw new RangeError(`rolloutBatch: expected [B, L, T, T] data, got shape [${shape}]`);
  }
  const per = L * T * T;
  return [...Array(B).keys()].map((b) =>
    attentionRollout(attn.subarray(b * per, (b + 1) * per), L, T, opts)
  );
}
