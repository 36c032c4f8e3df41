/**
 * The workgroup reductions behind the row kernels (LayerNorm, softmax): the
 * tree in workgroup memory (shaders/workgroup_reduce.wgsl), or subgroup
 * operations (shaders/subgroup_reduce.wgsl) where the adapter has the
 * WebGPU feature "subgroups". A kernel's own WGSL is written against
 * `workgroupSum` / `workgroupMax` and is prepended with one of them.
 *
 * Subgroup variants are GPU-path candidates chosen by the kernel check and
 * autotuner (src/gpu/autotune.ts): the tree is the reference, each subgroup
 * variant must reproduce it on the adapter before it is used.
 */
import treeCode from "../../shaders/workgroup_reduce.wgsl" with { type: "text" };
import enableCode from "../../shaders/subgroup_enable.wgsl" with { type: "text" };
import subgroupOpsCode from "../../shaders/subgroup_ops.wgsl" with { type: "text" };
import emulatedOpsCode from "../../shaders/subgroup_ops_emulated.wgsl" with { type: "text" };
import subgroupCode from "../../shaders/subgroup_reduce.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import type { TuneJob } from "../gpu/autotune.ts";
import type { Tensor } from "../tensor.ts";

/**
 * How a workgroup reduces: "tree" (workgroup memory, every adapter),
 * "subgroup" (`enable subgroups;` + subgroup built-ins), "subgroup-noenable"
 * (the built-ins without the directive, for WGSL compilers that predate
 * it), or "subgroup-emulated-W" (subgroups of W invocations emulated in
 * workgroup memory: tests of the combining logic on any adapter).
 */
export type Reduction = "tree" | "subgroup" | "subgroup-noenable" | `subgroup-emulated-${number}`;

/** The hardware subgroup variants, tried where the adapter has "subgroups". */
const HARDWARE: readonly Reduction[] = ["subgroup", "subgroup-noenable"];

/** The reduction snippet of `reduction` (goes before the kernel's own code), and its override constants. */
export function reductionCode(
  reduction: Reduction,
): { code: string; constants: Record<string, number> } {
  if (reduction === "tree") return { code: treeCode, constants: {} };
  if (reduction === "subgroup") {
    return { code: enableCode + subgroupOpsCode + subgroupCode, constants: {} };
  }
  if (reduction === "subgroup-noenable") {
    return { code: subgroupOpsCode + subgroupCode, constants: {} };
  }
  const width = Number(reduction.slice("subgroup-emulated-".length));
  if (!Number.isInteger(width) || width < 1 || (width & (width - 1)) !== 0) {
    throw new Error(`reductionCode: "${reduction}" needs a power-of-two width`);
  }
  return { code: emulatedOpsCode + subgroupCode, constants: { SUBGROUP: width } };
}

/**
 * The reduction a row kernel uses for rows of `width` on `engine`: the tree
 * on the software path, where the adapter lacks "subgroups" and with
 * autotuning off; otherwise the tuner's checked choice (the tree until the
 * shape has been checked; see src/gpu/autotune.ts). `job` builds the check of one
 * shape: it records the kernel with a given reduction and returns its output.
 */
export function pickReduction(
  engine: Engine,
  kernel: string,
  width: number,
  job: (engine: Engine) => { record(on: Engine, reduction: Reduction): Tensor; release(): void },
): Reduction {
  if (engine.kernels.name !== "gpu" || !engine.gpu.hasSubgroups || !engine.tuner.enabled) {
    return "tree"; // subgroups only once checked, and checks come with tuning
  }
  const key = `${kernel} width=${width}`;
  const tuneJob = (): TuneJob => ({
    key,
    candidates: HARDWARE,
    reference: "tree",
    prepare: (on) => {
      const run = job(on);
      return { record: (e, name) => run.record(e, name as Reduction), release: run.release };
    },
  });
  return engine.tuner.pick(key, [...HARDWARE, "tree"], "tree", tuneJob) as Reduction;
}
