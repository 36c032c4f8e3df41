/**
 * channelScale (squeeze-and-excitation's excite step) against a float64
 * reference on awkward shapes: batch 1 and 5, token counts that are not
 * multiples of the workgroup, channel counts not multiples of 4 (the scalar
 * path) and multiples of 4 (the vec4 path), [B, T, C] and [B, H, W, C]
 * inputs, an empty batch.
 * Tolerance: the product of two float32 values rounds once, so
 * max |gpu - ref| <= 1e-7 * max |ref|.
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { channelScale } from "../src/ops/channel_scale.ts";
import { assertRelClose, randomF32 } from "./_helpers.ts";

function scaleRef(x: Float32Array, s: Float32Array, b: number, c: number): Float64Array {
  const tc = x.length / b;
  const y = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = x[i] * s[Math.floor(i / tc) * c + (i % tc) % c];
  return y;
}

const CASES: number[][] = [
  [1, 1, 1],
  [3, 13, 5],
  [5, 7, 7, 96],
  [2, 5, 11, 6],
  [1, 3136, 24],
  [2, 49, 1152], // EfficientNet-B0's last SE width
  [4, 9, 9, 3],
];

for (const shape of CASES) {
  Deno.test(`channelScale x [${shape}]`, async () => {
    const engine = await Engine.create();
    const b = shape[0], c = shape[shape.length - 1];
    const n = shape.reduce((a, v) => a * v, 1);
    const x = randomF32(n, n + c, -3, 3);
    const s = randomF32(b * c, b + 7, 0, 1);
    const y = channelScale(engine, engine.upload(x, shape), engine.upload(s, [b, c]));
    assert.deepEqual(y.shape, shape);
    assertRelClose(await engine.readF32(y), scaleRef(x, s, b, c), 1e-7, "channelScale");
  });
}

Deno.test("channelScale: out tensor, empty batch, bad shapes throw", async () => {
  const engine = await Engine.create();
  const x = engine.upload(Float32Array.from([1, 2, 3, 4, 5, 6]), [1, 2, 3]);
  const s = engine.upload(Float32Array.from([2, 0.5, -1]), [1, 3]);
  const out = engine.empty([6]);
  const y = channelScale(engine, x, s, out);
  assert.equal(y.buffer, out.buffer);
  assert.deepEqual([...await engine.readF32(y)], [2, 1, -3, 8, 2.5, -6]);
  assert.deepEqual(channelScale(engine, engine.empty([0, 4, 3]), engine.empty([0, 3])).shape, [
    0,
    4,
    3,
  ]);
  assert.throws(() => channelScale(engine, x, engine.empty([3])), /is not \[1, 3\]/);
  assert.throws(() => channelScale(engine, engine.empty([6]), s), /is not \[B, T, C\]/);
  assert.throws(() => channelScale(engine, x, s, x), /must not share a buffer/);
});
