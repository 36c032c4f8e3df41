/** Axis permutation of tensors of up to 4 dimensions (shaders/transpose.wgsl). */
import code from "../../shaders/transpose.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

const WG = 256;

/**
 * `out = x.permute(perm)` as in PyTorch, materialized contiguously:
 * output axis d is input axis perm[d].
 */
export function permute(
  engine: Engine,
  x: Tensor,
  perm: readonly number[],
  out?: Tensor,
): Tensor {
  const rank = x.shape.length;
  if (rank > 4 || perm.length !== rank || [...perm].sort().some((v, i) => v !== i)) {
    throw new Error(`permute: [${perm}] is not a permutation of the ${rank} axes of ${x.label}`);
  }
  const outShape = perm.map((a) => x.shape[a]);
  if (out && out.size !== x.size) {
    throw new Error(`permute: out ${out.label} [${out.shape}] is not [${outShape}]`);
  }
  const y = out ? out.reshape(outShape) : engine.empty(outShape, "f32", "permute");
  const inStride = new Array<number>(rank);
  let s = 1;
  for (let d = rank - 1; d >= 0; d--) {
    inStride[d] = s;
    s *= x.shape[d];
  }
  // Pad to 4-D with leading size-1 axes of stride 0.
  const pad = 4 - rank;
  const dims = [...new Array<number>(pad).fill(1), ...outShape];
  const strides = [...new Array<number>(pad).fill(0), ...perm.map((a) => inStride[a])];
  engine.run(
    { name: "transpose", code, constants: { WG } },
    [x, y],
    Math.ceil(x.size / WG),
    packParams([x.size, dims[1], dims[2], dims[3], ...strides]),
  );
  return y;
}

/** Swaps the last two axes: [..., R, C] -> [..., C, R]. */
export function transposeLast2(engine: Engine, x: Tensor, out?: Tensor): Tensor {
  const r = x.shape.length;
  if (r < 2) throw new Error(`transposeLast2: ${x.label} [${x.shape}] has fewer than 2 axes`);
  const perm = [...x.shape.keys()];
  [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
  return permute(engine, x, perm, out);
}
