/**
 * visioneval side of bench/gpu/run.sh, after bench/gpu/torch_models.py has
 * written DIR/<model>/{model.safetensors,input.npy,logits.npy} and
 * DIR/torch.json. In one process:
 *   - per model: logits of input.npy against PyTorch's (max |diff| / max |ref|),
 *     then images/s at each batch size (random inputs, one warm-up batch,
 *     autotuned GEMM tilings on the GPU path, then `--iterations` batches);
 *   - GEMM N^3 GFLOP/s (`linear` with a prepacked weight, tuned tiling);
 *   - one metrics pass over `--metrics-rows` x `--classes` logits (a block of
 *     50,000 seeded rows uploaded repeatedly, fresh labels each time).
 * Prints one table and writes JSON.
 *
 *   deno run -A bench/gpu/visioneval_run.ts DIR [--models a,b] [--batches 1,32,128]
 *     [--iterations 10] [--gemm 4096] [--metrics-rows 1000000] [--classes 1000] [--json FILE]
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { Engine } from "../../src/gpu/engine.ts";
import { loadModel } from "../../src/models/load.ts";
import { readNpy } from "../../src/weights/npy.ts";
import { linear, prepareLinearWeight } from "../../src/ops/gemm.ts";
import { MetricState } from "../../src/metrics/state.ts";
import { computeMetrics } from "../../src/metrics/report.ts";
import { benchData } from "../metrics_data.ts";
import { mulberry32 } from "../../src/random.ts";

const { values: v, positionals } = parseArgs({
  args: Deno.args,
  options: {
    models: { type: "string", default: "resnet50,vit_b_16,convnext_tiny" },
    batches: { type: "string", default: "1,32,128" },
    iterations: { type: "string", default: "10" },
    gemm: { type: "string", default: "4096" },
    "metrics-rows": { type: "string", default: "1000000" },
    classes: { type: "string", default: "1000" },
    json: { type: "string" },
  },
  allowPositionals: true,
});
const dir = positionals[0];
if (!dir) throw new Error("usage: visioneval_run.ts DIR [options] (see the header)");
const batches = v.batches.split(",").map(Number);
const iterations = Number(v.iterations);

const engine = await Engine.create();
const adapter = engine.gpu.info.description;
console.error(`adapter: ${adapter}; kernels: ${engine.kernels.name} (${engine.kernels.reason})`);

/** Random pixels in [-1, 1) (seeded). */
function pixels(n: number): Float32Array {
  const r = mulberry32(7);
  return Float32Array.from({ length: n }, () => 2 * r() - 1);
}

interface ModelResult {
  logits_rel_diff: number;
  top1_agree: string;
  images_per_second: Record<string, number>;
}

async function benchModel(name: string): Promise<ModelResult> {
  const folder = join(dir, name);
  const model = await loadModel(join(folder, "model.safetensors"), engine);
  try {
    const input = await readNpy(join(folder, "input.npy"));
    const ref = (await readNpy(join(folder, "logits.npy"))).data as Float32Array;
    const x = engine.upload(input.data as Float32Array, input.shape, "input");
    const { logits } = model.forward(engine, x, {});
    const got = await engine.readF32(logits);
    x.release();
    logits.release();
    let diff = 0, scale = 0, agree = 0;
    const C = input.shape[0] ? ref.length / input.shape[0] : 0;
    for (let i = 0; i < ref.length; i++) {
      diff = Math.max(diff, Math.abs(got[i] - ref[i]));
      scale = Math.max(scale, Math.abs(ref[i]));
    }
    const argmax = (a: Float32Array, row: number) => {
      let best = 0;
      for (let c = 1; c < C; c++) if (a[row * C + c] > a[row * C + best]) best = c;
      return best;
    };
    for (let b = 0; b < input.shape[0]; b++) if (argmax(got, b) === argmax(ref, b)) agree++;
    console.error(
      `visioneval ${name}: logits vs PyTorch ${(scale ? diff / scale : diff).toExponential(2)} ` +
        `relative, top-1 ${agree}/${input.shape[0]}`,
    );

    const [h, w] = model.inputSize;
    const rates: Record<string, number> = {};
    for (const batch of batches) {
      const data = pixels(batch * 3 * h * w);
      const once = async () => {
        const t = engine.upload(data, [batch, 3, h, w], "pixels");
        const out = model.forward(engine, t, {});
        await engine.readF32(out.logits);
        t.release();
        out.logits.release();
      };
      await once(); // compile, allocate
      if ((await engine.tuneKernels()).length) await once(); // tuned tilings, warmed
      const t0 = performance.now();
      for (let i = 0; i < iterations; i++) await once();
      rates[batch] = batch * iterations / ((performance.now() - t0) / 1000);
      console.error(`visioneval ${name}: batch ${batch} ${rates[batch].toFixed(2)} img/s`);
    }
    return {
      logits_rel_diff: scale ? diff / scale : diff,
      top1_agree: `${agree}/${input.shape[0]}`,
      images_per_second: rates,
    };
  } finally {
    model.dispose();
  }
}

