/** `visioneval info`: the GPU adapter, its features and limits. */
import { parseArgs } from "node:util";
import { getGpu } from "../gpu/device.ts";
import { chooseKernelPath, chooseWeightStorage } from "../gpu/kernel_path.ts";
import { tunerFor } from "../gpu/autotune.ts";
import { defaultGemmTiling, GEMM_TILINGS } from "../ops/gemm.ts";
import { VERSION } from "../version.ts";
import { FAMILIES } from "../models/registry.ts";

/** Usage text. */
export const HELP = `usage: visioneval info [--json]

Describes the WebGPU adapter visioneval would use: name, backend, features,
the kernel path (software or GPU-class kernels) with its GEMM tilings and
the tilings autotuned on this adapter so far (each checked against the
software kernel's output first; rejected candidates are listed), the storage of linear and GEMM-convolution weights
(f32, or f16 where the adapter has shader-f16), and the limits that bound
batch sizes. The global options --kernels, --no-autotune and --weights apply.

  --json   print machine-readable JSON`;

/** What each kernel family runs on the software path ... */
const SOFTWARE_KERNELS = {
  gemm: "gemm.wgsl: 8 invocations, 16 rows x 64 columns in registers per workgroup",
  depthwise: "depthwise_nhwc.wgsl: 8 invocations along pixels, weights in uniform blocks",
  attention: "attention.wgsl: 16-32 invocations, 2 query rows each, key tiles in workgroup memory",
  im2col: "conv2d_pack*.wgsl: an invocation per 64-column panel row",
  layernorm: "an invocation per row",
  softmax: "a workgroup of 64 per row, tree reductions",
  metrics: "a thread per row (up to 16,384 classes)",
};
/** ... and on the GPU path. */
const GPU_KERNELS = {
  gemm: "gemm_tiled.wgsl: 256 invocations, workgroup-memory tiles (tilings below)",
  depthwise: "depthwise_nhwc_gpu.wgsl: 64 invocations along channels (coalesced)",
  attention: "attention.wgsl: 32-64 invocations, 2 query rows each, key tiles in workgroup memory",
  im2col: "conv2d_pack*.wgsl: an invocation per texel, 256 per workgroup (coalesced)",
  layernorm: "a workgroup of 64 per row; subgroup reductions where the adapter has subgroups " +
    "and they pass the kernel check, else tree reductions",
  softmax: "a workgroup of 64 per row; reductions as LayerNorm's",
  metrics: "a workgroup of 128-256 threads per row beyond 32 classes",
};

/** Runs `info`. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { json: { type: "boolean" } }, strict: true });
  const gpu = await getGpu();
  const limits: Record<string, number> = {};
  for (const key in gpu.limits) {
    const v = (gpu.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === "number") limits[key] = v;
  }
  const path = chooseKernelPath(gpu.info);
  const weights = chooseWeightStorage(gpu.hasF16);
  const tuner = tunerFor(gpu.info, path.autotune);
  const tuned = Object.entries(tuner.cached()).map(([shape, t]) => ({
    shape,
    tiling: t.tiling,
    ...(t.rejected ? { rejected: t.rejected } : {}),
  }));
  const report = {
    visioneval: VERSION,
    deno: Deno.version.deno,
    adapter: gpu.info,
    backend: backendOf(gpu.info.description, gpu.info.vendor),
    kernels: {
      path: path.name,
      reason: path.reason,
      kernels: path.name === "software" ? SOFTWARE_KERNELS : GPU_KERNELS,
      gemm_tilings: path.name === "software" ? ["16x64"] : Object.keys(GEMM_TILINGS),
      default_tiling_example: path.name === "software" ? undefined : {
        "4096x4096x4096": defaultGemmTiling(4096, 4096, 1),
        "197x768x768": defaultGemmTiling(197, 768, 1),
      },
      autotune: path.autotune,
      tiling_cache: tuner.file ?? null,
      tuned,
      weights,
      f16_weights_available: gpu.hasF16,
    },
    features: [...gpu.features].sort(),
    limits,
    model_families: FAMILIES.map((f) => ({ name: f.name, layouts: f.summary, explain: f.explain })),
  };
  if (values.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(`visioneval ${VERSION} (Deno ${Deno.version.deno})`);
  console.log(
    `adapter:   ${gpu.info.description}${gpu.info.isFallbackAdapter ? " (software)" : ""}`,
  );
  console.log(
    `vendor:    ${gpu.info.vendor || "-"}  architecture: ${gpu.info.architecture || "-"}`,
  );
  console.log(`backend:   ${report.backend}`);
  const k = report.kernels;
  console.log(`kernels:   ${k.path} (${k.reason})`);
  for (const [op, how] of Object.entries(k.kernels)) console.log(`  ${op.padEnd(10)} ${how}`);
  console.log(
    `weights:   ${weights} linear + GEMM conv weights, f32 accumulation` +
      (weights === "f32" && gpu.hasF16 ? " (f16 available: --weights f16)" : "") +
      (gpu.hasF16 ? "" : " (no shader-f16: f32 only)"),
  );
  if (k.path === "gpu") {
    console.log(
      `tilings:   ${k.gemm_tilings.join(", ")}; autotune ${k.autotune ? "on" : "off"}, ` +
        `${tuned.length} shape(s) tuned on this adapter (${k.tiling_cache ?? "no cache folder"})`,
    );
    for (const t of tuned) {
      console.log(`  ${t.shape.padEnd(40)} ${t.tiling}`);
      // Candidates that computed something else than the reference on this adapter.
      for (const [name, why] of Object.entries(t.rejected ?? {})) {
        console.log(`    rejected ${name}: ${why}`);
      }
    }
  }
  console.log(`features:  ${report.features.join(", ")}`);
  console.log("models:");
  for (const f of FAMILIES) console.log(`  ${f.summary}`);
  console.log("limits:");
  for (const [k, v] of Object.entries(limits)) console.log(`  ${k.padEnd(42)} ${v}`);
}

/** Best guess of the native API under WebGPU (wgpu does not expose it directly). */
function backendOf(description: string, vendor: string): string {
  if (/llvmpipe|lavapipe/i.test(description)) {
    return vendor === "65541" ? "Vulkan (Mesa lavapipe, CPU)" : "Mesa llvmpipe (CPU)";
  }
  if (Deno.build.os === "darwin") return "Metal";
  if (Deno.build.os === "windows") return "D3D12 or Vulkan";
  return "Vulkan";
}
