/**
 * Pooling against float64 CPU references with PyTorch semantics (padding,
 * ceil_mode, count_include_pad). Max pooling is exact; averages within
 * 1e-6 * max |ref|.
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { pair } from "../src/ops/conv2d.ts";
import {
  avgPool2d,
  globalAvgPool,
  maxPool2d,
  type Pool2dOptions,
  poolOutSize,
} from "../src/ops/pool.ts";
import { numel } from "../src/tensor.ts";
import { assertRelClose, randomF32 } from "./_helpers.ts";

function poolRef(x: Float32Array, xs: number[], o: Pool2dOptions, max: boolean): Float64Array {
  const [n, c, h, w] = xs;
  const [kh, kw] = pair(o.kernel, 1), [sh, sw] = pair(o.stride ?? o.kernel, 1);
  const [ph, pw] = pair(o.padding, 0);
  const ho = poolOutSize(h, kh, sh, ph, o.ceilMode), wo = poolOutSize(w, kw, sw, pw, o.ceilMode);
  const y = new Float64Array(n * c * ho * wo);
  for (let pl = 0; pl < n * c; pl++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        let hs = i * sh - ph, ws = j * sw - pw;
        let he = Math.min(hs + kh, h + ph), we = Math.min(ws + kw, w + pw);
        const padCount = (he - hs) * (we - ws);
        hs = Math.max(hs, 0);
        ws = Math.max(ws, 0);
        he = Math.min(he, h);
        we = Math.min(we, w);
        let m = -Infinity, s = 0;
        for (let a = hs; a < he; a++) {
          for (let b = ws; b < we; b++) {
            const v = x[(pl * h + a) * w + b];
            m = Math.max(m, v);
            s += v;
          }
        }
        const count = (o.countIncludePad ?? true) ? padCount : (he - hs) * (we - ws);
        y[(pl * ho + i) * wo + j] = max ? m : s / count;
      }
    }
  }
  return y;
}

const CASES: [number[], Pool2dOptions][] = [
  [[2, 3, 112, 112], { kernel: 3, stride: 2, padding: 1 }], // ResNet stem pool
  [[1, 5, 9, 7], { kernel: 2 }],
  [[1, 4, 10, 11], { kernel: 3, stride: 2, padding: 1, ceilMode: true }],
  [[3, 2, 8, 8], { kernel: [3, 2], stride: [1, 2], padding: [1, 0] }],
  [[1, 3, 7, 9], { kernel: 3, stride: 2, padding: 1, countIncludePad: false }],
];

for (const [xs, o] of CASES) {
  for (const max of [true, false]) {
    Deno.test(`${max ? "maxPool2d" : "avgPool2d"} [${xs}] ${JSON.stringify(o)}`, async () => {
      const engine = await Engine.create();
      const x = randomF32(numel(xs), numel(xs) + 3);
      const tx = engine.upload(x, xs);
      const y = max ? maxPool2d(engine, tx, o) : avgPool2d(engine, tx, o);
      const ref = poolRef(x, xs, o, max);
      assert.equal(y.size, ref.length);
      const got = await engine.readF32(y);
      if (max) assert.deepEqual(Array.from(got), Array.from(ref, Math.fround));
      else assertRelClose(got, ref, 1e-6, "avgPool2d");
    });
  }
}

Deno.test("globalAvgPool [3, 65, 7, 7] -> [3, 65]", async () => {
  const engine = await Engine.create();
  const xs = [3, 65, 7, 7];
  const x = randomF32(numel(xs), 42);
  const y = globalAvgPool(engine, engine.upload(x, xs));
  assert.deepEqual(y.shape, [3, 65]);
  const ref = new Float64Array(3 * 65);
  for (let p = 0; p < ref.length; p++) {
    let s = 0;
    for (let i = 0; i < 49; i++) s += x[p * 49 + i];
    ref[p] = s / 49;
  }
  assertRelClose(await engine.readF32(y), ref, 1e-6, "globalAvgPool");
});
