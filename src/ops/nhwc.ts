/**
 * Channels-last (NHWC) plumbing for ConvNeXt-style models
 * (shaders/nhwc.wgsl): space-to-depth and the stem's patchify, which turn a
 * non-overlapping k x k stride-k convolution into a `linear` over
 * [B, floor(H/k), floor(W/k), k*k*C] rows, and the global average pool of token maps.
 */
import code from "../../shaders/nhwc.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

const WG = 256;

/** Records the `patches` entry: out [B, ho, wo, k*k*C] from strided input. */
function recordPatches(
  engine: Engine,
  x: Tensor,
  out: Tensor,
  c: number,
  k: number,
  ho: number,
  wo: number,
  strides: [number, number, number, number],
): void {
  if (out.size === 0) return;
  engine.run(
    { name: "nhwc", code, entry: "patches", constants: { WG } },
    [x, out],
    Math.ceil(out.size / WG),
    packParams([out.size, c, k, ho, wo, ...strides]),
  );
}

/**
 * Space-to-depth on channels-last maps: x [B, H, W, C] ->
 * [B, floor(H/k), floor(W/k), k*k*C] with each output vector ordered
 * (kh, kw, c); trailing rows and columns are dropped, as by a stride-k
 * convolution without padding. With the weight reordered by
 * {@link patchWeightToKhKwC}, a k x k stride-k convolution (ConvNeXt's
 * downsampling layers) is `linear(spaceToDepthNHWC(x, k), weight)`.
 */
export function spaceToDepthNHWC(engine: Engine, x: Tensor, k: number): Tensor {
  if (x.shape.length !== 4) {
    throw new Error(`spaceToDepthNHWC: input ${x.label} [${x.shape}] is not [B, H, W, C]`);
  }
  const [b, h, w, c] = x.shape;
  const ho = Math.floor(h / k), wo = Math.floor(w / k);
  if (!Number.isInteger(k) || k < 1 || ho < 1 || wo < 1) {
    throw new Error(
      `spaceToDepthNHWC: ${x.label} [${x.shape}] is smaller than one ${k}x${k} block`,
    );
  }
  const out = engine.empty([b, ho, wo, k * k * c], "f32", "space-to-depth");
  recordPatches(engine, x, out, c, k, ho, wo, [h * w * c, 1, w * c, c]);
  return out;
}

/**
 * Cuts NCHW pixels [B, C, H, W] into channels-last patches
 * [B, floor(H/k), floor(W/k), k*k*C], each ordered (kh, kw, c); trailing
 * rows and columns are dropped, as by a stride-k convolution without
 * padding. With {@link patchWeightToKhKwC}, a patchify stem (ConvNeXt's 4x4
 * stride-4 conv) is `linear(patchifyNCHWtoNHWC(pixels, k), weight)`.
 */
export function patchifyNCHWtoNHWC(engine: Engine, pixels: Tensor, k: number): Tensor {
  if (pixels.shape.length !== 4) {
    throw new Error(`patchifyNCHWtoNHWC: pixels ${pixels.label} [${pixels.shape}] is not 4-D`);
  }
  const [b, c, h, w] = pixels.shape;
  const ho = Math.floor(h / k), wo = Math.floor(w / k);
  if (!Number.isInteger(k) || k < 1 || ho < 1 || wo < 1) {
    throw new Error(`patchifyNCHWtoNHWC: image ${h}x${w} is smaller than one ${k}x${k} patch`);
  }
  const out = engine.empty([b, ho, wo, k * k * c], "f32", "patches");
  recordPatches(engine, pixels, out, c, k, ho, wo, [c * h * w, h * w, w, 1]);
  return out;
}

/**
 * Reorders a convolution weight [O, C, kh, kw] (PyTorch) to [O, kh*kw*C]
 * in (kh, kw, c) order, the column order of {@link spaceToDepthNHWC} and
 * {@link patchifyNCHWtoNHWC}, for use as a `linear` weight.
 */
export function patchWeightToKhKwC(
  w: Float32Array,
  shape: readonly [number, number, number, number] | readonly number[],
): Float32Array {
  if (shape.length !== 4 || shape.reduce((a, v) => a * v, 1) !== w.length) {
    throw new Error(`patchWeightToKhKwC: ${w.length} values do not fill [O, C, kh, kw] [${shape}]`);
  }
  const [o, c, kh, kw] = shape;
  const out = new Float32Array(w.length);
  const per = c * kh * kw;
  for (let r = 0; r < o; r++) {
    for (let ch = 0; ch < c; ch++) {
      for (let u = 0; u < kh; u++) {
        for (let v = 0; v < kw; v++) {
          out[r * per + (u * kw + v) * c + ch] = w[r * per + (ch * kh + u) * kw + v];
        }
      }
    }
  }
  return out;
}

/**
 * Mean over the tokens of channels-last maps: x [B, T, C] (or [B, H, W, C])
 * -> [B, C], the global average pool before a classifier head.
 */
export function meanTokens(engine: Engine, x: Tensor): Tensor {
  if (x.shape.length < 3) {
    throw new Error(`meanTokens: input ${x.label} [${x.shape}] is not [B, T, C] or [B, H, W, C]`);
  }
  const b = x.shape[0], c = x.shape[x.shape.length - 1];
  const t = x.shape.slice(1, -1).reduce((a, v) => a * v, 1);
  if (t === 0) throw new Error(`meanTokens: input ${x.label} [${x.shape}] has no tokens`);
  const out = engine.empty([b, c], "f32", "mean tokens");
  if (out.size === 0) return out;
  engine.run(
    { name: "nhwc", code, entry: "mean_tokens", constants: { WG } },
    [x, out],
    Math.ceil(out.size / WG),
    packParams([out.size, c, t, 0, 0, 0, 0, 0, 0]),
  );
  return out;
}
