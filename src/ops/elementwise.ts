/** Element-wise ops on same-shaped tensors (shaders/elementwise.wgsl). */
import code from "../../shaders/elementwise.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

const WG = 256;
const OPS = { add: 0, mul: 1, relu: 2, addRelu: 3, affine: 4, tanh: 5 } as const;

/** Name of an element-wise op. */
export type ElementwiseOp = keyof typeof OPS;

/**
 * out = op(a, b) element by element. `b` is ignored by `relu`, `tanh` and `affine`
 * (`affine` computes a * scale + shift).
 */
export function elementwise(
  engine: Engine,
  op: ElementwiseOp,
  a: Tensor,
  b: Tensor = a,
  scale = 1,
  shift = 0,
  out: Tensor = engine.empty(a.shape, "f32", op),
): Tensor {
  if (b.size !== a.size) throw new Error(`${op}: sizes differ ([${a.shape}] vs [${b.shape}])`);
  engine.run(
    { name: "elementwise", code, constants: { OP: OPS[op], WG } },
    [a, b, out],
    Math.ceil(a.size / WG),
    packParams([a.size, { f32: scale }, { f32: shift }]),
  );
  return out;
}