/** GFLOP/s of an n^3 `linear` (prepacked weight), best of 5 after tuning. */
async function benchGemm(n: number): Promise<number> {
  const r = mulberry32(3);
  const x = engine.upload(Float32Array.from({ length: n * n }, () => r() - 0.5), [n, n]);
  const w = prepareLinearWeight(
    engine,
    engine.upload(Float32Array.from({ length: n * n }, () => r() - 0.5), [n, n]),
  );
  const out = engine.empty([n, n]);
  const run = () => void linear(engine, x, w, { out });
  run();
  await engine.sync();
  await engine.tuneKernels();
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    run();
    await engine.sync();
    best = Math.min(best, performance.now() - t0);
  }
  x.release();
  w.release();
  out.release();
  return 2 * n ** 3 / (best / 1000) / 1e9;
}

/** Seconds for one metrics pass over rows x C logits, and its top-1. */
async function benchMetrics(rows: number, C: number): Promise<{ seconds: number; top1: number }> {
  const block = Math.min(rows, 50_000);
  const { logits } = benchData(block, C);
  const r = mulberry32(5);
  const t0 = performance.now();
  const state = MetricState.create(engine, { numClasses: C });
  const uploads = [];
  for (let done = 0; done < rows; done += block) {
    const n = Math.min(block, rows - done);
    const labels = Int32Array.from({ length: n }, () => Math.floor(r() * C));
    const t = engine.upload(logits.subarray(0, n * C), [n, C], "metrics.values");
    state.update(t, labels);
    engine.submit();
    uploads.push(t);
    if (uploads.length > 2) uploads.shift()!.release();
  }
  const report = computeMetrics(await state.snapshot());
  const seconds = (performance.now() - t0) / 1000;
  uploads.forEach((t) => t.release());
  state.release();
  return { seconds, top1: report.top1 };
}

const models: Record<string, ModelResult> = {};
for (const name of v.models.split(",")) models[name] = await benchModel(name);
const gemmN = Number(v.gemm);
const gemmGflops = await benchGemm(gemmN);
console.error(`visioneval GEMM ${gemmN}^3: ${gemmGflops.toFixed(1)} GFLOP/s`);
const metricsRows = Number(v["metrics-rows"]), classes = Number(v.classes);
const metrics = await benchMetrics(metricsRows, classes);

const torch = JSON.parse(await Deno.readTextFile(join(dir, "torch.json")));
const result = {
  adapter,
  kernel_path: engine.kernels.name,
  gemm_tilings: Object.fromEntries(engine.tuner.inUse()),
  torch_device: torch.device,
  torch: torch.torch,
  models: Object.fromEntries(
    Object.entries(models).map(([name, m]) => [name, {
      ...m,
      torch_images_per_second: torch.models[name]?.images_per_second ?? {},
    }]),
  ),
  gemm: { n: gemmN, gflops: gemmGflops },
  metrics: { rows: metricsRows, classes, ...metrics },
};

const lines = [
  `visioneval on ${adapter} (${engine.kernels.name} kernels) vs PyTorch ${torch.torch} eager fp32 on ${torch.device}`,
  "",
  "| model | batch | visioneval img/s | PyTorch img/s | ratio | logits rel. diff | top-1 agree |",
  "|---|---|---|---|---|---|---|",
];
for (const [name, m] of Object.entries(result.models)) {
  for (const b of batches) {
    const ours = m.images_per_second[b], theirs = m.torch_images_per_second[b];
    lines.push(
      `| ${name} | ${b} | ${ours.toFixed(2)} | ${theirs?.toFixed(2) ?? "-"} | ${
        theirs ? (ours / theirs).toFixed(3) : "-"
      } | ${m.logits_rel_diff.toExponential(2)} | ${m.top1_agree} |`,
    );
  }
}
lines.push(
  "",
  `GEMM ${gemmN}^3 f32: ${gemmGflops.toFixed(1)} GFLOP/s`,
  `metrics pass ${metricsRows.toLocaleString("en")} x ${classes}: ${
    metrics.seconds.toFixed(2)
  } s (${(metricsRows / metrics.seconds).toFixed(0)} rows/s)`,
);
console.log(lines.join("\n"));
if (v.json) await Deno.writeTextFile(v.json, JSON.stringify(result, null, 2) + "\n");
const worst = Math.max(...Object.values(models).map((m) => m.logits_rel_diff));
if (!(worst <= 1e-3)) {
  console.error(`logits differ from PyTorch by ${worst.toExponential(2)} (> 1e-3 relative)`);
  Deno.exit(1);
}
