/**
 * Fused attention throughput in GFLOP/s (4 * B * H * T^2 * d flops: Q K^T
 * and P V) at ViT-Ti/16 (T 197, 3 heads of 64) and ViT-B/16 (T 197, 12
 * heads of 64) shapes, with and without the head-mean probabilities, and
 * at Swin-T's stage-1 windows (7x7 windows: T 49, 3 heads of 32; 64 windows
 * per 224x224 image) without a bias, with the relative-position bias
 * ([1, H, T, T]) and with the shifted-window bias (bias + mask per window,
 * [64, H, T, T]), all fused into the kernel.
 *
 * `deno bench -A bench/attention_bench.ts`. Each iteration runs a fixed
 * number of dispatches between two GPU syncs; the module prints the median
 * GFLOP/s of each case at the end (deno bench itself only reports time per
 * iteration).
 */
import { Engine } from "../src/gpu/engine.ts";
import { attention } from "../src/ops/attention.ts";
import { randomF32 } from "../tests/_helpers.ts";

const engine = await Engine.create();
const samples = new Map<string, number[]>();

const CASES: { name: string; B: number; T: number; H: number; d: number }[] = [
  { name: "ViT-Ti/16", B: 1, T: 197, H: 3, d: 64 },
  { name: "ViT-Ti/16", B: 8, T: 197, H: 3, d: 64 },
  { name: "ViT-B/16", B: 1, T: 197, H: 12, d: 64 },
  { name: "ViT-B/16", B: 8, T: 197, H: 12, d: 64 },
];
const WINDOW_CASES: { name: string; B: number; bias: "none" | "relative" | "shifted" }[] = [
  { name: "Swin-T stage 1 (1 image)", B: 64, bias: "none" },
  { name: "Swin-T stage 1 (1 image)", B: 64, bias: "relative" },
  { name: "Swin-T stage 1 (1 image)", B: 64, bias: "shifted" },
  { name: "Swin-T stage 1 (8 images)", B: 512, bias: "shifted" },
];
const REPS = Number(Deno.env.get("VISIONEVAL_BENCH_REPS") ?? 3);

for (const { name, B, T, H, d } of CASES) {
  for (const probs of [false, true]) {
    const D = H * d;
    const qkv = engine.upload(randomF32(B * T * 3 * D, T + H, -1, 1), [B, T, 3 * D], "qkv");
    const into = probs ? engine.empty([B, 1, T, T]) : undefined;
    const run = () =>
      attention(engine, qkv, { heads: H, headMeanProbs: into ? { into, layer: 0 } : undefined })
        .release();
    run(); // compile
    await engine.sync();
    const label = `${name} attention B=${B} T=${T} H=${H} d=${d}${
      probs ? " + head-mean probs" : ""
    }`;
    Deno.bench({
      name: label,
      group: "attention",
      n: 1,
      warmup: 0,
      fn: async () => {
        const t0 = performance.now();
        for (let i = 0; i < REPS; i++) run();
        await engine.sync();
        const s = (performance.now() - t0) / 1000 / REPS;
        const gflop = 4 * B * H * T * T * d / 1e9;
        samples.set(label, [...(samples.get(label) ?? []), gflop / s]);
      },
    });
  }
}

for (const { name, B, bias } of WINDOW_CASES) {
  const T = 49, H = 3, d = 32, D = H * d;
  const qkv = engine.upload(randomF32(B * T * 3 * D, B + T, -1, 1), [B, T, 3 * D], "qkv");
  const groups = bias === "shifted" ? 64 : 1;
  const biasT = bias === "none"
    ? undefined
    : engine.upload(randomF32(groups * H * T * T, 7, -2, 2), [groups, H, T, T], "bias");
  const run = () => attention(engine, qkv, { heads: H, bias: biasT }).release();
  run();
  await engine.sync();
  const label = `${name} window attention B=${B} T=${T} H=${H} d=${d} bias=${bias}`;
  Deno.bench({
    name: label,
    group: "window attention",
    n: 1,
    warmup: 0,
    fn: async () => {
      const t0 = performance.now();
      for (let i = 0; i < REPS; i++) run();
      await engine.sync();
      const s = (performance.now() - t0) / 1000 / REPS;
      samples.set(label, [...(samples.get(label) ?? []), 4 * B * H * T * T * d / 1e9 / s]);
    },
  });
}

globalThis.addEventListener("unload", () => {
  for (const [label, rates] of samples) {
    const sorted = rates.toSorted((a, b) => a - b);
    console.log(
      `${label}: ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} GFLOP/s (median of ` +
        `${rates.length}) on ${engine.gpu.info.description}`,
    );
  }
});
