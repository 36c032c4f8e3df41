/**
 * GRN (ConvNeXt V2) against a float64 reference of Hugging Face
 * ConvNextV2GRNLayer on awkward shapes: batch 1 and 3, token counts not
 * multiples of the 32-token block or of 4, channel counts not multiples of
 * the 64-lane workgroup, [B, HW, C] and [B, H, W, C] inputs.
 * Tolerance: max |gpu - ref| <= 1e-5 * max |ref|.
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { grn } from "../src/ops/grn.ts";
import { assertRelClose, randomF32 } from "./_helpers.ts";

/** float64 GRN over x [B, T, C]. */
function grnRef(
  x: Float32Array,
  b: number,
  t: number,
  c: number,
  gamma: Float32Array,
  beta: Float32Array,
  eps: number,
): Float64Array {
  const y = new Float64Array(x.length);
  for (let n = 0; n < b; n++) {
    const gx = new Float64Array(c);
    for (let k = 0; k < t; k++) {
      for (let ch = 0; ch < c; ch++) gx[ch] += x[(n * t + k) * c + ch] ** 2;
    }
    let mean = 0;
    for (let ch = 0; ch < c; ch++) mean += (gx[ch] = Math.sqrt(gx[ch])) / c;
    for (let k = 0; k < t; k++) {
      for (let ch = 0; ch < c; ch++) {
        const i = (n * t + k) * c + ch;
        y[i] = gamma[ch] * (x[i] * (gx[ch] / (mean + eps))) + beta[ch] + x[i];
      }
    }
  }
  return y;
}

const CASES: [number[], number][] = [
  [[1, 7, 7, 96], 1e-6],
  [[3, 13, 5], 1e-6], // 13 tokens, 5 channels
  [[2, 65, 130], 1e-6], // tokens over two blocks, channels over three lanes' rounds
  [[1, 1, 1, 3], 1e-6],
  [[2, 5, 11, 64], 1e-5],
  [[1, 3136, 24], 1e-6], // ConvNeXt V2 stage-1 token count
];

for (const [shape, eps] of CASES) {
  Deno.test(`grn x [${shape}] eps=${eps}`, async () => {
    const engine = await Engine.create();
    const b = shape[0], c = shape[shape.length - 1];
    const t = shape.slice(1, -1).reduce((a, v) => a * v, 1);
    const x = randomF32(b * t * c, b * 31 + t + c, -2, 2);
    const gamma = randomF32(c, 5), beta = randomF32(c, 6);
    const y = grn(
      engine,
      engine.upload(x, shape),
      engine.upload(gamma, [c]),
      engine.upload(beta, [c]),
      eps,
    );
    assert.deepEqual(y.shape, shape);
    assertRelClose(await engine.readF32(y), grnRef(x, b, t, c, gamma, beta, eps), 1e-5, "grn");
  });
}

Deno.test("grn: an all-zero image gives beta (eps keeps Nx finite); bad shapes throw", async () => {
  const engine = await Engine.create();
  const beta = Float32Array.from([0.5, -1, 2]);
  const y = grn(
    engine,
    engine.upload(new Float32Array(2 * 4 * 3), [2, 4, 3]),
    engine.upload(Float32Array.from([1, 2, 3]), [3]),
    engine.upload(beta, [3]),
  );
  const got = await engine.readF32(y);
  for (let i = 0; i < got.length; i++) assert.equal(got[i], beta[i % 3]);
  const g2 = engine.upload(new Float32Array(2), [2]);
  assert.throws(() => grn(engine, engine.empty([1, 4, 3]), g2, g2), /do not have the 3 channels/);
  assert.throws(() => grn(engine, engine.empty([4, 3]), g2, g2), /is not \[B, HW, C\]/);
  assert.deepEqual(grn(engine, engine.empty([0, 4, 2]), g2, g2).shape, [0, 4, 2]);
});
