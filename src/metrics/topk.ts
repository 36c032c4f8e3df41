/**
 * Top-k classes per row on the GPU (shaders/softmax_topk.wgsl), for
 * predictions.csv and `predict`: k ≤ 10 indices ordered by score (ties
 * towards the lower class index) with their softmax probabilities.
 */
import code from "../../shaders/softmax_topk.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";
import { MetricsInputError } from "../errors.ts";

/** Options of {@link topk}. */
export interface TopkOptions {
  /** Softmax temperature (default 1). */
  temperature?: number;
  /** "logits" (softmax applied, default) or "probs" (values returned as they are). */
  input?: "logits" | "probs";
}

/**
 * The k best classes of each row of `values` [B, C]: `indices` [B, k] (i32)
 * and their probabilities `probs` [B, k]. Recorded into the current encoder.
 */
export function topk(
  engine: Engine,
  values: Tensor,
  k: number,
  options: TopkOptions = {},
): { indices: Tensor; probs: Tensor } {
  const [B, C] = values.shape;
  if (values.shape.length !== 2) {
    throw new MetricsInputError(`topk expects [batch, classes], got [${values.shape}]`);
  }
  if (!Number.isInteger(k) || k < 1 || k > 10 || k > C) {
    throw new MetricsInputError(`topk: k must be in 1..${Math.min(10, C)}, got ${k}`);
  }
  const indices = engine.empty([B, k], "i32", "topk.indices");
  const probs = engine.empty([B, k], "f32", "topk.probs");
  const WG = engine.gpu.info.isFallbackAdapter ? (C <= 64 ? 16 : 64) : (C <= 128 ? 32 : 128);
  engine.run(
    { name: "softmax_topk", code, constants: { WG } },
    [values, indices, probs],
    B,
    packParams([
      B,
      C,
      k,
      { f32: 1 / (options.temperature ?? 1) },
      (options.input ?? "logits") === "logits" ? 1 : 0,
    ]),
  );
  return { indices, probs };
}
