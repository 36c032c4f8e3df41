/**
 * Channels-last helpers against float64 / exact references on awkward
 * shapes: space-to-depth and the NCHW stem patchify (odd channel counts,
 * remainders cropped, 1x1 outputs, k = 1), the k x k stride-k convolution
 * they make into a `linear`, meanTokens, and permute between NHWC and NCHW.
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import {
  meanTokens,
  patchifyNCHWtoNHWC,
  patchWeightToKhKwC,
  spaceToDepthNHWC,
} from "../src/ops/nhwc.ts";
import { linear } from "../src/ops/gemm.ts";
import { permute } from "../src/ops/transpose.ts";
import { assertRelClose, randomF32 } from "./_helpers.ts";

/** x [B, H, W, C] (nhwc) or [B, C, H, W] -> [B, H/k, W/k, k*k*C] in (kh, kw, c) order. */
function patchesRef(x: Float32Array, shape: number[], k: number, nhwc: boolean): Float32Array {
  const [b, h, w, c] = nhwc ? shape : [shape[0], shape[2], shape[3], shape[1]];
  const ho = Math.floor(h / k), wo = Math.floor(w / k);
  const out = new Float32Array(b * ho * wo * k * k * c);
  let o = 0;
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        for (let u = 0; u < k; u++) {
          for (let v = 0; v < k; v++) {
            for (let ch = 0; ch < c; ch++) {
              const y = i * k + u, xx = j * k + v;
              out[o++] = nhwc
                ? x[((n * h + y) * w + xx) * c + ch]
                : x[((n * c + ch) * h + y) * w + xx];
            }
          }
        }
      }
    }
  }
  return out;
}

/** float64 k x k stride-k conv of NCHW pixels with OIHW weights, output NHWC [B, Ho, Wo, O]. */
function patchConvRef(
  x: Float32Array,
  [b, c, h, w]: number[],
  wt: Float32Array,
  o: number,
  k: number,
  bias: Float32Array,
): Float64Array {
  const ho = Math.floor(h / k), wo = Math.floor(w / k);
  const y = new Float64Array(b * ho * wo * o);
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        for (let oc = 0; oc < o; oc++) {
          let s = bias[oc];
          for (let ch = 0; ch < c; ch++) {
            for (let u = 0; u < k; u++) {
              for (let v = 0; v < k; v++) {
                s += wt[((oc * c + ch) * k + u) * k + v] *
                  x[((n * c + ch) * h + i * k + u) * w + j * k + v];
              }
            }
          }
          y[((n * ho + i) * wo + j) * o + oc] = s;
        }
      }
    }
  }
  return y;
}

const S2D_CASES: [number[], number][] = [
  [[2, 6, 9, 5], 3],
  [[1, 4, 4, 96], 2],
  [[3, 2, 2, 1], 2],
  [[1, 3, 5, 7], 1],
  [[1, 14, 14, 6], 7],
  // Not multiples of k: the last row / column is dropped, as by a stride-k conv.
  [[2, 9, 7, 5], 2],
];

for (const [shape, k] of S2D_CASES) {
  Deno.test(`spaceToDepthNHWC [${shape}] k=${k}`, async () => {
    const engine = await Engine.create();
    const x = randomF32(shape.reduce((a, v) => a * v), 3);
    const y = spaceToDepthNHWC(engine, engine.upload(x, shape), k);
    const [b, h, w, c] = shape;
    assert.deepEqual(y.shape, [b, Math.floor(h / k), Math.floor(w / k), k * k * c]);
    assert.deepEqual(await engine.readF32(y), patchesRef(x, shape, k, true));
  });
}

for (
  const [shape, k] of [[[2, 3, 17, 18], 4], [[1, 1, 5, 5], 2], [[1, 4, 3, 3], 3]] as [
    number[],
    number,
  ][]
) {
  Deno.test(`patchifyNCHWtoNHWC [${shape}] k=${k} (remainder cropped)`, async () => {
    const engine = await Engine.create();
    const x = randomF32(shape.reduce((a, v) => a * v), 4);
    const y = patchifyNCHWtoNHWC(engine, engine.upload(x, shape), k);
    const [b, c, h, w] = shape;
    assert.deepEqual(y.shape, [b, Math.floor(h / k), Math.floor(w / k), k * k * c]);
    assert.deepEqual(await engine.readF32(y), patchesRef(x, [...shape], k, false));
  });
}

