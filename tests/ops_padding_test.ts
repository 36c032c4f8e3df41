/**
 * Asymmetric and TensorFlow "same" padding of conv2d and depthwiseConv2dNHWC
 * at odd and even input sizes, against a float64 reference that zero-pads
 * the input explicitly (each side as asked) and then runs a "valid"
 * convolution; and samePadding against the other way TensorFlow's rule is
 * written (Hugging Face's apply_tf_padding: k - s when s divides the input,
 * else k - in % s).
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { conv2d } from "../src/ops/conv2d.ts";
import { depthwiseConv2dNHWC, uploadDepthwiseWeight } from "../src/ops/depthwise.ts";
import { type Pad4, resolvePadding, samePadding } from "../src/ops/padding.ts";
import { assertRelClose, randomF32 } from "./_helpers.ts";

Deno.test("samePadding: TensorFlow SAME, both ways it is written, output ceil(in / s)", () => {
  for (let n = 1; n <= 40; n++) {
    for (const k of [1, 2, 3, 5, 7]) {
      for (const s of [1, 2, 3]) {
        const total = n % s === 0 ? Math.max(k - s, 0) : Math.max(k - (n % s), 0);
        const [before, after] = samePadding(n, k, s);
        assert.deepEqual([before, after], [Math.floor(total / 2), total - Math.floor(total / 2)]);
        assert.equal(Math.floor((n + before + after - k) / s) + 1, Math.ceil(n / s));
      }
    }
  }
  // Known values: 3x3 / 2 pads [0, 1] on an even input, [1, 1] on an odd one; 5x5 / 2: [1, 2], [2, 2].
  assert.deepEqual([samePadding(64, 3, 2), samePadding(67, 3, 2)], [[0, 1], [1, 1]]);
  assert.deepEqual([samePadding(18, 5, 2), samePadding(9, 5, 2)], [[1, 2], [2, 2]]);
  assert.deepEqual(samePadding(10, 3, 1, 2), [2, 2]); // dilation 2: a 5-wide window
  assert.throws(() =>
    resolvePadding({ top: -1, bottom: 0, left: 0, right: 0 }, 4, 4, [3, 3], [1, 1])
  );
});

/** x [N, C, H, W] zero-padded by `p`. */
function padNCHW(x: Float32Array, [n, c, h, w]: number[], p: Pad4): [Float32Array, number[]] {
  const hp = h + p.top + p.bottom, wp = w + p.left + p.right;
  const y = new Float32Array(n * c * hp * wp);
  for (let i = 0; i < n * c; i++) {
    for (let r = 0; r < h; r++) {
      y.set(x.subarray((i * h + r) * w, (i * h + r + 1) * w), (i * hp + r + p.top) * wp + p.left);
    }
  }
  return [y, [n, c, hp, wp]];
}

/** "valid" grouped convolution in float64: x [N, C, H, W], w [O, C / groups, kh, kw]. */
function validConv(
  x: Float32Array,
  [n, c, h, wd]: number[],
  w: Float32Array,
  [o, cg, kh, kw]: number[],
  stride: number,
  bias?: Float32Array,
): [Float64Array, number[]] {
  const ho = Math.floor((h - kh) / stride) + 1, wo = Math.floor((wd - kw) / stride) + 1;
  const og = o / (c / cg);
  const y = new Float64Array(n * o * ho * wo);
  for (let b = 0; b < n; b++) {
    for (let oc = 0; oc < o; oc++) {
      const g = Math.floor(oc / og);
      for (let i = 0; i < ho; i++) {
        for (let j = 0; j < wo; j++) {
          let s = bias ? bias[oc] : 0;
          for (let ci = 0; ci < cg; ci++) {
            for (let u = 0; u < kh; u++) {
              for (let v = 0; v < kw; v++) {
                s += w[((oc * cg + ci) * kh + u) * kw + v] *
                  x[((b * c + g * cg + ci) * h + i * stride + u) * wd + j * stride + v];
              }
            }
          }
          y[((b * o + oc) * ho + i) * wo + j] = s;
        }
      }
    }
  }
  return [y, [n, o, ho, wo]];
}

