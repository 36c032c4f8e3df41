/**
 * GEMM benches (`deno bench -A bench/gemm_bench.ts`). Deno reports time per
 * iteration; the GFLOP/s of each case is printed at the end. The full table
 * with CPU-time rates: `deno run -A bench/rates.ts gemm`.
 */
import { Engine } from "../src/gpu/engine.ts";
import { Autotuner } from "../src/gpu/autotune.ts";
import { GEMM_CASES, setupAttentionMatmul, setupLinear } from "./rates.ts";

const engine = await Engine.create();
// The other kernel path, its largest tiling (bench/kernel_paths.ts compares every tiling).
const otherTuner = new Autotuner("gemm bench", undefined, false);
otherTuner.fixed = "128x128";
const other = await Engine.create({
  kernels: engine.kernels.name === "gpu" ? "software" : "gpu",
  autotune: false,
  tuner: otherTuner,
});
const rates: string[] = [];

function benchRate(name: string, flops: number, record: () => void, on = engine): void {
  let best = Infinity;
  Deno.bench({
    name,
    group: "gemm",
    n: 3,
    warmup: 1,
    async fn(b) {
      b.start();
      const t0 = performance.now();
      record();
      await on.sync();
      best = Math.min(best, performance.now() - t0);
      b.end();
    },
  });
  rates.push(name);
  addEventListener("unload", () => {
    if (best < Infinity) {
      console.log(
        `${name}: ${(flops / best / 1e6).toFixed(2)} GFLOP/s (best ${best.toFixed(1)} ms)`,
      );
    }
  });
}

for (const c of GEMM_CASES.slice(0, 4)) {
  benchRate(`linear ${c.name}`, 2 * c.m * c.n * c.k, setupLinear(engine, c));
}
const square = GEMM_CASES[0];
benchRate(
  `linear ${square.name} (${other.kernels.name} kernels)`,
  2 * square.m * square.n * square.k,
  setupLinear(other, square),
  other,
);
const [flops, rec] = setupAttentionMatmul(engine, true);
benchRate("matmul attention scores 96 x (197x64 . 64x197)", flops, rec);
