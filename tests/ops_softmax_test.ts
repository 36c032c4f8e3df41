import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { softmaxRows } from "../src/ops/softmax.ts";
import type { Reduction } from "../src/ops/row_reduce.ts";
import { assertAbsClose, randomF32 } from "./_helpers.ts";

/** float64 reference of softmax(x / t) over rows of length C. */
function softmaxRef(x: Float32Array, C: number, t: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / C; r++) {
    let m = -Infinity;
    for (let j = 0; j < C; j++) m = Math.max(m, x[r * C + j]);
    let s = 0;
    for (let j = 0; j < C; j++) s += Math.exp((x[r * C + j] - m) / t);
    for (let j = 0; j < C; j++) y[r * C + j] = Math.exp((x[r * C + j] - m) / t) / s;
  }
  return y;
}

Deno.test("softmaxRows matches a float64 reference (awkward widths, temperatures)", async () => {
  const engine = await Engine.create();
  const cases: [number, number, number, number][] = [
    // rows, C, temperature, value range
    [1, 17, 1, 5],
    [3, 65, 0.5, 5],
    [197, 197, 1, 8],
    [2, 1000, 2.5, 20],
    [5, 10, 1, 1],
    [4, 1, 1, 3],
  ];
  let seed = 100;
  for (const [rows, C, t, range] of cases) {
    const x = randomF32(rows * C, seed++, -range, range);
    const ref = softmaxRef(x, C, t);
    // The tree, and subgroups emulated at widths 1..64 (the combining logic
    // of the subgroup reduction on an adapter without subgroups).
    const reductions: Reduction[] = [
      "tree",
      ...[1, 4, 8, 32, 64].map(
        (w): Reduction => `subgroup-emulated-${w}`,
      ),
    ];
    for (const r of reductions) {
      const y = await engine.readF32(
        softmaxRows(engine, engine.upload(x, [rows, C]), t, undefined, r),
      );
      assertAbsClose(y, ref, 1e-6, `softmax [${rows}, ${C}] T=${t} ${r}`);
    }
  }
});

Deno.test("softmaxRows is stable for huge logits", async () => {
  const engine = await Engine.create();
  const x = Float32Array.from([1e30, 1e30 - 1e24, -1e30, 3e38, 3e38]);
  const y = await engine.readF32(softmaxRows(engine, engine.upload(x, [1, 5])));
  assert.ok(y.every(Number.isFinite), `non-finite: ${y}`);
  assertAbsClose(y, [0, 0, 0, 0.5, 0.5], 1e-7);
});
