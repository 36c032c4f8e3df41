/**
 * ViT forward throughput in images/s: ViT-Ti/16 and ViT-B/16 at 224x224
 * (timm layout, random weights generated here, in memory), batch 1 and 8.
 *
 * `deno bench -A bench/vit_bench.ts`. Each case runs once after one warm-up
 * pass (pipeline compilation). Time = upload + forward + logits readback.
 * `deno bench` runs each case a few times (at least 3 for slow cases); the
 * module prints the median images/s of each case at the end (`deno bench`
 * itself only reports time per iteration). VISIONEVAL_BENCH_BATCHES (e.g. "1,8,32") picks the
 * batch sizes, VISIONEVAL_BENCH_MODELS ("tiny,base") the models.
 */
import { Engine } from "../src/gpu/engine.ts";
import { ViTModel } from "../src/models/vit/model.ts";
import { encodeSafetensors, SafetensorsFile } from "../src/weights/safetensors.ts";
import { randomF32 } from "../tests/_helpers.ts";
import { synthTimmViT, VIT_BASE, VIT_TINY } from "../tests/_vit_synth.ts";

const engine = await Engine.create();
const batches = (Deno.env.get("VISIONEVAL_BENCH_BATCHES") ?? "1,8").split(",").map(Number);
const wanted = (Deno.env.get("VISIONEVAL_BENCH_MODELS") ?? "tiny,base").split(",");
const MODELS = [
  { key: "tiny", name: "ViT-Ti/16", size: VIT_TINY },
  { key: "base", name: "ViT-B/16", size: VIT_BASE },
].filter((m) => wanted.includes(m.key));
const samples = new Map<string, number[]>();

for (const { name, size } of MODELS) {
  const { tensors, config } = synthTimmViT(size, 7);
  const file = SafetensorsFile.fromBytes(encodeSafetensors(tensors), `${name}-random`);
  const model = await ViTModel.fromFile(engine, file, {
    dir: "(in memory)",
    weights: `${name}-random`,
    config,
    hasConfig: true,
  });
  file.close();
  const [H, W] = model.inputSize;
  const inputs = new Map(batches.map((b) => [b, randomF32(b * 3 * H * W, b)]));
  const forwardOnce = async (b: number) => {
    const t0 = performance.now();
    const x = engine.upload(inputs.get(b)!, [b, 3, H, W], "pixels");
    const { logits } = model.forward(engine, x);
    await engine.readF32(logits);
    x.release();
    logits.release();
    return (performance.now() - t0) / 1000;
  };
  await forwardOnce(1); // compile the pipelines
  for (const b of batches) {
    Deno.bench({
      name: `${name} forward, batch ${b}, ${H}x${W}`,
      group: name,
      n: 1,
      warmup: 0,
      fn: async () => {
        const s = await forwardOnce(b);
        const key = `${name} batch ${b}`;
        samples.set(key, [...(samples.get(key) ?? []), b / s]);
      },
    });
  }
}

globalThis.addEventListener("unload", () => {
  for (const [key, rates] of samples) {
    const sorted = rates.toSorted((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    console.log(
      `${key}: ${median.toFixed(3)} images/s (median of ${rates.length} runs, range ` +
        `${sorted[0].toFixed(3)}-${sorted.at(-1)!.toFixed(3)}) on ${engine.gpu.info.description}`,
    );
  }
});
