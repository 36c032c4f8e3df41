/**
 * Swin Transformer plumbing (shaders/swin.wgsl): shifted-window partition
 * and its inverse with a fused residual add, 2x2 patch merging, Swin V2's
 * cosine attention as a rewrite of q and k, and zero-padding of pixels to a
 * whole number of patches. The attention itself is {@link attention} with a
 * per-window score bias.
 */
import code from "../../shaders/swin.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

const WG = 256;

/** How a token map [B, H, W, C] is cut into windows. */
export interface WindowGrid {
  /** Map size. */
  h: number;
  /** Map size. */
  w: number;
  /** Window size (rows, columns). */
  window: [number, number];
  /** Cyclic shift (rows, columns): the map is rolled by minus this before cutting. */
  shift: [number, number];
}

/** The padded size and window counts of a grid. */
export function windowLayout(g: WindowGrid): {
  ph: number;
  pw: number;
  nWh: number;
  nWw: number;
  windows: number;
  tokens: number;
} {
  const [ws0, ws1] = g.window;
  const nWh = Math.ceil(g.h / ws0), nWw = Math.ceil(g.w / ws1);
  return { ph: nWh * ws0, pw: nWw * ws1, nWh, nWw, windows: nWh * nWw, tokens: ws0 * ws1 };
}

function params(n: number, c: number, g: WindowGrid): ArrayBuffer {
  const l = windowLayout(g);
  return packParams([
    n,
    c,
    g.h,
    g.w,
    g.window[0],
    g.window[1],
    l.nWw,
    g.shift[0],
    g.shift[1],
    l.ph,
    l.pw,
    l.windows,
    0,
  ]);
}

function check(x: Tensor, shape: number[], what: string) {
  if (x.size !== shape.reduce((a, b) => a * b, 1)) {
    throw new Error(`${what}: tensor [${x.shape}] does not hold [${shape}]`);
  }
}

/**
 * Tokens x [B, H*W, C] (row-major H x W map) -> windows [B * nW, ws0*ws1, C]:
 * the map zero-padded on the bottom / right to whole windows, rolled by
 * (-shift) over the padded size (`torch.roll` after `F.pad`, as torchvision
 * and Hugging Face do), windows in row-major order per image.
 */
export function windowPartition(engine: Engine, x: Tensor, B: number, g: WindowGrid): Tensor {
  const C = x.shape[x.shape.length - 1];
  check(x, [B, g.h, g.w, C], "windowPartition");
  const l = windowLayout(g);
  const out = engine.empty([B * l.windows, l.tokens, C], "f32", "windows");
  engine.run(
    { name: "swin", code, entry: "window_partition", constants: { WG } },
    [x, out],
    Math.ceil(out.size / WG),
    params(out.size, C, g),
  );
  return out;
}

/**
 * The inverse of {@link windowPartition} (padding dropped) plus a residual:
 * returns `residual` [B, H*W, C] + the windows' tokens put back in place.
 */
export function windowMergeAdd(
  engine: Engine,
  windows: Tensor,
  residual: Tensor,
  B: number,
  g: WindowGrid,
): Tensor {
  const C = residual.shape[residual.shape.length - 1];
  check(residual, [B, g.h, g.w, C], "windowMergeAdd residual");
  const l = windowLayout(g);
  check(windows, [B * l.windows, l.tokens, C], "windowMergeAdd windows");
  const out = engine.empty([B, g.h * g.w, C], "f32", "window-merge");
  engine.run(
    { name: "swin", code, entry: "window_merge_add", constants: { WG } },
    [windows, out, residual],
    Math.ceil(out.size / WG),
    params(out.size, C, g),
  );
  return out;
}

/**
 * Swin's patch merging gather: tokens x [B, H*W, C] -> [B, ceil(H/2)*ceil(W/2), 4C],
 * each output the 2x2 neighbours (0,0), (1,0), (0,1), (1,1) (row, column
 * offsets) concatenated, zeros past an odd edge: the order of torchvision's
 * PatchMerging, Hugging Face's SwinPatchMerging and timm's PatchMerging.
 */