const CONV_CASES: { x: number[]; w: number[]; stride: number; padding: "same" | Pad4 }[] = [
  { x: [2, 3, 9, 8], w: [8, 3, 3, 3], stride: 2, padding: "same" }, // GEMM path, odd x even
  { x: [1, 3, 7, 7], w: [4, 3, 5, 5], stride: 2, padding: "same" }, // direct path
  { x: [2, 3, 10, 10], w: [16, 3, 3, 3], stride: 2, padding: "same" },
  {
    x: [2, 3, 9, 10],
    w: [16, 3, 3, 3],
    stride: 2,
    padding: { top: 0, bottom: 1, left: 0, right: 1 },
  },
  // A 1x1 convolution with bottom / right padding is not the pointwise fast path.
  {
    x: [1, 8, 4, 4],
    w: [8, 8, 1, 1],
    stride: 1,
    padding: { top: 0, bottom: 1, left: 0, right: 1 },
  },
];

for (const cs of CONV_CASES) {
  Deno.test(`conv2d padding ${JSON.stringify(cs.padding)}: x [${cs.x}] w [${cs.w}] /${cs.stride}`, async () => {
    const engine = await Engine.create();
    const n = cs.x.reduce((a, b) => a * b);
    const x = randomF32(n, n + 1, -2, 2);
    const w = randomF32(cs.w.reduce((a, b) => a * b), 5);
    const bias = randomF32(cs.w[0], 6);
    const pad = resolvePadding(cs.padding, cs.x[2], cs.x[3], [cs.w[2], cs.w[3]], [
      cs.stride,
      cs.stride,
    ]);
    const [xp, xps] = padNCHW(x, cs.x, pad);
    const [ref, shape] = validConv(xp, xps, w, cs.w, cs.stride, bias);
    const y = conv2d(engine, engine.upload(x, cs.x), engine.upload(w, cs.w), {
      stride: cs.stride,
      padding: cs.padding,
      bias: engine.upload(bias, [cs.w[0]]),
    });
    assert.deepEqual(y.shape, shape);
    assertRelClose(await engine.readF32(y), ref, 1e-5, "conv2d");
  });
}

const DW_CASES: { x: number[]; k: number; stride: 1 | 2; padding: "same" | Pad4 }[] = [
  { x: [2, 9, 7, 8], k: 3, stride: 2, padding: "same" }, // odd x odd: [1, 1]
  { x: [1, 10, 7, 8], k: 3, stride: 2, padding: "same" }, // even rows: [0, 1]
  { x: [1, 11, 6, 12], k: 5, stride: 2, padding: "same" },
  { x: [1, 7, 9, 3], k: 3, stride: 1, padding: "same" }, // scalar kernel (C % 4 != 0)
  { x: [1, 10, 9, 8], k: 5, stride: 2, padding: { top: 1, bottom: 2, left: 1, right: 2 } },
];

for (const cs of DW_CASES) {
  Deno.test(`depthwiseConv2dNHWC padding ${JSON.stringify(cs.padding)}: x [${cs.x}] k ${cs.k} /${cs.stride}`, async () => {
    const engine = await Engine.create();
    const [b, h, w, c] = cs.x;
    const n = b * h * w * c;
    const x = randomF32(n, n + 2, -2, 2);
    const wt = randomF32(c * cs.k * cs.k, 7);
    const bias = randomF32(c, 8);
    // The reference on NCHW: transpose, pad, valid depthwise, transpose back.
    const nchw = new Float32Array(n);
    for (let i = 0; i < b * h * w; i++) {
      for (let ch = 0; ch < c; ch++) {
        const bi = Math.floor(i / (h * w)), p = i % (h * w);
        nchw[(bi * c + ch) * h * w + p] = x[i * c + ch];
      }
    }
    const pad = resolvePadding(cs.padding, h, w, [cs.k, cs.k], [cs.stride, cs.stride]);
    const [xp, xps] = padNCHW(nchw, [b, c, h, w], pad);
    const [ref, [, , ho, wo]] = validConv(xp, xps, wt, [c, 1, cs.k, cs.k], cs.stride, bias);
    const refNHWC = new Float64Array(ref.length);
    for (let bi = 0; bi < b; bi++) {
      for (let ch = 0; ch < c; ch++) {
        for (let p = 0; p < ho * wo; p++) {
          refNHWC[(bi * ho * wo + p) * c + ch] = ref[(bi * c + ch) * ho * wo + p];
        }
      }
    }
    const weight = uploadDepthwiseWeight(engine, wt, [c, 1, cs.k, cs.k], "dw");
    const y = depthwiseConv2dNHWC(engine, engine.upload(x, cs.x), weight, {
      stride: cs.stride,
      padding: cs.padding,
      bias: engine.upload(bias, [c]),
    });
    assert.deepEqual(y.shape, [b, ho, wo, c]);
    assertRelClose(await engine.readF32(y), refNHWC, 1e-5, "depthwise");
    weight.release();
  });
}
