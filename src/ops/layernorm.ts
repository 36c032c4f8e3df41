/** LayerNorm over the last dimension (shaders/layernorm.wgsl). */
import ownCode from "../../shaders/layernorm.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { randomFill } from "../gpu/output_check.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";
import { pickReduction, type Reduction, reductionCode } from "./row_reduce.ts";

/** Threads per row; a power of two (the reduction halves it). */
const WG = 64;

/**
 * How rows are spread over invocations: a workgroup per row (reductions
 * over the workgroup; GPUs) or an invocation per row (plain loops; CPU
 * adapters such as lavapipe, where barriers are expensive).
 */
export type LayerNormStrategy = "workgroup-per-row" | "invocation-per-row";

/**
 * y = (x - mean) / sqrt(var + eps) * weight + bias over the last dimension D
 * of `x` [..., D] (biased variance, as PyTorch's `nn.LayerNorm`). `weight`
 * and `bias` are [D]. Returns a new tensor of the shape of `x` unless `out`
 * is given. `strategy` defaults to an invocation per row on the software
 * kernel path (CPU adapters) and a workgroup per row on the GPU path, whose
 * reduction is the tree or, where the adapter has subgroups and they pass
 * the kernel check, subgroup operations (src/ops/row_reduce.ts);
 * `reduction` forces one (tests).
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
  reduction?: Reduction,
): Tensor {
  const D = x.shape[x.shape.length - 1];
  if (weight.size !== D || bias.size !== D) {
    throw new Error(
      `layerNorm: weight [${weight.shape}] / bias [${bias.shape}] do not match last dim ${D} of ` +
        `[${x.shape}]`,
    );
  }
  if (out.size !== x.size) throw new Error(`layerNorm: out [${out.shape}] != x [${x.shape}]`);
  if (strategy === "invocation-per-row") {
    recordLayerNorm(engine, x, weight, bias, eps, out, "per_invocation", "tree");
  } else {
    const rows = x.size / D;
    const chosen = reduction ?? pickReduction(engine, "layernorm", D, (on) => {
      const tx = randomFill(on, on.empty([rows, D], "f32", "check x"), 11);
      const tw = randomFill(on, on.empty([D], "f32", "check weight"), 12);
      const tb = randomFill(on, on.empty([D], "f32", "check bias"), 13);
      const ty = on.empty([rows, D], "f32", "check y");
      return {
        record: (e, r) => recordLayerNorm(e, tx, tw, tb, 1e-5, ty, "main", r),
        release() {
          for (const t of [tx, tw, tb, ty]) t.release();
        },
      };
    });
    recordLayerNorm(engine, x, weight, bias, eps, out, "main", chosen);
  }
  return out;
}

function recordLayerNorm(
  engine: Engine,
  x: Tensor,
  weight: Tensor,
  bias: Tensor,
  eps: number,
  out: Tensor,
  entry: "main" | "per_invocation",
  reduction: Reduction,
): Tensor {
  const D = x.shape[x.shape.length - 1];
  const rows = x.size / D;
  const snippet = reductionCode(reduction);
  engine.run(
    {
      name: `layernorm ${reduction}`,
      code: snippet.code + ownCode,
      entry,
      constants: { WG, ...snippet.constants },
    },
    [x, weight, bias, out],
    entry === "per_invocation" ? Math.ceil(rows / WG) : rows,
    packParams([rows, D, { f32: eps }]),
  );
  return out;
}
