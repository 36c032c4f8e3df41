/**
 * depthwiseConv2dNHWC against a float64 channels-last reference on awkward
 * shapes: C not a multiple of 4 (scalar path) or of 32 (partial channel
 * blocks), widths not multiples of the 8- / 4-pixel strips, 1x1 maps
 * smaller than the kernel, stride 2 on odd sizes, rectangular kernels and
 * padding, batch 1 and 3, fused bias + residual + activation, weights in
 * uniform blocks (one or two chunks) and in a storage buffer.
 * Tolerance: max |gpu - ref| <= 1e-5 * max |ref|.
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import type { KernelPathName } from "../src/gpu/kernel_path.ts";
import { engineOn, KERNEL_PATHS, pathLabel } from "./_kernel_paths.ts";
import { activateRef, type Activation } from "../src/ops/activation.ts";
import {
  depthwiseConv2dNHWC,
  depthwiseShape,
  depthwiseTuning,
  uploadDepthwiseWeight,
} from "../src/ops/depthwise.ts";
import type { Size2 } from "../src/ops/conv2d.ts";
import { assertRelClose, randomF32 } from "./_helpers.ts";

const RTOL = 1e-5;

/** float64 depthwise convolution, x [B, H, W, C], PyTorch weight [C, 1, kh, kw]. */
function depthwiseRef(
  x: Float32Array,
  [b, h, wd, c]: number[],
  w: Float32Array,
  kh: number,
  kw: number,
  [sh, sw]: [number, number],
  [ph, pw]: [number, number],
  bias?: Float32Array,
  res?: Float32Array,
  act: Activation = "none",
): Float64Array {
  const ho = Math.floor((h + 2 * ph - kh) / sh) + 1;
  const wo = Math.floor((wd + 2 * pw - kw) / sw) + 1;
  const y = new Float64Array(b * ho * wo * c);
  for (let n = 0; n < b; n++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        for (let ch = 0; ch < c; ch++) {
          let s = bias ? bias[ch] : 0;
          for (let u = 0; u < kh; u++) {
            const iy = i * sh - ph + u;
            if (iy < 0 || iy >= h) continue;
            for (let v = 0; v < kw; v++) {
              const ix = j * sw - pw + v;
              if (ix < 0 || ix >= wd) continue;
              s += w[(ch * kh + u) * kw + v] * x[((n * h + iy) * wd + ix) * c + ch];
            }
          }
          const o = ((n * ho + i) * wo + j) * c + ch;
          if (res) s += res[o];
          y[o] = activateRef(act, s);
        }
      }
    }
  }
  return y;
}

interface Case {
  name: string;
  x: [number, number, number, number];
  k: [number, number];
  stride?: 1 | 2;
  padding?: Size2;
  bias?: boolean;
  res?: boolean;
  act?: Activation;
}

const CASES: Case[] = [
  { name: "ConvNeXt 7x7 pad 3, C=96", x: [2, 14, 14, 96], k: [7, 7], padding: 3, bias: true },
  {
    name: "7x7 pad 3, C=5 (scalar), odd sizes, bias+res+gelu",
    x: [1, 9, 11, 5],
    k: [7, 7],
    padding: 3,
    bias: true,
    res: true,
    act: "gelu",
  },
  { name: "7x7 pad 3 on a 1x1 map", x: [3, 1, 1, 36], k: [7, 7], padding: 3, bias: true },
  { name: "7x7 pad 3 on 2x3, C=4", x: [1, 2, 3, 4], k: [7, 7], padding: 3 },
  {
    name: "3x3 pad 1, C=36 (9 vec4: partial block), W=17",
    x: [1, 5, 17, 36],
    k: [3, 3],
    padding: 1,
  },
  {
    name: "3x3/2 pad 1, C=12, 13x11",
    x: [2, 13, 11, 12],
    k: [3, 3],
    stride: 2,
    padding: 1,
    bias: true,
    act: "silu",
  },
  {
    name: "5x5/2 pad 2, C=7 (scalar), 12x9, res+hardswish",
    x: [1, 12, 9, 7],
    k: [5, 5],
    stride: 2,
    padding: 2,
    res: true,
    act: "hardswish",
  },
  {
    name: "5x5 pad 2, C=40, batch 3, relu6",
    x: [3, 10, 10, 40],
    k: [5, 5],
    padding: 2,
    act: "relu6",
  },
  { name: "3x3 no padding, C=3", x: [2, 6, 19, 3], k: [3, 3], bias: true },
  { name: "rectangular 3x5 pad [1, 2], C=8", x: [1, 7, 9, 8], k: [3, 5], padding: [1, 2] },
  { name: "3x3/2 pad [0, 1], C=1", x: [1, 8, 8, 1], k: [3, 3], stride: 2, padding: [0, 1] },
  { name: "1x1, C=20, relu", x: [1, 3, 3, 20], k: [1, 1], act: "relu", bias: true },
  {
    name: "7x7 pad 3, C=344: two uniform weight chunks (332 + 12 channels)",
    x: [2, 3, 9, 344],
    k: [7, 7],
    padding: 3,
    bias: true,
    res: true,
  },
  {
    name: "3x3/2 pad 1, C=1828: two chunks at stride 2",
    x: [1, 5, 5, 1828],
    k: [3, 3],
    stride: 2,
    padding: 1,
    bias: true,
  },
];

