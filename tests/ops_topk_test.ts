import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { topk } from "../src/ops/topk.ts";
import { gatherColumns } from "../src/ops/gather_columns.ts";
import { randomF32 } from "./_helpers.ts";

/** float64 reference: sorted (value desc, index asc) and softmax probabilities. */
function reference(x: Float32Array, rows: number, cols: number, k: number, t: number) {
  const idx: number[][] = [], prob: number[][] = [];
  for (let r = 0; r < rows; r++) {
    const row = Array.from(x.subarray(r * cols, (r + 1) * cols), (v) => v / t);
    const m = Math.max(...row);
    const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
    const order = row.map((_, i) => i).sort((a, b) => row[b] - row[a] || a - b).slice(0, k);
    idx.push(order);
    prob.push(order.map((i) => Math.exp(row[i] - m) / z));
  }
  return { idx, prob };
}

for (
  const [rows, cols, k, t] of [[1, 3, 3, 1], [7, 1000, 5, 1], [5, 21843, 10, 1.7], [3, 65, 1, 0.5]]
) {
  Deno.test(`topk: rows ${rows}, cols ${cols}, k ${k}, T ${t}`, async () => {
    const engine = await Engine.create();
    const x = randomF32(rows * cols, rows * 31 + cols, -6, 6);
    const out = topk(engine, engine.upload(x, [rows, cols]), k, t);
    const [gi, gp] = await engine.read(out.indices, out.probs);
    const ref = reference(x, rows, cols, k, t);
    for (let r = 0; r < rows; r++) {
      assert.deepEqual(Array.from(gi.subarray(r * k, (r + 1) * k)), ref.idx[r], `row ${r}`);
      for (let j = 0; j < k; j++) {
        assert.ok(Math.abs(gp[r * k + j] - ref.prob[r][j]) < 1e-6, `prob row ${r} #${j}`);
      }
    }
  });
}

Deno.test("topk: ties go to the lower index", async () => {
  const engine = await Engine.create();
  const x = new Float32Array(300).fill(1);
  x[150] = 2;
  const out = topk(engine, engine.upload(x, [1, 300]), 4);
  const [gi, gp] = await engine.read(out.indices, out.probs);
  assert.deepEqual(Array.from(gi), [150, 0, 1, 2]);
  const z = Math.E ** 2 + 299 * Math.E;
  assert.ok(Math.abs(gp[0] - Math.E ** 2 / z) < 1e-6);
});

Deno.test("gatherColumns keeps the chosen classes in order", async () => {
  const engine = await Engine.create();
  const rows = 3, cols = 7;
  const x = Float32Array.from({ length: rows * cols }, (_, i) => i);
  const cols2 = Uint32Array.from([6, 0, 3]);
  const out = gatherColumns(engine, engine.upload(x, [rows, cols]), engine.upload(cols2, [3]));
  const got = await engine.readF32(out);
  assert.deepEqual(Array.from(got), [6, 0, 3, 13, 7, 10, 20, 14, 17]);
});

Deno.test("TopKStore: batches consolidated into chunks read back in row order", async () => {
  const { TopKStore } = await import("../src/evaluate.ts");
  const engine = await Engine.create();
  const cols = 50, k = 3, batches = [4, 1, 7, 3, 5, 2];
  const rows = batches.reduce((a, b) => a + b, 0);
  const x = randomF32(rows * cols, 99, -4, 4);
  const store = new TopKStore(engine, k, 6); // consolidates every >= 6 rows
  let off = 0;
  for (const b of batches) {
    store.add(engine.upload(x.slice(off * cols, (off + b) * cols), [b, cols]));
    off += b;
  }
  const got = await store.read();
  const whole = topk(engine, engine.upload(x, [rows, cols]), k);
  const [wi, wp] = await engine.read(whole.indices, whole.probs);
  assert.deepEqual(Array.from(got.indices), Array.from(wi));
  assert.deepEqual(Array.from(got.probs), Array.from(wp));
});
