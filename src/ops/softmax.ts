/** Row softmax with a temperature (shaders/softmax.wgsl). */
import ownCode from "../../shaders/softmax.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { randomFill } from "../gpu/output_check.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";
import { pickReduction, type Reduction, reductionCode } from "./row_reduce.ts";

/** Threads per row; a power of two (the reductions halve it). */
const WG = 64;

/**
 * softmax(x / temperature) over the last dimension of `x` [..., C]
 * (numerically stable: the row maximum is subtracted first). Returns a new
 * tensor of the same shape unless `out` is given. A workgroup reduces each
 * row: with the tree, or on the GPU path with checked subgroup operations
 * (src/ops/row_reduce.ts); `reduction` forces one (tests).
 */
export function softmaxRows(
  engine: Engine,
  x: Tensor,
  temperature = 1,
  out: Tensor = engine.empty(x.shape, "f32", "softmax"),
  reduction?: Reduction,
): Tensor {
  if (!(temperature > 0)) throw new RangeError(`softmaxRows: temperature ${temperature} <= 0`);
  if (out.size !== x.size) throw new Error(`softmaxRows: out [${out.shape}] != x [${x.shape}]`);
  const C = x.shape[x.shape.length - 1];
  const rows = C ? x.size / C : 0;
  const chosen = reduction ?? pickReduction(engine, "softmax", C, (on) => {
    // Logits spread over [-8, 8): the exponentials span six orders of magnitude.
    const tx = randomFill(on, on.empty([rows, C], "f32", "check x"), 21);
    const ty = on.empty([rows, C], "f32", "check y");
    return {
      record: (e, r) => recordSoftmax(e, tx, 1 / 8, ty, r),
      release() {
        tx.release();
        ty.release();
      },
    };
  });
  return recordSoftmax(engine, x, temperature, out, chosen);
}

function recordSoftmax(
  engine: Engine,
  x: Tensor,
  temperature: number,
  out: Tensor,
  reduction: Reduction,
): Tensor {
  const C = x.shape[x.shape.length - 1];
  const rows = C ? x.size / C : 0;
  const snippet = reductionCode(reduction);
  engine.run(
    {
      name: `softmax ${reduction}`,
      code: snippet.code + ownCode,
      constants: { WG, ...snippet.constants },
    },
    [x, out],
    rows,
    packParams([rows, C, { f32: 1 / temperature }]),
  );
  return out;
}
