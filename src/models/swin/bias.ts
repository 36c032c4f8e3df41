/**
 * The attention score biases of Swin windows, computed once on the host in
 * float64: v1's learned relative-position table gathered to [heads, N, N],
 * V2's continuous position bias (a small MLP over log-spaced offsets, then
 * 16 sigmoid), and their sum with the shifted-window mask per window.
 */

/**
 * Row of the (2a-1)(2b-1) offset table for query token i and key token j
 * of an a x b window (row-major tokens): offsets (yi - yj, xi - xj) shifted
 * to be non-negative, rows major (the index every Swin library builds).
 */
export function relativeIndex(i: number, j: number, [a, b]: [number, number]): number {
  const yi = Math.floor(i / b), xi = i % b, yj = Math.floor(j / b), xj = j % b;
  return (yi - yj + a - 1) * (2 * b - 1) + (xi - xj + b - 1);
}

/** Gathers a table [(2a-1)(2b-1), heads] (row-major) into the dense bias [heads, N, N]. */
export function gatherRelative(
  table: ArrayLike<number>,
  heads: number,
  window: [number, number],
): Float32Array {
  const N = window[0] * window[1];
  const rows = (2 * window[0] - 1) * (2 * window[1] - 1);
  if (table.length !== rows * heads) {
    throw new Error(`relative table of ${table.length} values is not [${rows}, ${heads}]`);
  }
  const out = new Float32Array(heads * N * N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      const r = relativeIndex(i, j, window) * heads;
      for (let h = 0; h < heads; h++) out[(h * N + i) * N + j] = table[r + h];
    }
  }
  return out;
}

/**
 * Swin V2's continuous position bias table [(2a-1)(2b-1), heads]: for each
 * offset (dy, dx), t = 8 * (dy, dx) / (w - 1) (w: `pretrained` when > 0, else
 * the window side), mapped to sign(t) log2(1 + |t|) / 3, then
 * fc2(ReLU(fc1 t + b1)), then 16 sigmoid.
 */
export function continuousBiasTable(
  window: [number, number],
  pretrained: number,
  fc1: { weight: Float32Array; bias: Float32Array },
  fc2: Float32Array,
  heads: number,
): Float64Array {
  const [a, b] = window;
  const hidden = fc1.bias.length;
  const rows = (2 * a - 1) * (2 * b - 1);
  const out = new Float64Array(rows * heads);
  const logSpaced = (d: number, side: number) => {
    const div = pretrained > 0 ? pretrained - 1 : side - 1;
    const t = div > 0 ? (d / div) * 8 : 0;
    return Math.sign(t) * Math.log2(Math.abs(t) + 1) / 3;
  };
  const h1 = new Float64Array(hidden);
  for (let dy = -(a - 1); dy <= a - 1; dy++) {
    for (let dx = -(b - 1); dx <= b - 1; dx++) {
      const ty = logSpaced(dy, a), tx = logSpaced(dx, b);
      for (let k = 0; k < hidden; k++) {
        const v = fc1.weight[2 * k] * ty + fc1.weight[2 * k + 1] * tx + fc1.bias[k];
        h1[k] = v > 0 ? v : 0;
      }
      const row = (dy + a - 1) * (2 * b - 1) + (dx + b - 1);
      for (let h = 0; h < heads; h++) {
        let s = 0;
        for (let k = 0; k < hidden; k++) s += fc2[h * hidden + k] * h1[k];
        out[row * heads + h] = 16 / (1 + Math.exp(-s));
      }
    }
  }
  return out;
}

/** bias [heads, N, N] + mask [nW, N, N] -> [nW, heads, N, N] (the attention kernel's per-window bias). */
export function withMask(bias: Float32Array, mask: Float32Array, heads: number): Float32Array {
  const NN = bias.length / heads;
  const windows = mask.length / NN;
  const out = new Float32Array(windows * heads * NN);
  for (let w = 0; w < windows; w++) {
    for (let h = 0; h < heads; h++) {
      const o = (w * heads + h) * NN;
      for (let k = 0; k < NN; k++) out[o + k] = bias[h * NN + k] + mask[w * NN + k];
    }
  }
  return out;
}
