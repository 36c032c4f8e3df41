/**
 * Resizing a ViT's learned position embeddings to another token grid, the
 * way the reference libraries do when an image of another size comes in:
 * the class / distillation rows are kept, the patch rows form a [gh, gw]
 * grid of D-vectors that is resampled bicubically (align_corners = False).
 *
 * - "bicubic" is PyTorch's `F.interpolate(mode="bicubic")` as Hugging Face
 *   ViT/DeiT use it: Keys cubic with a = -0.75, four taps, indices clamped
 *   at the borders.
 * - "bicubic-antialias" is `F.interpolate(mode="bicubic", antialias=True)`
 *   as timm's `resample_abs_pos_embed` uses it: the Pillow-style cubic with
 *   a = -0.5, support widened by the scale when shrinking, taps outside the
 *   grid dropped and the weights renormalised.
 *
 * Computed once per grid size in float64 on the CPU (the table is small).
 */
import type { PosEmbedResize } from "./layouts.ts";

/** Interpolation taps of one output index: source indices and their weights. */
interface Taps {
  index: number[];
  weight: number[];
}

/** Keys' cubic convolution kernel with parameter a. */
function cubic(x: number, a: number): number {
  x = Math.abs(x);
  if (x <= 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** Taps of PyTorch's bicubic upsample (align_corners = False, clamped borders). */
function bicubicTaps(inSize: number, outSize: number): Taps[] {
  const scale = inSize / outSize;
  const a = -0.75;
  const taps: Taps[] = [];
  for (let o = 0; o < outSize; o++) {
    const src = scale * (o + 0.5) - 0.5;
    const i0 = Math.floor(src);
    const t = src - i0;
    const w = [cubic(t + 1, a), cubic(t, a), cubic(1 - t, a), cubic(2 - t, a)];
    const index = [-1, 0, 1, 2].map((k) => Math.min(Math.max(i0 + k, 0), inSize - 1));
    taps.push({ index, weight: w });
  }
  return taps;
}

/** Taps of PyTorch's antialiased bicubic resize (Pillow's filter, a = -0.5). */
function bicubicAntialiasTaps(inSize: number, outSize: number): Taps[] {
  const scale = inSize / outSize;
  const support = scale >= 1 ? 2 * scale : 2;
  const invScale = scale >= 1 ? 1 / scale : 1;
  const taps: Taps[] = [];
  for (let o = 0; o < outSize; o++) {
    const center = scale * (o + 0.5);
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const index: number[] = [];
    const weight: number[] = [];
    let total = 0;
    for (let i = lo; i < hi; i++) {
      const w = cubic((i - center + 0.5) * invScale, -0.5);
      index.push(i);
      weight.push(w);
      total += w;
    }
    taps.push({ index, weight: total !== 0 ? weight.map((w) => w / total) : weight });
  }
  return taps;
}

/**
 * Resamples a grid of D-vectors `grid` [gh, gw, D] (row-major) to
 * [to[0], to[1], D]. Separable: along the width first, then the height
 * (the same sums as the 2-D kernel, in float64).
 */
export function resizeGrid(
  grid: ArrayLike<number>,
  from: [number, number],
  to: [number, number],
  D: number,
  mode: PosEmbedResize,
): Float64Array {
  const [gh, gw] = from;
  const [nh, nw] = to;
  const tapsOf = mode === "bicubic" ? bicubicTaps : bicubicAntialiasTaps;
  const tx = tapsOf(gw, nw), ty = tapsOf(gh, nh);
  const rows = new Float64Array(gh * nw * D);
  for (let y = 0; y < gh; y++) {
    for (let x = 0; x < nw; x++) {
      const { index, weight } = tx[x];
      const o = (y * nw + x) * D;
      for (let k = 0; k < index.length; k++) {
        const s = (y * gw + index[k]) * D;
        for (let d = 0; d < D; d++) rows[o + d] += weight[k] * grid[s + d];
      }
    }
  }
  const out = new Float64Array(nh * nw * D);
  for (let y = 0; y < nh; y++) {
    const { index, weight } = ty[y];
    for (let k = 0; k < index.length; k++) {
      for (let x = 0; x < nw; x++) {
        const s = (index[k] * nw + x) * D;
        const o = (y * nw + x) * D;
        for (let d = 0; d < D; d++) out[o + d] += weight[k] * rows[s + d];
      }
    }
  }
  return out;
}

/**
 * The position table [P + nh * nw, D] for a token grid `to`: the `prefix`
 * rows [P, D] unchanged (zeros where the model has none), then the patch
 * rows of `grid` [gh, gw, D] resized from `from` to `to` (copied as they
 * are when the sizes match).
 */
export function positionTable(
  prefix: Float32Array,
  grid: Float32Array,
  from: [number, number],
  to: [number, number],
  D: number,
  mode: PosEmbedResize,
): Float32Array {
  const same = from[0] === to[0] && from[1] === to[1];
  const patchRows = same ? grid : resizeGrid(grid, from, to, D, mode);
  const out = new Float32Array(prefix.length + to[0] * to[1] * D);
  out.set(prefix);
  out.set(patchRows, prefix.length);
  return out;
}
