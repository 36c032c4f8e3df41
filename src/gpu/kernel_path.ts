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
import { UsageError } from "../errors.ts";
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
}

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
 * `--kernels` and `--no-autotune`); explicit engine options still win.
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
