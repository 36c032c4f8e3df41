/**
 * Engines on each kernel path, for tests that prove both the software and
 * the GPU-class kernels against float64 references on the adapter at hand
 * (on lavapipe the GPU path is forced). Autotuning is off; the GPU path's
 * GEMM tiling is fixed per test (unchecked: these tests are the check) so
 * that every tiling meets awkward shapes.
 */
import { Engine } from "../src/gpu/engine.ts";
import { Autotuner } from "../src/gpu/autotune.ts";
import type { KernelPathName, WeightStorage } from "../src/gpu/kernel_path.ts";
import { GEMM_TILINGS } from "../src/ops/gemm.ts";

/** Both kernel paths. */
export const KERNEL_PATHS: readonly KernelPathName[] = ["software", "gpu"];

/** The GPU path's GEMM tiling names. */
export const TILINGS: readonly string[] = Object.keys(GEMM_TILINGS);

/**
 * An engine on `path`; on the GPU path every GEMM uses `tiling` (default:
 * the shape's heuristic tiling). Linear weights are stored as `weights`.
 */
export function engineOn(
  path: KernelPathName,
  tiling?: string,
  weights: WeightStorage = "f32",
): Promise<Engine> {
  const tuner = new Autotuner(`test ${path}`, undefined, false);
  // The tiling under test, unchecked (an unchecked shape would run the software reference).
  tuner.fixed = tiling ?? "heuristic";
  return Engine.create({ kernels: path, autotune: false, tuner, weights });
}

/** Test-name suffix: the path and, on the GPU path, the tiling. */
export function pathLabel(path: KernelPathName, tiling?: string): string {
  return path === "software"
    ? "[software kernels]"
    : tiling
    ? `[gpu kernels, ${tiling} tiles]`
    : "[gpu kernels]";
}
