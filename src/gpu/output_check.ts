/**
 * Checking one kernel's output against another's on the GPU: reproducible
 * random inputs (shaders/random_fill.wgsl) and the largest difference
 * between two outputs (shaders/max_abs_diff.wgsl). Autotuning uses them to
 * reject a candidate kernel that computes something else on the adapter at
 * hand, before it is ever used for a real result.
 */
import fillCode from "../../shaders/random_fill.wgsl" with { type: "text" };
import diffCode from "../../shaders/max_abs_diff.wgsl" with { type: "text" };
import fillTextureCode from "../../shaders/random_fill_texture.wgsl" with { type: "text" };
import target2d from "../../shaders/random_fill_target_2d.wgsl" with { type: "text" };
import target2dF16 from "../../shaders/random_fill_target_2d_f16.wgsl" with { type: "text" };
import targetArray from "../../shaders/random_fill_target_array.wgsl" with { type: "text" };
import type { GpuTexture } from "./texture.ts";
import type { Engine } from "./engine.ts";
import { packParams } from "./params.ts";
import type { Tensor } from "../tensor.ts";

const WG = 256;
const ITEMS = 16;

/** Fills the f32 tensor `x` with reproducible values in [-1, 1) that depend on `seed` and the index. */
export function randomFill(engine: Engine, x: Tensor, seed: number): Tensor {
  if (x.dtype !== "f32") throw new Error(`randomFill: ${x.label} is ${x.dtype}, not f32`);
  engine.run(
    { name: "random_fill", code: fillCode, constants: { WG } },
    [x],
    Math.ceil(x.size / WG),
    packParams([x.size, seed >>> 0]),
  );
  return x;
}

/**
 * Fills every component of `t` (a 2-D texture, rgba32float or rgba16float,
 * or a 2-D array rgba32float texture) with reproducible values in [-1, 1).
 */
export function randomFillTexture(engine: Engine, t: GpuTexture, seed: number): GpuTexture {
  const target = t.arrayed ? "array" : t.format === "rgba16float" ? "2d_f16" : "2d";
  if (t.arrayed && t.format !== "rgba32float") {
    throw new Error(`randomFillTexture: ${t.label} is a ${t.format} array texture`);
  }
  const snippet = { array: targetArray, "2d_f16": target2dF16, "2d": target2d }[target];
  engine.run(
    { name: `random_fill_texture_${target}`, code: snippet + fillTextureCode },
    [t],
    [Math.ceil(t.width / 8), Math.ceil(t.height / 8), t.layers],
    packParams([t.width, t.height, seed >>> 0]),
  );
  return t;
}

/** The largest differences found by {@link maxAbsDiff}. */
export interface OutputDifference {
  /** max |a - b|; Infinity when `a` holds a NaN or infinity (or the difference overflows). */
  maxDiff: number;
  /** max |b|: the scale the difference is judged against. */
  maxRef: number;
}

/**
 * Records the reduction of max |a - b| and max |b| over two same-sized f32
 * tensors; returns a [2] u32 tensor to pass to {@link readDifference}.
 */
export function maxAbsDiff(engine: Engine, a: Tensor, b: Tensor): Tensor {
  if (a.size !== b.size) {
    throw new Error(
      `maxAbsDiff: ${a.label} [${a.shape}] and ${b.label} [${b.shape}] differ in size`,
    );
  }
  const result = engine.zeros([2], "u32", "max |a - b|");
  engine.run(
    { name: "max_abs_diff", code: diffCode, constants: { WG, ITEMS } },
    [a, b, result],
    Math.ceil(a.size / (WG * ITEMS)),
    packParams([a.size]),
  );
  return result;
}

/** Reads (and releases) the result of {@link maxAbsDiff}. */
export async function readDifference(engine: Engine, result: Tensor): Promise<OutputDifference> {
  const bits = await engine.read(result).finally(() => result.release());
  const asFloat = (u: number) => {
    if (u >= 0x7f800000) return Infinity; // NaN or infinity
    return new Float32Array(new Uint32Array([u]).buffer)[0];
  };
  return { maxDiff: asFloat(bits[0][0]), maxRef: asFloat(bits[0][1]) };
}