for (const path of KERNEL_PATHS) {
  for (const cs of CASES) {
    for (const uniform of cs.x[3] % 4 === 0 ? [true, false] : [false]) {
      const where = uniform ? "uniform" : "storage";
      Deno.test(`depthwiseConv2dNHWC ${cs.name}: x [${cs.x}] k ${cs.k.join("x")}, ${where} weights ${pathLabel(path)}`, async () => {
        await runCase(cs, uniform, path);
      });
    }
  }
}

async function runCase(cs: Case, uniform: boolean, path: KernelPathName): Promise<void> {
  const engine = await engineOn(path);
  const [, , , c] = cs.x;
  const [kh, kw] = cs.k;
  const n = cs.x.reduce((a, b) => a * b);
  const x = randomF32(n, n + c, -2, 2);
  const w = randomF32(c * kh * kw, 7 + c);
  const bias = cs.bias ? randomF32(c, 11) : undefined;
  const stride = cs.stride ?? 1;
  const pad: [number, number] = typeof cs.padding === "number"
    ? [cs.padding, cs.padding]
    : cs.padding
    ? [cs.padding[0], cs.padding[1]]
    : [0, 0];
  depthwiseTuning.uniformWeights = uniform;
  const wt = uploadDepthwiseWeight(engine, w, [c, 1, kh, kw], "dw");
  depthwiseTuning.uniformWeights = true;
  assert.equal(wt.uniform, uniform);
  assert.deepEqual(wt.shape, [c, 1, kh, kw]);
  const outShape = depthwiseShape(cs.x, wt, { stride, padding: cs.padding });
  const res = cs.res ? randomF32(outShape.reduce((a, b) => a * b), 13) : undefined;
  const y = depthwiseConv2dNHWC(engine, engine.upload(x, cs.x), wt, {
    stride,
    padding: cs.padding,
    bias: bias && engine.upload(bias, [c]),
    residual: res && engine.upload(res, outShape),
    act: cs.act,
  });
  assert.deepEqual(y.shape, outShape);
  const ref = depthwiseRef(x, cs.x, w, kh, kw, [stride, stride], pad, bias, res, cs.act);
  assertRelClose(await engine.readF32(y), ref, RTOL, cs.name);
  wt.release();
}

Deno.test("uploadDepthwiseWeight stores [kh * kw, C] (storage) or chunks of it (uniform)", async () => {
  const engine = await Engine.create();
  const w = Float32Array.from({ length: 3 * 4 }, (_, i) => i); // [3, 1, 2, 2]
  const wt = uploadDepthwiseWeight(engine, w, [3, 1, 2, 2]);
  assert.deepEqual([wt.uniform, wt.chunkChannels], [false, 3]);
  assert.deepEqual(wt.tensor.shape, [4, 3]);
  assert.deepEqual([...await engine.readF32(wt.tensor)], [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
  const big = uploadDepthwiseWeight(engine, new Float32Array(344 * 49), [344, 1, 7, 7]);
  assert.deepEqual([big.uniform, big.chunkChannels, big.tensor.byteLength], [true, 332, 2 * 65536]);
  big.release();
  assert.throws(() => uploadDepthwiseWeight(engine, w, [3, 2, 1, 2]), /\[C, 1, kh, kw\]/);
});

Deno.test("depthwiseConv2dNHWC of an empty batch is an empty result", async () => {
  const engine = await Engine.create();
  const wt = uploadDepthwiseWeight(engine, new Float32Array(8 * 9), [8, 1, 3, 3]);
  const y = depthwiseConv2dNHWC(engine, engine.empty([0, 5, 5, 8]), wt, { padding: 1 });
  assert.deepEqual(y.shape, [0, 5, 5, 8]);
  assert.equal((await engine.readF32(y)).length, 0);
});

Deno.test("depthwiseConv2dNHWC rejects bad shapes and strides", async () => {
  const engine = await Engine.create();
  const wt = uploadDepthwiseWeight(engine, new Float32Array(4 * 9), [4, 1, 3, 3]);
  const x = engine.upload(new Float32Array(5 * 5 * 4), [1, 5, 5, 4]);
  assert.throws(() => depthwiseConv2dNHWC(engine, x, wt, { stride: 3 }), /stride/);
  assert.throws(() => depthwiseConv2dNHWC(engine, x, wt, { stride: [1, 2] }), /stride/);
  const x3 = engine.upload(new Float32Array(5 * 5 * 3), [1, 5, 5, 3]);
  assert.throws(() => depthwiseConv2dNHWC(engine, x3, wt), /3 channels/);
  const small = engine.upload(new Float32Array(2 * 2 * 4), [1, 2, 2, 4]);
  assert.throws(() => depthwiseConv2dNHWC(engine, small, wt), /smaller than/);
  const bias = engine.upload(new Float32Array(3), [3]);
  assert.throws(() => depthwiseConv2dNHWC(engine, x, wt, { bias }), /expected 4/);
  assert.throws(() => depthwiseConv2dNHWC(engine, x, wt, { out: x }), /not \[1,3,3,4\]/);
});
