/** Row-wise top-k with softmax probabilities (shaders/topk.wgsl). */
import code from "../../shaders/topk.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

/** Largest k the kernel supports. */
export const TOPK_MAX = 10;
const WG = 64;

/** Indices [rows, k] (u32) and softmax probabilities [rows, k] of the k largest entries per row. */
export interface TopK {
  /** Column indices, best first (ties: lower index first). */
  indices: Tensor;
  /** softmax(x / T) probability of each index. */
  probs: Tensor;
}

/**
 * The k largest entries of each row of `x` [rows, cols] and their softmax
 * probabilities at `temperature`. k is clamped to min(k, cols) and must be
 * 1..{@link TOPK_MAX}.
 */
export function topk(engine: Engine, x: Tensor, k: number, temperature = 1): TopK {
  if (x.shape.length !== 2) throw new Error(`topk expects [rows, cols], got [${x.shape}]`);
  const [rows, cols] = x.shape;
  const kk = Math.min(k, cols);
  if (!Number.isInteger(kk) || kk < 1 || kk > TOPK_MAX) {
    throw new RangeError(`topk: k must be 1..${TOPK_MAX}, got ${k}`);
  }
  const indices = engine.empty([rows, kk], "u32", "topk.indices");
  const probs = engine.empty([rows, kk], "f32", "topk.probs");
  engine.run(
    { name: "topk", code, constants: { WG } },
    [x, indices, probs],
    rows,
    packParams([rows, cols, kk, { f32: 1 / temperature }]),
  );
  return { indices, probs };
}
