/**
 * Which family of kernels an engine records. Software adapters (Mesa
 * llvmpipe / lavapipe, SwiftShader, WARP) run a workgroup as the SIMD lanes
 * of one CPU core, where workgroup memory and barriers are expensive: the
 * "software" kernels (8-invocation workgroups, register tiles, no barrier
 * in the hot loop) are tuned for them. A hardware GPU wants the opposite:
 * hundreds of invocations per workgroup sharing tiles through workgroup
 * memory: the "gpu" kernels (e.g. shaders/gemm_tiled.wgsl).
 *
 * The path is chosen per adapter, and can be forced with the environment
 * variable `VISIONEVAL_KERNELS=software|gpu` or {@link KernelOptions.kernels}.
 */
import { GpuLimitError, UsageError } from "../errors.ts";
import type { AdapterDescription } from "./device.ts";

/** A family of kernels. */
export type KernelPathName = "software" | "gpu";

/** What the caller asks for: a path, or "auto" (by adapter). */
export type KernelChoice = KernelPathName | "auto";

/** How an engine picks its kernels. */
export interface KernelOptions {
  /** Kernel path (default: `VISIONEVAL_KERNELS`, else "auto": by adapter). */
  kernels?: KernelChoice;
  /**
   * Time candidate tilings of the GPU path's GEMM shapes once and cache the
   * winners (default: true unless `VISIONEVAL_AUTOTUNE=0`; the CLI's
   * `--no-autotune`). Ignored on the software path, which has one tiling.
   */
  autotune?: boolean;
  /**
   * How linear-layer weights (the packed GEMM B operand) and the weights of
   * convolutions that run as GEMMs are stored on the GPU (default: `VISIONEVAL_WEIGHTS`, else "f32"; the CLI's `--weights`).
   * See {@link chooseWeightStorage}.
   */
  weights?: WeightStorage;
}

/**
 * Element type of linear and GEMM-convolution weights on the GPU. "f16" halves their
 * memory and bandwidth; activations and accumulation stay f32 either way.
 */
export type WeightStorage = "f32" | "f16";

/** The kernel path an engine runs, and why. */
export interface KernelPath {
  /** The path. */
  name: KernelPathName;
  /** Why it was chosen, for `info` and run headers. */
  reason: string;
  /** Whether GEMM tilings are autotuned (GPU path only). */
  autotune: boolean;
}

/** Names of adapters that run on the CPU (some do not set isFallbackAdapter). */
const SOFTWARE_NAMES = /llvmpipe|lavapipe|swiftshader|\bwarp\b|basic render driver|softpipe/i;

/** True for adapters that run on the CPU. */
export function isSoftwareAdapter(info: AdapterDescription): boolean {
  return info.isFallbackAdapter ||
    SOFTWARE_NAMES.test(`${info.description} ${info.device} ${info.architecture}`);
}

let processDefaults: KernelOptions = {};

/**
 * Sets the options every later engine starts from (the CLI's global
 * `--kernels`, `--no-autotune` and `--weights`); explicit engine options still win.
 */
export function setKernelDefaults(opts: KernelOptions): void {
  processDefaults = { ...opts };
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no --allow-env: the defaults apply
  }
}

/** Parses a kernel path name from an option or environment variable. */
export function parseKernelChoice(value: string, where: string): KernelChoice {
  if (value === "software" || value === "gpu" || value === "auto") return value;
  throw new UsageError(
    `${where} must be "software", "gpu" or "auto", got "${value}"`,
  );
}

/**
 * The kernel path for an adapter: explicit options, then process defaults
 * (CLI), then `VISIONEVAL_KERNELS` / `VISIONEVAL_AUTOTUNE`, then the adapter.
 */
export function chooseKernelPath(info: AdapterDescription, opts: KernelOptions = {}): KernelPath {
  const envKernels = env("VISIONEVAL_KERNELS");
  const choice = opts.kernels ?? processDefaults.kernels ??
    (envKernels ? parseKernelChoice(envKernels, "VISIONEVAL_KERNELS") : "auto");
  const autotune = opts.autotune ?? processDefaults.autotune ??
    env("VISIONEVAL_AUTOTUNE") !== "0";
  const software = isSoftwareAdapter(info);
  if (choice !== "auto") {
    const source = opts.kernels
      ? "the engine options"
      : processDefaults.kernels
      ? "--kernels"
      : "VISIONEVAL_KERNELS";
    return { name: choice, reason: `forced by ${source}`, autotune: autotune && choice === "gpu" };
  }
  return software
    ? { name: "software", reason: "software adapter, runs on the CPU", autotune: false }
    : { name: "gpu", reason: "hardware adapter", autotune };
}

/** Largest finite f16 value. */
export const F16_MAX = 65504;

/**
 * Refuses to store `values` (the weight tensor `label`) as f16 when one is
 * beyond f16's range: it would silently become infinite.
 */
export function assertFitsF16(values: Float32Array, label: string): void {
  const big = values.findIndex((v) => Math.abs(v) > F16_MAX);
  if (big >= 0) {
    throw new UsageError(
      `Tensor "${label}" holds ${values[big]}, beyond the f16 range (±${F16_MAX}): it cannot be ` +
        `stored as f16. Use --weights f32 (the default).`,
    );
  }
}

/** Parses a weight storage from an option or environment variable. */
export function parseWeightStorage(value: string, where: string): WeightStorage {
  if (value === "f32" || value === "f16") return value;
  throw new UsageError(`${where} must be "f32" or "f16", got "${value}"`);
}

/**
 * The weight storage of an engine: explicit options, then process defaults
 * (CLI `--weights`), then `VISIONEVAL_WEIGHTS`, else "f32". f16 needs the
 * adapter's `shader-f16` feature; without it a {@link GpuLimitError} says so.
 */
export function chooseWeightStorage(hasF16: boolean, opts: KernelOptions = {}): WeightStorage {
  const envWeights = env("VISIONEVAL_WEIGHTS");
  const storage = opts.weights ?? processDefaults.weights ??
    (envWeights ? parseWeightStorage(envWeights, "VISIONEVAL_WEIGHTS") : "f32");
  if (storage === "f16" && !hasF16) {
    const source = opts.weights
      ? "the engine options"
      : processDefaults.weights
      ? "--weights"
      : "VISIONEVAL_WEIGHTS";
    throw new GpuLimitError(
      `f16 weights (asked for by ${source}) need the WebGPU feature "shader-f16", which this ` +
        `adapter lacks (see \`visioneval info\`). Use --weights f32 (the default).`,
    );
  }
  return storage;
}
