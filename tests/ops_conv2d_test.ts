/**
 * conv2d against a float64 CPU reference on awkward shapes (C=3 input, 1x1 and
 * 7x7 kernels, stride 2, dilation 2, groups=2, depthwise, batch 1 and 3,
 * fused bias + residual + ReLU). Tolerance: max |gpu - ref| <= 1e-5 * max |ref|.
 * Every case runs three ways: raw weights on textures, weights uploaded once
 * (uploadConvWeight) and the storage-buffer fallback.
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import {
  conv2d,
  type Conv2dOptions,
  conv2dShape,
  conv2dTuning,
  ConvWeight,
  foldBatchNorm,
  pair,
  uploadConvWeight,
} from "../src/ops/conv2d.ts";
import { resolvePadding } from "../src/ops/padding.ts";
import { numel, type Tensor } from "../src/tensor.ts";
import { engineOn, pathLabel, TILINGS } from "./_kernel_paths.ts";
import { assertRelClose, FULL, randomF32, rng } from "./_helpers.ts";

const RTOL = 1e-5;

/** Direct float64 convolution. */
export function conv2dRef(
  x: Float32Array,
  xs: number[],
  w: Float32Array,
  ws: number[],
  opts: Conv2dOptions & { biasData?: Float32Array; resData?: Float32Array },
): Float64Array {
  const [n, c, h, wd] = xs;
  const [o, cg, kh, kw] = ws;
  const groups = opts.groups ?? 1;
  const [sh, sw] = pair(opts.stride, 1);
  const [dh, dw] = pair(opts.dilation, 1);
  const pad = resolvePadding(opts.padding, h, wd, [kh, kw], [sh, sw], [dh, dw]);
  const ph = pad.top, pw = pad.left;
  const [, , ho, wo] = conv2dShape(xs, ws, opts);
  const og = o / groups;
  const y = new Float64Array(n * o * ho * wo);
  for (let b = 0; b < n; b++) {
    for (let oc = 0; oc < o; oc++) {
      const g = Math.floor(oc / og);
      for (let i = 0; i < ho; i++) {
        for (let j = 0; j < wo; j++) {
          let s = opts.biasData ? opts.biasData[oc] : 0;
          for (let ci = 0; ci < cg; ci++) {
            for (let u = 0; u < kh; u++) {
              const iy = i * sh - ph + u * dh;
              if (iy < 0 || iy >= h) continue;
              for (let v = 0; v < kw; v++) {
                const ix = j * sw - pw + v * dw;
                if (ix < 0 || ix >= wd) continue;
                s += w[((oc * cg + ci) * kh + u) * kw + v] *
                  x[((b * c + g * cg + ci) * h + iy) * wd + ix];
              }
            }
          }
          const idx = ((b * o + oc) * ho + i) * wo + j;
          if (opts.resData) s += opts.resData[idx];
          y[idx] = opts.relu ? Math.max(s, 0) : s;
        }
      }
    }
  }
  return y;
}

interface Case {
  name: string;
  x: number[];
  w: number[];
  opts: Conv2dOptions;
  bias?: boolean;
  res?: boolean;
}

