/**
 * conv2d benches on ResNet-50 layer shapes (`deno bench -A bench/conv2d_bench.ts`).
 * Deno reports time per iteration; GFLOP/s are printed at the end. The full
 * table with CPU-time rates: `deno run -A bench/rates.ts conv2d`.
 */
import { Engine } from "../src/gpu/engine.ts";
import { CONV_CASES, convFlops, setupConv } from "./rates.ts";

const engine = await Engine.create();

for (const c of CONV_CASES.slice(0, 4).concat(CONV_CASES.slice(5, 6))) {
  const record = setupConv(engine, c);
  const flops = convFlops(c);
  let best = Infinity;
  Deno.bench({
    name: `conv2d ${c.name} (batch ${c.x[0]})`,
    group: "conv2d",
    n: 3,
    warmup: 1,
    async fn(b) {
      b.start();
      const t0 = performance.now();
      record();
      await engine.sync();
      best = Math.min(best, performance.now() - t0);
      b.end();
    },
  });
  addEventListener("unload", () => {
    if (best < Infinity) {
      console.log(
        `conv2d ${c.name}: ${(flops / best / 1e6).toFixed(2)} GFLOP/s (best ${best.toFixed(1)} ms)`,
      );
    }
  });
}
