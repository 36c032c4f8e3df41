/** Keeps a subset of columns of a matrix (shaders/gather_columns.wgsl). */
import code from "../../shaders/gather_columns.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

/** out[r, j] = x[r, columns[j]] for x [rows, cols]; `columns` is a u32 tensor. */
export function gatherColumns(engine: Engine, x: Tensor, columns: Tensor): Tensor {
  const [rows, cols] = x.shape;
  const picked = columns.size;
  const out = engine.empty([rows, picked], "f32", "gathered");
  engine.run(
    { name: "gather_columns", code },
    [x, columns, out],
    Math.ceil(rows * picked / 256),
    packParams([rows, cols, picked]),
  );
  return out;
}
