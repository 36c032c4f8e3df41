/** LayerNorm over the last dimension (shaders/layernorm.wgsl). */
import ownCode from "../../shaders/layernorm.wgsl" with { type: "text" };
import reduceCode from "../../shaders/workgroup_reduce.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

/** The kernel with its workgroup reductions. */
const code = reduceCode + ownCode;

/** Threads per row; a power of two (the reduction halves it). */
const WG = 64;

/**
 * How rows are spread over invocations: a workgroup per row (tree
 * reductions; GPUs) or an invocation per row (plain loops; CPU adapters
 * such as lavapipe, where barriers are expensive).
 */
export type LayerNormStrategy = "workgroup-per-row" | "invocation-per-row";

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias over the last dimension D
 * of `x` [..., D] (biased variance, as PyTorch's `nn.LayerNorm`). `weight`
 * and `bias` are [D]. Returns a new tensor of the shape of `x` unless `out`
 * is given. `strategy` defaults to an invocation per row on the software
 * kernel path (CPU adapters) and a workgroup per row on the GPU path.
 */
export function layerNorm(
  engine: Engine,
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  eps: number,
  out: Tensor = engine.empty(x.shape, "f32", "layernorm"),
  strategy: LayerNormStrategy = engine.kernels.name === "software"
    ? "invocation-per-row"
    : "workgroup-per-row",
): Tensor {
  const D = x.shape[x.shape.length - 1];
  if (weight.size !== D || bias.size !== D) {
    throw new Error(
      `layerNorm: weight [${weight.shape}] / bias [${bias.shape}] do not match last dim ${D} of ` +
        `[${x.shape}]`,
    );
  }
  if (out.size !== x.size) throw new Error(`layerNorm: out [${out.shape}] != x [${x.shape}]`);
  const rows = x.size / D;
  const perInvocation = strategy === "invocation-per-row";
  engine.run(
    {
      name: "layernorm",
      code,
      entry: perInvocation ? "per_invocation" : "main",
      constants: { WG },
    },
    [x, weight, bias, out],
    perInvocation ? Math.ceil(rows / WG) : rows,
    packParams([rows, D, { f32: eps }]),
  );
  return out;
}
