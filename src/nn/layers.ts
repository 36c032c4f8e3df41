/**
 * Loading the two layers every family has: a linear layer (weight packed once
 * into the GEMM's panel layout, bias, optional per-row scale such as a folded
 * layer scale) and a LayerNorm, plus their release.
 */
import type { Engine } from "../gpu/engine.ts";
import { type PackedMatrix, prepareLinearWeight } from "../ops/gemm.ts";
import type { Tensor } from "../tensor.ts";
import { assertFitsF16 } from "../gpu/kernel_path.ts";
import type { LinearNames, NormNames } from "../weights/layout_check.ts";

/** A linear layer on the GPU (weight packed once for the GEMM). */
export interface LoadedLinear {
  /** Packed weight. */
  weight: PackedMatrix;
  /** Bias, when the layer has one. */
  bias?: Tensor;
}

/** A LayerNorm on the GPU. */
export interface LoadedNorm {
  /** gamma */
  weight: Tensor;
  /** beta */
  bias: Tensor;
}

/** Reads tensors as float32 (a `SafetensorsFile` fits). */
export interface WeightReader {
  /** The tensor's values. */
  readF32(name: string): Promise<Float32Array>;
  /** Its shape. */
  info(name: string): { shape: number[] };
}

/**
 * Uploads a linear layer [N, K] packed for `linear`; rows scaled by `scale`
 * (a folded layer scale) when given.
 */
export async function loadLinear(
  engine: Engine,
  file: WeightReader,
  l: LinearNames,
  scale?: Float32Array,
): Promise<LoadedLinear> {
  const shape = file.info(l.weight).shape;
  const n = shape[0], k = shape.slice(1).reduce((a, b) => a * b, 1);
  const w = await file.readF32(l.weight);
  const b = l.bias ? await file.readF32(l.bias) : undefined;
  if (scale) {
    for (let o = 0; o < n; o++) {
      for (let i = 0; i < k; i++) w[o * k + i] *= scale[o];
      if (b) b[o] *= scale[o];
    }
  }
  return packLinear(engine, w, [n, k], l.weight, b);
}

/**
 * Packs a host weight [N, K] (and bias [N]) for `linear`, stored as the
 * engine's weight storage; the raw upload is freed. With f16 storage a
 * weight beyond f16's range is refused (it would become infinite).
 */
export function packLinear(
  engine: Engine,
  w: Float32Array,
  shape: [number, number],
  label: string,
  bias?: Float32Array,
): LoadedLinear {
  if (engine.weights === "f16") assertFitsF16(w, label);
  const raw = engine.upload(w, shape, label, true);
  const weight = prepareLinearWeight(engine, raw);
  engine.submit();
  raw.release();
  return {
    weight,
    bias: bias
      ? engine.upload(bias, [shape[0]], label.replace(/weight$/, "bias"), true)
      : undefined,
  };
}

/** Reads a tensor as float32 and uploads it with `shape` (a constant weight). */
export async function loadTensor(
  engine: Engine,
  file: WeightReader,
  name: string,
  shape: number[],
): Promise<Tensor> {
  return engine.upload(await file.readF32(name), shape, name, true);
}

/** Uploads a LayerNorm over `dim` features. */
export async function loadNorm(
  engine: Engine,
  file: WeightReader,
  n: NormNames,
  dim: number,
): Promise<LoadedNorm> {
  return {
    weight: await loadTensor(engine, file, n.weight, [dim]),
    bias: await loadTensor(engine, file, n.bias, [dim]),
  };
}

/** Frees a linear layer's GPU weights. */
export function releaseLinear(l: LoadedLinear): void {
  l.weight.release();
  l.bias?.release();
}

/** Frees a LayerNorm's GPU weights. */
export function releaseNorm(n: LoadedNorm): void {
  n.weight.release();
  n.bias.release();
}
