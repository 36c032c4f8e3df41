/**
 * Global Response Normalization (ConvNeXt V2; Hugging Face
 * `ConvNextV2GRNLayer`, timm `GlobalResponseNorm`) on channels-last maps:
 * per image, the L2 norm of each channel over all positions, divided by its
 * mean over channels, scales the input (shaders/grn.wgsl).
 */
import code from "../../shaders/grn.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

const WG = 64;

/**
 * `y = gamma * (x * N) + beta + x` with `N[b, c] = G[b, c] / (mean_c G[b, :] + eps)`
 * and `G[b, c] = ||x[b, :, c]||_2` over the positions, for `x` [B, T, C] or
 * [B, H, W, C] (channels last); `gamma` and `beta` hold C values (any shape).
 * Returns a new tensor of the shape of `x`.
 */
export function grn(
  engine: Engine,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  eps = 1e-6,
): Tensor {
  if (x.shape.length < 3) throw new Error(`grn: x [${x.shape}] must be [B, T, C] or [B, H, W, C]`);
  const B = x.shape[0];
  const C = x.shape[x.shape.length - 1];
  const T = x.size / (B * C);
  if (gamma.size !== C || beta.size !== C) {
    throw new Error(`grn: gamma [${gamma.shape}] / beta [${beta.shape}] must hold ${C} values`);
  }
  const g = engine.empty([B * C + B], "f32", "grn-norms");
  const y = engine.empty(x.shape, "f32", "grn");
  const params = packParams([B, T, C, { f32: eps }]);
  const kernel = (entry: string) => ({ name: "grn", code, entry, constants: { WG } });
  engine.run(kernel("norms"), [x, g], Math.ceil((B * C) / WG), params);
  engine.run(kernel("means"), [g], Math.ceil(B / WG), params);
  engine.run(kernel("apply"), [x, gamma, beta, g, y], Math.ceil(x.size / WG), params);
  g.release();
  return y;
}