const CASES: Case[] = [
  {
    name: "stem 7x7/2 pad 3, C=3, batch 1",
    x: [1, 3, 37, 41],
    w: [16, 3, 7, 7],
    opts: { stride: 2, padding: 3 },
    bias: true,
  },
  {
    name: "3x3 pad 1, odd channels",
    x: [2, 5, 9, 11],
    w: [7, 5, 3, 3],
    opts: { padding: 1 },
    bias: true,
    res: true,
  },
  { name: "1x1 projection stride 2", x: [3, 24, 15, 15], w: [40, 24, 1, 1], opts: { stride: 2 } },
  {
    name: "1x1 many channels + residual + relu",
    x: [1, 67, 7, 7],
    w: [129, 67, 1, 1],
    opts: { relu: true },
    bias: true,
    res: true,
  },
  {
    name: "pointwise 1x1, H*W % 4 == 0, batch 2, bias + residual",
    x: [2, 20, 6, 6],
    w: [12, 20, 1, 1],
    opts: {},
    bias: true,
    res: true,
  },
  { name: "pointwise 1x1 over two pixel panels", x: [1, 9, 10, 10], w: [16, 9, 1, 1], opts: {} },
  {
    name: "pointwise 1x1 with groups=2",
    x: [1, 16, 4, 4],
    w: [16, 8, 1, 1],
    opts: { groups: 2, relu: true },
    bias: true,
  },
  {
    name: "3x3 dilation 2 pad 2",
    x: [1, 4, 13, 10],
    w: [6, 4, 3, 3],
    opts: { padding: 2, dilation: 2 },
    bias: true,
  },
  {
    name: "groups=2, 3x3 stride 2",
    x: [2, 8, 11, 9],
    w: [6, 4, 3, 3],
    opts: { groups: 2, stride: 2, padding: 1 },
  },
  {
    name: "depthwise 3x3",
    x: [2, 12, 10, 10],
    w: [12, 1, 3, 3],
    opts: { groups: 12, padding: 1, relu: true },
    bias: true,
  },
  {
    name: "depthwise 5x5 multiplier 2 stride 2",
    x: [1, 5, 12, 13],
    w: [10, 1, 5, 5],
    opts: { groups: 5, padding: 2, stride: 2 },
  },
  {
    name: "rectangular kernel/stride/padding",
    x: [1, 3, 10, 12],
    w: [5, 3, 3, 5],
    opts: { stride: [1, 2], padding: [0, 2] },
  },
  {
    name: "batch 3, 3x3 pad 1, bias + residual + relu",
    x: [3, 16, 9, 9],
    w: [24, 16, 3, 3],
    opts: { padding: 1, relu: true },
    bias: true,
    res: true,
  },
  {
    name: "7x7 maps of 3 images sharing panels, bias + residual + relu",
    x: [3, 16, 7, 7],
    w: [16, 16, 3, 3],
    opts: { padding: 1, relu: true },
    bias: true,
    res: true,
  },
  {
    name: "groups=2 with 8+ channels per group, bias + residual",
    x: [2, 10, 7, 8],
    w: [18, 5, 3, 3],
    opts: { groups: 2, padding: 1 },
    bias: true,
    res: true,
  },
  {
    name: "3x3/2 pad 1 with 64 -> 33 channels",
    x: [1, 64, 14, 14],
    w: [33, 64, 3, 3],
    opts: { stride: 2, padding: 1, relu: true },
    bias: true,
    res: true,
  },
];

/** The ways conv2d gets its weights: raw (texture path), uploaded once, buffers only. */
const WEIGHT_PATHS = ["raw", "uploaded", "buffers"] as const;

/** Runs `fn` with conv2dTuning.textures set to `on`, then restores it. */
async function withTextures<T>(on: boolean, fn: () => T | Promise<T>): Promise<T> {
  const saved = conv2dTuning.textures;
  conv2dTuning.textures = on;
  try {
    return await fn();
  } finally {
    conv2dTuning.textures = saved;
  }
}

/** Calls `body` with the weights `wData` [wShape] given each way of {@link WEIGHT_PATHS}. */
async function forEachWeightPath(
  engine: Engine,
  wData: Float32Array,
  wShape: number[],
  groups: number,
  body: (w: Tensor | ConvWeight, path: string) => Promise<void>,
): Promise<void> {
  for (const path of WEIGHT_PATHS) {
    await withTextures(path !== "buffers", () =>
      body(
        path === "uploaded"
          ? uploadConvWeight(engine, wData, wShape, groups, "w")
          : engine.upload(wData, wShape),
        path,
      ));
  }
}

