/** GPU top-k (src/ops/topk.ts) against a float64 sort: ties towards the lower index, C up to 21,843, batch 1. */
import assert from "node:assert/strict";
import { rng } from "./_helpers.ts";
import { Engine } from "../src/gpu/engine.ts";
import { topk } from "../src/ops/topk.ts";

const engine = await Engine.create();

Deno.test("topk: indices and softmax probabilities match a float64 reference", async () => {
  for (const [B, C, k, T] of [[1, 3, 3, 1], [37, 10, 5, 1], [5, 1000, 10, 0.7], [3, 21843, 5, 1]]) {
    const r = rng(C);
    // Quantized values so that exact ties occur.
    const x = Float32Array.from({ length: B * C }, () => Math.round(r() * 64) / 8);
    const t = engine.upload(x, [B, C]);
    const out = topk(engine, t, k, T);
    const [idx, probs] = await engine.read(out.indices, out.probs);
    for (let b = 0; b < B; b++) {
      const row = Array.from(x.subarray(b * C, b * C + C));
      const order = row.map((_v, c) => c).sort((i, j) => row[j] - row[i] || i - j);
      const m = row[order[0]];
      const s = row.reduce((a, v) => a + Math.exp((v - m) / T), 0);
      for (let j = 0; j < k; j++) {
        assert.equal(idx[b * k + j], order[j], `B=${B} C=${C} row ${b} rank ${j}`);
        const p = Math.exp((row[order[j]] - m) / T) / s;
        assert.ok(
          Math.abs(probs[b * k + j] - p) < 1e-6 * Math.max(1, p),
          `prob ${probs[b * k + j]} vs ${p}`,
        );
      }
    }
    t.release();
    out.indices.release();
    out.probs.release();
  }
});
