/**
 * ResNet-50 forward throughput in images/s (torchvision layout, random
 * weights generated here, 224x224 inputs), batch 1 and batch 8.
 *
 * `deno bench -A bench/resnet_bench.ts`. Each case runs once after one
 * warm-up pass (pipeline compilation), because on a software adapter
 * (lavapipe) one image takes seconds. Time = upload + forward + logits
 * readback. The module prints one images/s line per case at the end, since
 * `deno bench` only reports time per iteration. Set VISIONEVAL_BENCH_BATCHES
 * (e.g. "1,8,32") to choose the batch sizes.
 */
import { Engine } from "../src/gpu/engine.ts";
import { ResNet } from "../src/models/resnet/model.ts";
import { resnetSpec } from "../src/models/resnet/layouts.ts";
import { encodeSafetensors, SafetensorsFile } from "../src/weights/safetensors.ts";
import { randomF32 } from "../tests/_helpers.ts";
import { encodeWeights, RESNET50, synthResNetWeights } from "../tests/resnet_synth.ts";

const engine = await Engine.create();
const { tensors } = encodeWeights(synthResNetWeights(RESNET50, 50), "F32");
const file = SafetensorsFile.fromBytes(encodeSafetensors(tensors), "resnet50-random");
const model = await ResNet.fromFile(engine, file, resnetSpec(file), {
  config: {},
  inputSize: [224, 224],
});
file.close();

const batches = (Deno.env.get("VISIONEVAL_BENCH_BATCHES") ?? "1,8").split(",").map(Number);
const inputs = new Map(batches.map((b) => [b, randomF32(b * 3 * 224 * 224, b)]));
const rates: string[] = [];
let warmedUp = false;

async function forwardOnce(b: number): Promise<number> {
  const t0 = performance.now();
  const x = engine.upload(inputs.get(b)!, [b, 3, 224, 224], "pixels");
  const { logits } = model.forward(engine, x);
  await engine.readF32(logits);
  x.release();
  logits.release();
  return (performance.now() - t0) / 1000;
}

for (const b of batches) {
  Deno.bench({
    name: `ResNet-50 forward, batch ${b}, 224x224`,
    group: "resnet50",
    n: 1,
    warmup: b === batches[0] ? 1 : 0,
    fn: async () => {
      const s = await forwardOnce(b);
      // The first pass compiles the pipelines; report only the timed ones.
      if (!warmedUp) return void (warmedUp = true);
      rates.push(
        `ResNet-50 batch ${b}: ${(b / s).toFixed(3)} images/s (${s.toFixed(2)} s per batch) on ` +
          `${engine.gpu.info.description}`,
      );
    },
  });
}

globalThis.addEventListener("unload", () => {
  for (const r of rates) console.log(r);
  model.dispose();
});