/** conv2d over every weight path; each result is checked against `ref`. */
async function checkAllPaths(
  engine: Engine,
  xData: Float32Array,
  xShape: number[],
  wData: Float32Array,
  wShape: number[],
  opts: Conv2dOptions & { biasData?: Float32Array; resData?: Float32Array },
  ref: Float64Array | Float32Array,
  what: string,
): Promise<void> {
  const outShape = conv2dShape(xShape, wShape, opts);
  await forEachWeightPath(engine, wData, wShape, opts.groups ?? 1, async (w, path) => {
    const y = conv2d(engine, engine.upload(xData, xShape), w, {
      ...opts,
      bias: opts.biasData && engine.upload(opts.biasData, [wShape[0]]),
      residual: opts.resData && engine.upload(opts.resData, outShape),
    });
    assert.deepEqual(y.shape, outShape);
    assertRelClose(await engine.readF32(y), ref, RTOL, `${what} (${path} weights)`);
  });
}

// Every case on both kernel paths (GPU path: the GEMM tilings in turn).
const CASE_RUNS = [
  ...CASES.map((c) => [c, "software", undefined] as const),
  ...CASES.map((c, i) => [c, "gpu", TILINGS[i % TILINGS.length]] as const),
];
for (const [cs, path, tiling] of CASE_RUNS) {
  Deno.test(`conv2d ${cs.name}: x [${cs.x}] w [${cs.w}] ${pathLabel(path, tiling)}`, async () => {
    const engine = await engineOn(path, tiling);
    const x = randomF32(numel(cs.x), numel(cs.x));
    const w = randomF32(numel(cs.w), numel(cs.w) + 1);
    const outShape = conv2dShape(cs.x, cs.w, cs.opts);
    const biasData = cs.bias ? randomF32(cs.w[0], 9) : undefined;
    const resData = cs.res ? randomF32(numel(outShape), 10) : undefined;
    const ref = conv2dRef(x, cs.x, w, cs.w, { ...cs.opts, biasData, resData });
    await checkAllPaths(engine, x, cs.x, w, cs.w, { ...cs.opts, biasData, resData }, ref, cs.name);
  });
}

const CHUNK_CASES: [string, number[], number[], Conv2dOptions][] = [
  ["3x3, chunks that split images", [5, 6, 11, 7], [9, 6, 3, 3], {
    padding: 1,
    stride: [2, 1],
    relu: true,
  }],
  ["pointwise 1x1, chunks that split images", [3, 8, 6, 6], [16, 8, 1, 1], { relu: true }],
];
const CHUNK_RUNS = [
  ...CHUNK_CASES.map((c) => [c, "software", undefined] as const),
  ...CHUNK_CASES.map((c, i) => [c, "gpu", TILINGS[(2 * i + 1) % TILINGS.length]] as const),
];
for (const [[what, xs, ws, opts], path, tiling] of CHUNK_RUNS) {
  const label = pathLabel(path, tiling);
  Deno.test(`conv2d in chunks of 128 output pixels (small im2col budget): ${what} ${label}`, async () => {
    const engine = await engineOn(path, tiling);
    const outShape = conv2dShape(xs, ws, opts);
    const x = randomF32(numel(xs), 21), w = randomF32(numel(ws), 22);
    const biasData = randomF32(ws[0], 23), resData = randomF32(numel(outShape), 24);
    const k = Math.ceil((ws[1] * ws[2] * ws[3]) / 4) * 4;
    const saved = conv2dTuning.im2colBudgetBytes;
    // Two 64-column panels per chunk: 42 or 36 pixels per image, so chunks start mid-image.
    conv2dTuning.im2colBudgetBytes = 2 * k * 64 * 4;
    try {
      const ref = conv2dRef(x, xs, w, ws, { ...opts, biasData, resData });
      await checkAllPaths(engine, x, xs, w, ws, { ...opts, biasData, resData }, ref, what);
    } finally {
      conv2dTuning.im2colBudgetBytes = saved;
    }
  });
}

