/**
 * Depthwise NHWC convolution benches on ConvNeXt-T shapes (7x7, batch 8)
 * (`deno bench -A bench/depthwise_bench.ts`). Deno reports time per
 * iteration; GFLOP/s and GB/s are printed at the end. The table with
 * CPU-time rates: `deno run -A bench/rates.ts depthwise`.
 */
import { Engine } from "../src/gpu/engine.ts";
import { DEPTHWISE_CASES, depthwiseCost, setupDepthwise } from "./rates.ts";

const engine = await Engine.create();

for (const c of DEPTHWISE_CASES) {
  const record = setupDepthwise(engine, c);
  const { flops, bytes } = depthwiseCost(c);
  let best = Infinity;
  Deno.bench({
    name: `depthwise ${c.name} (batch ${c.x[0]})`,
    group: "depthwise",
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
        `depthwise ${c.name}: ${(flops / best / 1e6).toFixed(2)} GFLOP/s, ` +
          `${(bytes / best / 1e6).toFixed(2)} GB/s (best ${best.toFixed(1)} ms)`,
      );
    }
  });
}
