/** `visioneval bench`: forward-pass throughput of a model on this adapter. */
import { parseArgs } from "node:util";
import { UsageError } from "../errors.ts";
import { Engine } from "../gpu/engine.ts";
import { loadModel } from "../models/load.ts";
import { intArg, printModelNotes } from "./options.ts";

/** Usage text. */
export const HELP =
  `usage: visioneval bench --model PATH [--batch 8] [--iterations 3] [--profile] [--json]

Measures the model's forward pass on random inputs: images/s (after one
warm-up batch) and, with --profile, GPU time per kernel (timestamp queries).
Kernel benchmarks (GFLOP/s) are in bench/ (\`deno task bench\`).

  --model PATH      model folder or .safetensors file
  --batch N         images per batch (default 8)
  --iterations N    timed batches (default 3)
  --profile         per-kernel GPU times
  --json            print JSON`;

/** Runs `bench`. */
export async function run(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      model: { type: "string" },
      batch: { type: "string", default: "8" },
      iterations: { type: "string", default: "3" },
      profile: { type: "boolean" },
      json: { type: "boolean" },
    },
    strict: true,
  });
  if (!v.model) throw new UsageError("--model PATH is required");
  const batch = intArg(v.batch, "--batch", 1, 4096)!;
  const iterations = intArg(v.iterations, "--iterations", 1, 1000)!;
  const engine = await Engine.create({ profile: v.profile });
  const model = await loadModel(v.model, engine);
  printModelNotes(model);
  const [h, w] = model.inputSize;
  const pixels = new Float32Array(batch * 3 * h * w);
  let seed = 1;
  for (let i = 0; i < pixels.length; i++) {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    pixels[i] = seed / 2 ** 31 - 1;
  }
  const once = async () => {
    const x = engine.upload(pixels, [batch, 3, h, w], "pixels");
    const { logits } = model.forward(engine, x, {});
    await engine.readF32(logits);
    x.release();
    logits.release();
  };
  await once(); // warm-up: pipeline compilation, buffer allocation
  // GPU kernel path: time the GEMM tilings of this batch's shapes, warm up the winners.
  const tuned = await engine.tuneKernels();
  if (tuned.length) await once();
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) await once();
  const seconds = (performance.now() - t0) / 1000;
  const result = {
    model: model.path,
    architecture: model.architecture,
    input: [batch, 3, h, w],
    adapter: engine.gpu.info.description,
    kernel_path: engine.kernels.name,
    weights: engine.weights,
    gemm_tilings: Object.fromEntries(engine.tuner.inUse()),
    iterations,
    images_per_second: (batch * iterations) / seconds,
    ms_per_batch: (1000 * seconds) / iterations,
    kernels: v.profile ? await engine.profile() : undefined,
  };
  if (v.json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(`${result.architecture} ${model.path} on ${result.adapter}`);
  console.log(
    `kernels: ${engine.kernels.name} (${engine.kernels.reason}); ${engine.weights} linear + GEMM conv weights`,
  );
  if (engine.kernels.name === "gpu") {
    const counts = new Map<string, number>();
    for (const t of engine.tuner.inUse().values()) counts.set(t, (counts.get(t) ?? 0) + 1);
    console.log(
      `GEMM tilings: ${[...counts].map(([t, c]) => `${t} x${c} shapes`).join(", ")}` +
        (tuned.length ? ` (${tuned.length} shapes tuned now)` : ""),
    );
  }
  console.log(
    `batch ${batch} at ${h}x${w}: ${result.images_per_second.toFixed(2)} images/s ` +
      `(${result.ms_per_batch.toFixed(1)} ms per batch, ${iterations} batches)`,
  );
  if (result.kernels) {
    const total = result.kernels.reduce((s, k) => s + k.ms, 0);
    for (const k of result.kernels) {
      console.log(
        `  ${k.name.padEnd(24)} ${k.ms.toFixed(1).padStart(9)} ms ${
          (100 * k.ms / total).toFixed(1).padStart(5)
        }%  ${k.calls} calls`,
      );
    }
  }
}