Deno.test("conv2d of an empty batch is an empty result on every path", async () => {
  const engine = await Engine.create();
  await forEachWeightPath(engine, randomF32(16 * 3 * 9, 5), [16, 3, 3, 3], 1, async (w) => {
    const y = conv2d(engine, engine.empty([0, 3, 9, 9]), w, { padding: 1 });
    assert.deepEqual(y.shape, [0, 16, 9, 9]);
    assert.equal((await engine.readF32(y)).length, 0);
  });
});

Deno.test("uploadConvWeight keeps a texture for GEMM convolutions and a buffer otherwise", async () => {
  const engine = await Engine.create();
  const gemmShaped = uploadConvWeight(engine, new Float32Array(16 * 3 * 9), [16, 3, 3, 3]);
  assert.ok(gemmShaped instanceof ConvWeight);
  assert.ok(gemmShaped.texture && !gemmShaped.tensor);
  assert.equal(gemmShaped.texture.width, 7); // K = 27 padded to 28: 7 texels per row
  const depthwise = uploadConvWeight(engine, new Float32Array(12 * 9), [12, 1, 3, 3], 12);
  assert.ok(depthwise.tensor && !depthwise.texture);
  const buffered = await withTextures(
    false,
    () => uploadConvWeight(engine, new Float32Array(16 * 3 * 9), [16, 3, 3, 3]),
  );
  assert.ok(buffered.tensor && !buffered.texture);
  assert.throws(
    () => uploadConvWeight(engine, new Float32Array(5), [16, 3, 3, 3]),
    /do not fill/,
  );
  // [8, 4, 3, 3] fits an 8-channel input with groups=2 too, but was uploaded for groups=1.
  const w = uploadConvWeight(engine, new Float32Array(8 * 4 * 9), [8, 4, 3, 3]);
  const x = engine.upload(new Float32Array(8 * 5 * 5), [1, 8, 5, 5]);
  assert.throws(() => conv2d(engine, x, w, { groups: 2 }), /uploaded for groups=1, not 2/);
});

Deno.test("conv2d rejects a weight that does not fit the groups", async () => {
  const engine = await Engine.create();
  const x = engine.upload(new Float32Array(2 * 6 * 4 * 4), [2, 6, 4, 4]);
  const w = engine.upload(new Float32Array(4 * 4 * 9), [4, 4, 3, 3]);
  assert.throws(() => conv2d(engine, x, w, { groups: 2 }), /does not fit/);
});

Deno.test("foldBatchNorm equals conv followed by batch norm", () => {
  const wShape = [3, 2, 1, 1];
  const w = randomF32(6, 1);
  const bias = randomF32(3, 2);
  const bn = {
    weight: randomF32(3, 3, 0.5, 2),
    bias: randomF32(3, 4),
    runningMean: randomF32(3, 5),
    runningVar: randomF32(3, 6, 0.1, 3),
    eps: 1e-5,
  };
  const folded = foldBatchNorm(w, wShape, bias, bn);
  const xin = [0.3, -1.7];
  for (let o = 0; o < 3; o++) {
    const conv = w[o * 2] * xin[0] + w[o * 2 + 1] * xin[1] + bias[o];
    const want = (conv - bn.runningMean[o]) / Math.sqrt(bn.runningVar[o] + bn.eps) * bn.weight[o] +
      bn.bias[o];
    const got = folded.weight[o * 2] * xin[0] + folded.weight[o * 2 + 1] * xin[1] + folded.bias[o];
    assert.ok(Math.abs(got - want) < 1e-5, `channel ${o}: ${got} vs ${want}`);
  }
});

