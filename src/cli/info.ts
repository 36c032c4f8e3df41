/** `visioneval info`: the GPU adapter, its features and limits. */
import { parseArgs } from "node:util";
import { getGpu } from "../gpu/device.ts";
import { VERSION } from "../version.ts";

/** Usage text. */
import { FAMILIES } from "../models/registry.ts";

export const HELP = `usage: visioneval info [--json]

Describes the WebGPU adapter visioneval would use: name, backend, features and
the limits that bound batch sizes.

  --json   print machine-readable JSON`;

/** Runs `info`. */
export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { json: { type: "boolean" } }, strict: true });
  const gpu = await getGpu();
  const limits: Record<string, number> = {};
  for (const key in gpu.limits) {
    const v = (gpu.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === "number") limits[key] = v;
  }
  const report = {
    visioneval: VERSION,
    deno: Deno.version.deno,
    adapter: gpu.info,
    backend: backendOf(gpu.info.description, gpu.info.vendor),
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
