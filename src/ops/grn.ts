/**
 * Global response normalization of ConvNeXt V2 on channels-last tokens
 * (shaders/grn.wgsl).
 */
import ownCode from "../../shaders/grn.wgsl" with { type: "text" };
import reduceCode from "../../shaders/workgroup_reduce.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

/** The kernel with its workgroup reduction. */
const code = reduceCode + ownCode;

/** Invocations per workgroup; a power of two (the reduction halves it). */
const WG = 64;
/** Tokens per workgroup of the apply pass (its channel-mean reduction is done once per block). */
const TOKEN_BLOCK = 32;

/**
 * GRN as Hugging Face `ConvNextV2GRNLayer` / timm `GlobalResponseNorm`
 * (channels last): per image b and channel c, `Gx = sqrt(sum over positions
 * of x^2)`, `Nx = Gx / (mean over channels of Gx + eps)`, and
 * `y = gamma * (x * Nx) + beta + x`. `x` is [B, HW, C] or [B, H, W, C];
 * `gamma` and `beta` have C values. Returns a tensor of the shape of `x`.
 */
export function grn(
  engine: Engine,
  x: Tensor,
  gamma: Tensor,
  beta: Tensor,
  eps = 1e-6,
): Tensor {
  if (x.shape.length !== 3 && x.shape.length !== 4) {
    throw new Error(`grn: input ${x.label} [${x.shape}] is not [B, HW, C] or [B, H, W, C]`);
  }
  const b = x.shape[0];
  const c = x.shape[x.shape.length - 1];
  const t = c === 0 || b === 0 ? 0 : x.size / (b * c);
  if (gamma.size !== c || beta.size !== c) {
    throw new Error(
      `grn: gamma ${gamma.label} [${gamma.shape}] / beta ${beta.label} [${beta.shape}] do not ` +
        `have the ${c} channels of ${x.label} [${x.shape}]`,
    );
  }
  const y = engine.empty(x.shape, "f32", "grn");
  if (x.size === 0) return y;
  const gx = engine.empty([b, c], "f32", "grn Gx");
  const blocks = Math.ceil(t / TOKEN_BLOCK);
  const params = packParams([b, t, c, { f32: eps }, TOKEN_BLOCK, blocks]);
  engine.run(
    { name: "grn", code, entry: "sumsq", constants: { WG } },
    [x, gx],
    Math.ceil((b * c) / WG),
    params,
  );
  engine.run(
    { name: "grn", code, entry: "apply", constants: { WG } },
    [x, gx, gamma, beta, y],
    b * blocks,
    params,
  );
  gx.release();
  return y;
}