Deno.test({
  name: "FULL: conv2d ResNet-50 stem (2x3x224x224, 7x7/2) and 3x3 256->256 @14, sampled outputs",
  ignore: !FULL,
  async fn() {
    const engine = await Engine.create();
    for (
      const [xs, ws, opts] of [
        [[2, 3, 224, 224], [64, 3, 7, 7], { stride: 2, padding: 3, relu: true }],
        [[2, 256, 14, 14], [256, 256, 3, 3], { padding: 1 }],
      ] as [number[], number[], Conv2dOptions][]
    ) {
      const x = randomF32(numel(xs), 41), w = randomF32(numel(ws), 42);
      const y = conv2d(engine, engine.upload(x, xs), engine.upload(w, ws), opts);
      const got = await engine.readF32(y);
      const [, o, ho, wo] = conv2dShape(xs, ws, opts);
      const [, c, h, wd] = xs;
      const [, , kh, kw] = ws;
      const [sh, sw] = pair(opts.stride, 1);
      const pad = resolvePadding(opts.padding, h, wd, [kh, kw], [sh, sw]);
      const ph = pad.top, pw = pad.left;
      const r = rng(43);
      const sampled: number[] = [], ref: number[] = [];
      for (let t = 0; t < 2048; t++) {
        const idx = Math.floor(r() * got.length);
        const b = Math.floor(idx / (o * ho * wo)), oc = Math.floor(idx / (ho * wo)) % o;
        const i = Math.floor(idx / wo) % ho, j = idx % wo;
        let s = 0;
        for (let ci = 0; ci < c; ci++) {
          for (let u = 0; u < kh; u++) {
            for (let v = 0; v < kw; v++) {
              const iy = i * sh - ph + u, ix = j * sw - pw + v;
              if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
              s += w[((oc * c + ci) * kh + u) * kw + v] * x[((b * c + ci) * h + iy) * wd + ix];
            }
          }
        }
        sampled.push(got[idx]);
        ref.push(opts.relu ? Math.max(s, 0) : s);
      }
      assertRelClose(sampled, ref, RTOL, `conv2d [${xs}] * [${ws}]`);
    }
  },
});

const HAS_F16 = (await Engine.create()).gpu.hasF16;
for (const [path, tiling] of [["software", undefined], ["gpu", "64x64"]] as const) {
  Deno.test({
    name: `f16 weight storage: GEMM conv weights in an rgba16float texture, f32 accumulation ${
      pathLabel(path, tiling)
    }${HAS_F16 ? "" : " (skipped: this adapter lacks shader-f16)"}`,
    ignore: !HAS_F16,
    async fn() {
      const engine = await engineOn(path, tiling, "f16");
      const xs = [2, 5, 9, 7], ws = [12, 5, 3, 3];
      const opts: Conv2dOptions = { padding: 1, stride: [2, 1] };
      const x = randomF32(numel(xs), 31), w = randomF32(numel(ws), 32, -3, 3);
      const bias = randomF32(ws[0], 33);
      const weight = uploadConvWeight(engine, w, ws);
      assert.equal(weight.texture?.format, "rgba16float");
      // The reference convolves the f16-rounded weights in float64: what is
      // stored is exactly f16, and accumulation stays f32.
      const rounded = Float32Array.from(w, Math.f16round);
      assert.ok(rounded.some((v, i) => v !== w[i]), "rounding to f16 changed nothing");
      const ref = conv2dRef(x, xs, rounded, ws, { ...opts, biasData: bias });
      const y = conv2d(engine, engine.upload(x, xs), weight, {
        ...opts,
        bias: engine.upload(bias, [ws[0]]),
      });
      assertRelClose(await engine.readF32(y), ref, RTOL, "f16 conv weights");
      // Direct convolutions keep f32 weights.
      const dw = uploadConvWeight(engine, randomF32(12 * 9, 34), [12, 1, 3, 3], 12);
      assert.ok(dw.tensor && dw.tensor.dtype === "f32");
      // A weight beyond f16's range is refused, naming it.
      assert.throws(
        () =>
          uploadConvWeight(
            engine,
            new Float32Array(16 * 27).fill(7e4),
            [16, 3, 3, 3],
            1,
            "stem.weight",
          ),
        /"stem\.weight" holds 70000, beyond the f16 range/,
      );
    },
  });
}
