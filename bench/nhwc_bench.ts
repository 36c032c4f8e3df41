/**
 * Channels-last helper benches at ConvNeXt (V2)-T shapes, batch 8: GRN,
 * space-to-depth, token mean (`deno bench -A bench/nhwc_bench.ts`). Deno
 * reports time per iteration; GB/s are printed at the end. The table with
 * CPU-time rates: `deno run -A bench/rates.ts nhwc`.
 */
import { Engine } from "../src/gpu/engine.ts";
import { setupNhwc } from "./rates.ts";

const engine = await Engine.create();

for (const c of setupNhwc(engine)) {
  let best = Infinity;
  Deno.bench({
    name: c.name,
    group: "nhwc",
    n: 3,
    warmup: 1,
    async fn(b) {
      b.start();
      const t0 = performance.now();
      c.record();
      await engine.sync();
      best = Math.min(best, performance.now() - t0);
      b.end();
    },
  });
  addEventListener("unload", () => {
    if (best < Infinity) {
      console.log(
        `${c.name}: ${(c.bytes / best / 1e6).toFixed(2)} GB/s (best ${best.toFixed(1)} ms)`,
      );
    }
  });
}
