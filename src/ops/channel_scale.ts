/**
 * Per-image channel scaling of channels-last maps (shaders/channel_scale.wgsl):
 * the "excite" step of squeeze-and-excitation (MobileNetV3, EfficientNet),
 * whose gate `s` comes from mean-pooled features through two small linear
 * layers.
 */
import code from "../../shaders/channel_scale.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

const WG = 256;

/**
 * `y[b, ..., c] = x[b, ..., c] * s[b, c]` for x [B, T, C] or [B, H, W, C]
 * and s [B, C]. Returns a tensor of the shape of `x` (`out` when given; it
 * must not share a buffer with `x` or `s`).
 */
export function channelScale(engine: Engine, x: Tensor, s: Tensor, out?: Tensor): Tensor {
  if (x.shape.length < 3) {
    throw new Error(`channelScale: input ${x.label} [${x.shape}] is not [B, T, C] or [B, H, W, C]`);
  }
  const b = x.shape[0], c = x.shape[x.shape.length - 1];
  if (s.shape.length !== 2 || s.shape[0] !== b || s.shape[1] !== c) {
    throw new Error(
      `channelScale: scale ${s.label} [${s.shape}] is not [${b}, ${c}] for ${x.label} [${x.shape}]`,
    );
  }
  if (out && out.size !== x.size) {
    throw new Error(`channelScale: out ${out.label} [${out.shape}] is not [${x.shape}]`);
  }
  if (out && (out.buffer === x.buffer || out.buffer === s.buffer)) {
    throw new Error(`channelScale: out ${out.label} must not share a buffer with an input`);
  }
  const y = out?.reshape(x.shape) ?? engine.empty(x.shape, "f32", "channel scale");
  if (x.size === 0) return y;
  const vec4 = c % 4 === 0;
  const n = vec4 ? x.size / 4 : x.size;
  engine.run(
    { name: "channel_scale", code, constants: { WG, VEC4: vec4 ? 1 : 0 } },
    [x, s, y],
    Math.ceil(n / WG),
    packParams([n, c, x.size / b]),
  );
  return y;
}
