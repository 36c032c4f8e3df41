/** Row softmax with a temperature (shaders/softmax.wgsl). */
import ownCode from "../../shaders/softmax.wgsl" with { type: "text" };
import reduceCode from "../../shaders/workgroup_reduce.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

/** The kernel with its workgroup reductions. */
const code = reduceCode + ownCode;

/** Threads per row; a power of two (the reductions halve it). */
const WG = 64;

/**
 * softmax(x / temperature) over the last dimension of `x` [..., C]
 * (numerically stable: the row maximum is subtracted first). Returns a new
 * tensor of the same shape unless `out` is given.
 */
export function softmaxRows(
  engine: Engine,
  x: Tensor,
  temperature = 1,
  out: Tensor = engine.empty(x.shape, "f32", "softmax"),
): Tensor {
  if (!(temperature > 0)) throw new RangeError(`softmaxRows: temperature ${temperature} <= 0`);
  if (out.size !== x.size) throw new Error(`softmaxRows: out [${out.shape}] != x [${x.shape}]`);
  const C = x.shape[x.shape.length - 1];
  const rows = C ? x.size / C : 0;
  engine.run(
    { name: "softmax", code, constants: { WG } },
    [x, out],
    rows,
    packParams([rows, C, { f32: 1 / temperature }]),
  );
  return out;
}
