/**
 * Fused attention throughput in GFLOP/s (4 * B * H * T^2 * d flops: Q K^T
 * and P V) at ViT-Ti/16 (T 197, 3 heads of 64) and ViT-B/16 (T 197, 12
 * heads of 64) shapes, with and without the head-mean probabilities.
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

globalThis.addEventListener("unload", () => {
  for (const [label, rates] of samples) {
    const sorted = rates.toSorted((a, b) => a - b);
    console.log(
      `${label}: ${sorted[Math.floor(sorted.length / 2)].toFixed(2)} GFLOP/s (median of ` +
        `${rates.length}) on ${engine.gpu.info.description}`,
    );
  }
});