Deno.test("a k x k stride-k conv is linear(patches, patchWeightToKhKwC(w)): stem and downsampling", async () => {
  const engine = await Engine.create();
  // Stem: 3 -> 20 channels, 4x4 stride 4 on 18x17 pixels (cropped to 16x16).
  const xs = [2, 3, 18, 17], o = 20, k = 4;
  const x = randomF32(xs.reduce((a, v) => a * v), 5);
  const w = randomF32(o * 3 * k * k, 6), bias = randomF32(o, 7);
  const ref = patchConvRef(x, xs, w, o, k, bias);
  const wk = engine.upload(patchWeightToKhKwC(w, [o, 3, k, k]), [o, k * k * 3]);
  const tb = engine.upload(bias, [o]);
  const tx = engine.upload(x, xs);
  const stem = linear(engine, patchifyNCHWtoNHWC(engine, tx, k), wk, { bias: tb });
  assert.deepEqual(stem.shape, [2, 4, 4, o]);
  assertRelClose(await engine.readF32(stem), ref, 1e-5, "stem");
  // Downsampling: the same conv on the NHWC copy of the (cropped) input via space-to-depth.
  const crop = new Float32Array(2 * 16 * 16 * 3);
  for (let n = 0; n < 2; n++) {
    for (let y = 0; y < 16; y++) {
      for (let xx = 0; xx < 16; xx++) {
        for (let ch = 0; ch < 3; ch++) {
          crop[((n * 16 + y) * 16 + xx) * 3 + ch] = x[((n * 3 + ch) * 18 + y) * 17 + xx];
        }
      }
    }
  }
  const down = linear(
    engine,
    spaceToDepthNHWC(engine, engine.upload(crop, [2, 16, 16, 3]), k),
    wk,
    { bias: tb },
  );
  assertRelClose(await engine.readF32(down), ref, 1e-5, "space-to-depth conv");
});

Deno.test("patchWeightToKhKwC orders (kh, kw, c); helpers reject bad shapes", async () => {
  // w[o, c, u, v] = 1000 o + 100 c + 10 u + v
  const w = new Float32Array(2 * 3 * 2 * 2);
  for (let i = 0, o = 0; o < 2; o++) {
    for (let c = 0; c < 3; c++) {
      for (let u = 0; u < 2; u++) {
        for (let v = 0; v < 2; v++) w[i++] = 1000 * o + 100 * c + 10 * u + v;
      }
    }
  }
  const r = patchWeightToKhKwC(w, [2, 3, 2, 2]);
  assert.deepEqual([...r.subarray(0, 6)], [0, 100, 200, 1, 101, 201]);
  assert.equal(r[12 + 11], 1000 + 200 + 10 + 1);
  assert.throws(() => patchWeightToKhKwC(w, [2, 3, 2, 3]), /do not fill/);
  const engine = await Engine.create();
  assert.throws(
    () => spaceToDepthNHWC(engine, engine.empty([1, 6, 1, 2]), 2),
    /smaller than one 2x2 block/,
  );
  assert.throws(() => patchifyNCHWtoNHWC(engine, engine.empty([1, 3, 3, 5]), 4), /smaller/);
  assert.throws(() => meanTokens(engine, engine.empty([4, 3])), /not \[B, T, C\]/);
});

for (const shape of [[1, 1, 7], [3, 13, 5], [2, 7, 7, 768], [1, 3136, 24], [2, 2, 3, 1]]) {
  Deno.test(`meanTokens [${shape}]`, async () => {
    const engine = await Engine.create();
    const x = randomF32(shape.reduce((a, v) => a * v), 8, -1, 3);
    const b = shape[0], c = shape[shape.length - 1], t = x.length / (b * c);
    const ref = new Float64Array(b * c);
    for (let n = 0; n < b; n++) {
      for (let k = 0; k < t; k++) {
        for (let ch = 0; ch < c; ch++) ref[n * c + ch] += x[(n * t + k) * c + ch] / t;
      }
    }
    const y = meanTokens(engine, engine.upload(x, shape));
    assert.deepEqual(y.shape, [b, c]);
    assertRelClose(await engine.readF32(y), ref, 1e-6, "meanTokens");
  });
}

Deno.test("permute turns [B, H, W, C] into [B, C, H, W] and back", async () => {
  const engine = await Engine.create();
  const [b, h, w, c] = [2, 3, 5, 7];
  const x = randomF32(b * h * w * c, 9);
  const nchw = permute(engine, engine.upload(x, [b, h, w, c]), [0, 3, 1, 2]);
  assert.deepEqual(nchw.shape, [b, c, h, w]);
  const got = await engine.readF32(nchw);
  for (let n = 0; n < b; n++) {
    for (let ch = 0; ch < c; ch++) {
      for (let y = 0; y < h; y++) {
        for (let xx = 0; xx < w; xx++) {
          assert.equal(got[((n * c + ch) * h + y) * w + xx], x[((n * h + y) * w + xx) * c + ch]);
        }
      }
    }
  }
  const back = permute(engine, nchw, [0, 2, 3, 1]);
  assert.deepEqual(back.shape, [b, h, w, c]);
  assert.deepEqual(await engine.readF32(back), x);
});
