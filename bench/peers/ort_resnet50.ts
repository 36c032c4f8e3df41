/**
 * Opt-in peer benchmark: the same torchvision ResNet-50, ConvNeXt-T, EfficientNet-B0, MobileNetV3-L or Swin-T
 * (`--arch convnext_tiny`; identical random weights) run by visioneval and by onnxruntime-web's WebGPU execution
 * provider, in one Deno process on the same adapter. Prints images/s for
 * both at each batch size and checks that both match PyTorch's logits.
 *
 * onnxruntime-web (about 150 MB) is deliberately not a project dependency;
 * install it next to the exported model:
 *
 * ```sh
 * apt-get install python3-torch python3-torchvision
 * /usr/bin/python3 bench/peers/export_resnet50.py /tmp/visioneval-ort
 * (cd /tmp/visioneval-ort && npm init -y && npm install onnxruntime-web@1.30.0)
 * deno run -A bench/peers/ort_resnet50.ts --dir /tmp/visioneval-ort --batch 1,8 --repeat 3
 * # ConvNeXt-T: export into its own folder (the weights file is per model)
 * /usr/bin/python3 bench/peers/export_resnet50.py /tmp/visioneval-ort-cnx convnext_tiny
 * deno run -A bench/peers/ort_resnet50.ts --dir /tmp/visioneval-ort-cnx --arch convnext_tiny \
 *   --ort /tmp/visioneval-ort
 * ```
 *
 * Each engine first runs PyTorch's 2 reference images (checking the logits
 * and compiling its pipelines), then each batch once, timed from host input
 * to host logits, alternating engines so both see the same background load
 * (`--repeat N` times; the median is reported).
 */
import { parseArgs } from "node:util";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { Engine } from "../../src/gpu/engine.ts";
import { loadModel } from "../../src/models/load.ts";
import { SafetensorsFile } from "../../src/weights/safetensors.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    dir: { type: "string", default: "/tmp/visioneval-ort" },
    batch: { type: "string", default: "1,8" },
    engines: { type: "string", default: "visioneval,ort" },
    repeat: { type: "string", default: "1" },
    arch: { type: "string", default: "resnet50" },
    ort: { type: "string" },
  },
});
const dir = resolve(values.dir!);
const batches = values.batch!.split(",").map(Number);
const engines = values.engines!.split(",");
const repeat = Math.max(1, Number(values.repeat));
const arch = values.arch!;
/** Where onnxruntime-web is installed (default: the model folder). */
const ortDir = resolve(values.ort ?? dir);

const ref = await SafetensorsFile.open(join(dir, "reference.safetensors"));
const refPixels = await ref.readF32("pixel_values");
const refLogits = await ref.readF32("logits");
ref.close();

function relDiff(a: Float32Array, b: Float32Array): number {
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

function input(b: number): Float32Array {
  const x = new Float32Array(b * 3 * 224 * 224);
  for (let i = 0; i < x.length; i++) x[i] = refPixels[i % refPixels.length];
  return x;
}

const lines: string[] = [];
const gpuEngine = await Engine.create();
const adapter = gpuEngine.gpu.info.description;

/** One engine: runs a batch and returns its logits. */
type Runner = { name: string; run: (x: Float32Array, b: number) => Promise<Float32Array> };
const runners: Runner[] = [];
const cleanup: (() => unknown)[] = [];

if (engines.includes("visioneval")) {
  const model = await loadModel(dir, gpuEngine);
  runners.push({
    name: "visioneval",
    run: async (x, b) => {
      const t = gpuEngine.upload(x, [b, 3, 224, 224], "pixels");
      const { logits } = model.forward(gpuEngine, t);
      const out = await gpuEngine.readF32(logits);
      t.release();
      logits.release();
      return out;
    },
  });
  cleanup.push(() => model.dispose());
}

if (engines.includes("ort")) {
  const ortPath = join(ortDir, "node_modules/onnxruntime-web/dist/ort.webgpu.bundle.min.mjs");
  // deno-lint-ignore no-explicit-any
  const ort: any = await import(pathToFileURL(ortPath).href);
  ort.env.wasm.numThreads = 1; // no worker threads: the GPU does the work
  ort.env.logLevel = "warning";
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(
    await Deno.readFile(join(dir, `${arch}.onnx`)),
    { executionProviders: ["webgpu"], graphOptimizationLevel: "all" },
  );
  lines.push(
    `onnxruntime-web ${ort.env.versions.web} WebGPU EP session created in ` +
      `${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  runners.push({
    name: "onnxruntime-web",
    run: async (x, b) => {
      const out = await session.run({
        pixel_values: new ort.Tensor("float32", x, [b, 3, 224, 224]),
      });
      return out.logits.data as Float32Array;
    },
  });
  cleanup.push(() => session.release());
}

// Correctness (and pipeline compilation) first, then the timed batches,
// alternating engines so both see the same background load.
for (const r of runners) {
  const check = await r.run(refPixels, 2);
  lines.push(
    `${r.name} vs PyTorch logits: max|diff|/max|ref| = ${
      relDiff(check, refLogits).toExponential(2)
    }`,
  );
}
for (const b of batches) {
  const x = input(b);
  const times = new Map<string, number[]>(runners.map((r) => [r.name, []]));
  for (let i = 0; i < repeat; i++) {
    for (const r of runners) {
      const t0 = performance.now();
      await r.run(x, b);
      times.get(r.name)!.push((performance.now() - t0) / 1000);
      console.log(`${r.name} batch ${b} run ${i + 1}: ${times.get(r.name)!.at(-1)!.toFixed(1)} s`);
    }
  }
  for (const [name, ts] of times) {
    const median = ts.toSorted((p, q) => p - q)[Math.floor(ts.length / 2)];
    lines.push(
      `${name} batch ${b}: ${(b / median).toFixed(3)} images/s (median of ${ts.length}: ` +
        `${median.toFixed(1)} s; runs ${ts.map((t) => t.toFixed(1)).join(", ")} s)`,
    );
  }
}
for (const c of cleanup) await c();

console.log(`\n${arch} 224x224 on ${adapter} (Deno ${Deno.version.deno})`);
for (const l of lines) console.log(l);
