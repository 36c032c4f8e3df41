/** GRN (ConvNeXt V2) against a float64 reference on awkward shapes. */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { grn } from "../src/ops/grn.ts";
import { mulberry32 } from "../src/random.ts";

const engine = await Engine.create();

function grnRef(
  x: Float32Array,
  B: number,
  T: number,
  C: number,
  g: Float32Array,
  b: Float32Array,
) {
  const y = new Float64Array(x.length);
  for (let n = 0; n < B; n++) {
    const norms = new Float64Array(C);
    for (let t = 0; t < T; t++) {
      for (let c = 0; c < C; c++) norms[c] += x[(n * T + t) * C + c] ** 2;
    }
    let mean = 0;
    for (let c = 0; c < C; c++) mean += (norms[c] = Math.sqrt(norms[c])) / C;
    for (let t = 0; t < T; t++) {
      for (let c = 0; c < C; c++) {
        const i = (n * T + t) * C + c;
        y[i] = g[c] * (x[i] * norms[c] / (mean + 1e-6)) + b[c] + x[i];
      }
    }
  }
  return y;
}

Deno.test("grn: matches float64 on awkward shapes (batch 1, odd C and T, 4-D input)", async () => {
  const rand = mulberry32(7);
  for (const [B, H, W, C] of [[1, 1, 1, 3], [2, 7, 5, 13], [3, 9, 9, 67], [1, 14, 14, 384]]) {
    const T = H * W;
    const x = Float32Array.from({ length: B * T * C }, () => rand() * 4 - 2);
    const g = Float32Array.from({ length: C }, () => rand() - 0.5);
    const b = Float32Array.from({ length: C }, () => rand() - 0.5);
    const xt = engine.upload(x, [B, H, W, C], "x");
    const gt = engine.upload(g, [1, 1, 1, C], "gamma");
    const bt = engine.upload(b, [C], "beta");
    const y = grn(engine, xt, gt, bt);
    assert.deepEqual(y.shape, [B, H, W, C]);
    const got = await engine.readF32(y);
    const want = grnRef(x, B, T, C, g, b);
    let err = 0, max = 0;
    for (let i = 0; i < want.length; i++) {
      err = Math.max(err, Math.abs(got[i] - want[i]));
      max = Math.max(max, Math.abs(want[i]));
    }
    assert.ok(err <= 1e-5 * max, `[${B},${H},${W},${C}]: ${err} vs max ${max}`);
    for (const t of [xt, gt, bt, y]) t.release();
  }
  const x = engine.upload(new Float32Array(8), [2, 4], "x");
  assert.throws(() => grn(engine, x, x, x), /must be \[B, T, C\]/);
  x.release();
});