export function patchMerge(engine: Engine, x: Tensor, B: number, h: number, w: number): Tensor {
  const C = x.shape[x.shape.length - 1];
  check(x, [B, h, w, C], "patchMerge");
  const ph = Math.ceil(h / 2), pw = Math.ceil(w / 2);
  const out = engine.empty([B, ph * pw, 4 * C], "f32", "patch-merge");
  engine.run(
    { name: "swin", code, entry: "patch_merge", constants: { WG } },
    [x, out],
    Math.ceil(out.size / WG),
    packParams([out.size, C, h, w, 0, 0, 0, 0, 0, ph, pw, 0, 0]),
  );
  return out;
}

/**
 * Rewrites the fused projection qkv [..., 3D] in place so that plain scaled
 * dot-product attention computes Swin V2's scaled cosine attention
 * softmax(cos(q, k) * tau_h + bias): each query head becomes
 * q / max(|q|, 1e-12) * scale[h] and each key head k / max(|k|, 1e-12) (F.normalize).
 * `scale` [heads] must hold tau_h * sqrt(D / heads), undoing the attention
 * kernel's 1 / sqrt(d).
 */
export function cosineQK(engine: Engine, qkv: Tensor, scale: Tensor, heads: number): void {
  const D3 = qkv.shape[qkv.shape.length - 1];
  const D = D3 / 3;
  if (!Number.isInteger(D) || D % heads !== 0 || scale.size !== heads) {
    throw new Error(`cosineQK: qkv [${qkv.shape}] / scale [${scale.shape}] for ${heads} heads`);
  }
  const rows = qkv.size / D3;
  const n = rows * heads * 2;
  engine.run(
    { name: "swin", code, entry: "cosine_qk", constants: { WG } },
    [scale, qkv],
    Math.ceil(n / WG),
    packParams([n, D / heads, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, heads]),
  );
}

/** NCHW pixels [B, C, H, W] zero-padded on the bottom / right to [B, C, ph, pw]. */
export function padPixels(engine: Engine, x: Tensor, ph: number, pw: number): Tensor {
  const [B, C, h, w] = x.shape;
  if (x.shape.length !== 4 || ph < h || pw < w) {
    throw new Error(`padPixels: cannot pad [${x.shape}] to ${ph}x${pw}`);
  }
  const out = engine.empty([B, C, ph, pw], "f32", "padded-pixels");
  engine.run(
    { name: "swin", code, entry: "pad_pixels", constants: { WG } },
    [x, out],
    Math.ceil(out.size / WG),
    packParams([out.size, 0, h, w, 0, 0, 0, 0, 0, ph, pw, 0, 0]),
  );
  return out;
}

/**
 * The shifted-window attention mask (torchvision / Hugging Face / timm):
 * [nW, N, N] with `value` (-100; Hugging Face's Swin V2 adds its mask twice,
 * -200) where query and key come from different regions of the rolled map,
 * 0 elsewhere. A rolled axis has three regions, [0, P - ws), [P - ws, P - s)
 * and [P - s, P) over the padded size P; an axis that is not rolled has one.
 */
export function shiftedWindowMask(g: WindowGrid, value: number): Float32Array {
  const l = windowLayout(g);
  const [ws0, ws1] = g.window;
  const region = (pos: number, size: number, ws: number, s: number) =>
    s === 0 ? 0 : pos < size - ws ? 0 : pos < size - s ? 1 : 2;
  const N = l.tokens;
  const mask = new Float32Array(l.windows * N * N);
  const label = new Int32Array(N);
  for (let wy = 0; wy < l.nWh; wy++) {
    for (let wx = 0; wx < l.nWw; wx++) {
      for (let t = 0; t < N; t++) {
        const py = wy * ws0 + Math.floor(t / ws1), px = wx * ws1 + (t % ws1);
        label[t] = region(py, l.ph, ws0, g.shift[0]) * 3 + region(px, l.pw, ws1, g.shift[1]);
      }
      const base = (wy * l.nWw + wx) * N * N;
      for (let i = 0; i < N; i++) {
        for (let j = 0; j < N; j++) if (label[i] !== label[j]) mask[base + i * N + j] = value;
      }
    }
  }
  return mask;
}
