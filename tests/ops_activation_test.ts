/**
 * The shared activation snippet (shaders/activation.wgsl): the WGSL
 * functions against activateRef (float64) over a dense grid and far tails,
 * then every activation fused into linear() (vec4 and scalar stores) and
 * conv2d() (GEMM and direct paths) against float64 references. Inputs
 * include values around 0, +-3, +-6 and +-30, where the piecewise
 * definitions switch and sigmoid saturates.
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import {
  activateRef,
  type Activation,
  ACTIVATION_WGSL,
  activationCode,
  activationDerivativeRef,
  ACTIVATIONS,
  erf64,
} from "../src/ops/activation.ts";
import { linear } from "../src/ops/gemm.ts";
import { conv2d, convActivation } from "../src/ops/conv2d.ts";
import { assertRelClose, randomF32 } from "./_helpers.ts";

/** Values where the activations bend, switch or saturate. */
const SPECIAL = [
  0,
  1e-4,
  -1e-4,
  0.5,
  -0.5,
  1,
  -1,
  2.9,
  -2.9,
  3,
  -3,
  3.1,
  -3.1,
  5.9,
  -5.9,
  6,
  -6,
  6.1,
  -6.1,
  9,
  -9,
  29.5,
  -29.5,
  30,
  -30,
  30.5,
  -30.5,
];

/** |got - ref| <= tol * max(1, |x|) for every element. */
function assertActClose(
  got: ArrayLike<number>,
  ref: ArrayLike<number>,
  scale: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  let worst = 0, at = 0;
  for (let i = 0; i < ref.length; i++) {
    const e = Math.abs(got[i] - ref[i]) / Math.max(1, Math.abs(scale[i]));
    if (!(e <= worst)) [worst, at] = [e, i];
  }
  assert.ok(
    worst <= tol,
    `${what}: error ${worst.toExponential(3)} > ${tol} at ${at} (got ${got[at]}, ref ${ref[at]})`,
  );
}

Deno.test("activateRef: codes, known values and PyTorch's definitions", () => {
  assert.deepEqual(ACTIVATIONS.map(activationCode), [0, 1, 2, 3, 4, 5, 6, 7, 8]);
  assert.throws(() => activationCode("tanh" as Activation), /unknown activation "tanh"/);
  assert.ok(Math.abs(erf64(1) - 0.8427007929497149) < 1e-15);
  assert.ok(Math.abs(erf64(-3.5) + 0.9999992569016276) < 1e-15);
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-15 * Math.max(1, Math.abs(b));
  assert.ok(close(activateRef("gelu", 1), 0.8413447460685429));
  assert.ok(close(activateRef("gelu", -3), -0.0040496940948904), `${activateRef("gelu", -3)}`);
  assert.ok(activateRef("gelu", -30) < 0 && activateRef("gelu", -30) > -1e-190);
  assert.equal(activateRef("relu6", 7), 6);
  assert.equal(activateRef("relu6", -1), 0);
  assert.equal(activateRef("hardswish", -3) + 0, 0);
  assert.equal(activateRef("hardswish", 3), 3);
  assert.equal(activateRef("hardswish", 1), 4 / 6);
  assert.equal(activateRef("hardsigmoid", 0), 0.5);
  assert.equal(activateRef("hardsigmoid", 3), 1);
  assert.equal(activateRef("sigmoid", 0), 0.5);
  assert.ok(close(activateRef("sigmoid", -800), 0) && activateRef("sigmoid", -700) > 0);
  assert.equal(activateRef("sigmoid", 800), 1);
  assert.ok(close(activateRef("silu", 2), 2 / (1 + Math.exp(-2))));
  assert.equal(activateRef("silu", -1000) + 0, 0);
  // torch.nn.functional.gelu(x, approximate="tanh") in float64.
  const geluTanh: [number, number][] = [
    [-3, -0.0036373920817729943],
    [-1, -0.1588080093917233],
    [0.5, 0.34571400982514394],
    [1, 0.8411919906082768],
    [3, 2.996362607918227],
  ];
  for (const [x, want] of geluTanh) assert.ok(close(activateRef("gelu_tanh", x), want), `${x}`);
});

Deno.test("WGSL activate and activate4 match activateRef, far tails included", async () => {
  const engine = await Engine.create();
  const grid = Array.from({ length: 2401 }, (_, i) => -12 + i / 100);
  const xs = Float32Array.from([...SPECIAL, ...grid, 88, -88, 100, -100, 1e4, -1e4, 1e30, -1e30]);
  const n = Math.ceil(xs.length / 4) * 4;
  const x = new Float32Array(n);
  x.set(xs);
  const code = ACTIVATION_WGSL + `
@group(0) @binding(0) var<storage, read> x: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> y: array<vec4f>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x;
  if (i >= arrayLength(&x)) { return; }
  let v = x[i];
  y[2u * i] = activate4(v);
  y[2u * i + 1u] = vec4f(activate(v.x), activate(v.y), activate(v.z), activate(v.w));
}`;
  const tx = engine.upload(x, [n]);
  for (const act of ACTIVATIONS) {
    const ty = engine.empty([2 * n]);
    engine.run(
      { name: "test_activation", code, constants: { ACT: activationCode(act) } },
      [tx, ty],
      Math.ceil(n / 4 / 64),
    );
    const y = await engine.readF32(ty);
    const v4 = new Float64Array(n), v1 = new Float64Array(n);
    for (let q = 0; q < n / 4; q++) {
      for (let c = 0; c < 4; c++) {
        v4[4 * q + c] = y[8 * q + c];
        v1[4 * q + c] = y[8 * q + 4 + c];
      }
    }
    const ref = Array.from(x, (v) => activateRef(act, v));
    assertActClose(v4, ref, x, 1e-6, `activate4 ${act}`);
    assertActClose(v1, ref, x, 1e-6, `activate ${act}`);
    if (act === "sigmoid") {
      // The safe form: no NaN, and the negative tail stays positive (not rounded to 0 early).
      assert.ok(v1.every((v) => Number.isFinite(v)), "sigmoid is finite everywhere");
      assert.ok(v1[x.indexOf(-30)] > 0 && v1[x.indexOf(-30)] < 1e-12);
    }
    ty.release();
  }
});

/** float64 linear: x [m, k] w [n, k] + bias, then the activation. */
function linearRef(
  x: Float32Array,
  w: Float32Array,
  m: number,
  n: number,
  k: number,
  bias: Float32Array,
): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = bias[j];
      for (let q = 0; q < k; q++) s += x[i * k + q] * w[j * k + q];
      y[i * n + j] = s;
    }
  }
  return y;
}

for (const act of ACTIVATIONS) {
  Deno.test(`linear act=${act}: exact special values (N % 4 = 0 and not) and a random product`, async () => {
    const engine = await Engine.create();
    // Identity weights carry the special values through the GEMM exactly.
    for (const n of [8, 7]) {
      const m = Math.ceil(SPECIAL.length / n);
      const x = new Float32Array(m * n);
      x.set(SPECIAL);
      const eye = new Float32Array(n * n);
      for (let i = 0; i < n; i++) eye[i * n + i] = 1;
      const y = linear(engine, engine.upload(x, [m, n]), engine.upload(eye, [n, n]), { act });
      const got = await engine.readF32(y);
      assertActClose(got, Array.from(x, (v) => activateRef(act, v)), x, 1e-6, `linear n=${n}`);
    }
    // m=37, n=19, k=53: scalar stores, partial tiles; pre-activations spread over about +-30.
    for (const [m, n, k] of [[37, 19, 53], [1, 12, 16]]) {
      const x = randomF32(m * k, 100 + k, -6, 6), w = randomF32(n * k, 200 + n);
      const bias = randomF32(n, 300, -3, 3);
      const pre = linearRef(x, w, m, n, k, bias);
      const y = linear(engine, engine.upload(x, [m, k]), engine.upload(w, [n, k]), {
        act,
        bias: engine.upload(bias, [n]),
      });
      const got = await engine.readF32(y);
      assertActClose(
        got,
        pre.map((v) => activateRef(act, v)),
        pre,
        2e-5,
        `linear [${m},${n},${k}]`,
      );
    }
  });
}

/** float64 NCHW convolution (groups, stride, padding) with bias, before the activation. */
function convRef(
  x: Float32Array,
  [n, c, h, wd]: number[],
  w: Float32Array,
  [o, cg, kh, kw]: number[],
  groups: number,
  stride: number,
  pad: number,
  bias: Float32Array,
): Float64Array {
  const ho = Math.floor((h + 2 * pad - kh) / stride) + 1;
  const wo = Math.floor((wd + 2 * pad - kw) / stride) + 1;
  const og = o / groups;
  const y = new Float64Array(n * o * ho * wo);
  for (let b = 0; b < n; b++) {
    for (let oc = 0; oc < o; oc++) {
      const g = Math.floor(oc / og);
      for (let i = 0; i < ho; i++) {
        for (let j = 0; j < wo; j++) {
          let s = bias[oc];
          for (let ci = 0; ci < cg; ci++) {
            for (let u = 0; u < kh; u++) {
              for (let v = 0; v < kw; v++) {
                const iy = i * stride - pad + u, ix = j * stride - pad + v;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                s += w[((oc * cg + ci) * kh + u) * kw + v] *
                  x[((b * c + g * cg + ci) * h + iy) * wd + ix];
              }
            }
          }
          y[((b * o + oc) * ho + i) * wo + j] = s;
        }
      }
    }
  }
  return y;
}

const CONV_CASES: { name: string; x: number[]; w: number[]; groups: number; stride: number }[] = [
  {
    name: "GEMM path 3x3, 9 pixels per row (scalar stores)",
    x: [1, 3, 9, 11],
    w: [9, 3, 3, 3],
    groups: 1,
    stride: 1,
  },
  { name: "GEMM path 3x3/2, batch 2", x: [2, 5, 8, 8], w: [8, 5, 3, 3], groups: 1, stride: 2 },
  { name: "direct path depthwise 3x3", x: [2, 6, 7, 9], w: [6, 1, 3, 3], groups: 6, stride: 1 },
];

for (const act of ACTIVATIONS) {
  Deno.test(`conv2d act=${act}: GEMM and direct paths, special values and random inputs`, async () => {
    const engine = await Engine.create();
    // 1x1 identity convolutions carry the special values exactly: 8 channels
    // (GEMM) and a depthwise 1x1 of weight 1 (direct).
    const hw = SPECIAL.length;
    const x = new Float32Array(8 * hw);
    for (let ch = 0; ch < 8; ch++) {
      for (let p = 0; p < hw; p++) x[ch * hw + p] = SPECIAL[(p + 3 * ch) % hw];
    }
    const eye = new Float32Array(64);
    for (let i = 0; i < 8; i++) eye[i * 9] = 1;
    const ref = Array.from(x, (v) => activateRef(act, v));
    const tx = engine.upload(x, [1, 8, 1, hw]);
    for (const [w, groups] of [[eye, 1], [new Float32Array(8).fill(1), 8]] as const) {
      const y = conv2d(engine, tx, engine.upload(w, [8, 8 / groups, 1, 1]), { groups, act });
      assertActClose(await engine.readF32(y), ref, x, 1e-6, `conv2d 1x1 groups=${groups}`);
    }
    for (const cs of CONV_CASES) {
      const xs = randomF32(cs.x.reduce((a, b) => a * b), 7, -4, 4);
      const ws = randomF32(cs.w.reduce((a, b) => a * b), 8);
      const bias = randomF32(cs.w[0], 9, -3, 3);
      const pre = convRef(xs, cs.x, ws, cs.w, cs.groups, cs.stride, 1, bias);
      const y = conv2d(engine, engine.upload(xs, cs.x), engine.upload(ws, cs.w), {
        groups: cs.groups,
        stride: cs.stride,
        padding: 1,
        bias: engine.upload(bias, [cs.w[0]]),
        act,
      });
      const got = await engine.readF32(y);
      assertActClose(got, pre.map((v) => activateRef(act, v)), pre, 2e-5, `conv2d ${cs.name}`);
      if (act === "none") assertRelClose(got, pre, 1e-5, cs.name);
    }
  });
}

Deno.test("conv2d: relu is a synonym of act 'relu'; disagreeing options throw", async () => {
  assert.equal(convActivation({ relu: true }), "relu");
  assert.equal(convActivation({ relu: true, act: "relu" }), "relu");
  assert.equal(convActivation({ relu: false, act: "silu" }), "silu");
  assert.equal(convActivation({}), "none");
  assert.throws(() => convActivation({ relu: true, act: "gelu" }), /disagree/);
  assert.throws(() => convActivation({ relu: false, act: "relu" }), /disagree/);
  const engine = await Engine.create();
  const x = engine.upload(new Float32Array(16), [1, 1, 4, 4]);
  const w = engine.upload(new Float32Array(9), [1, 1, 3, 3]);
  assert.throws(() => conv2d(engine, x, w, { relu: true, act: "silu" }), /disagree/);
  assert.throws(() => conv2d(engine, x, w, { act: "tanh" as Activation }), /unknown activation/);
});

Deno.test("activationDerivativeRef matches central differences of activateRef", () => {
  for (const a of ACTIVATIONS) {
    for (const x of [-7.5, -3.2, -2.9, -1, -0.25, 0.3, 1.7, 2.95, 3.4, 5.5, 6.5, 12]) {
      const h = 1e-6;
      const fd = (activateRef(a, x + h) - activateRef(a, x - h)) / (2 * h);
      const d = activationDerivativeRef(a, x);
      assert.ok(Math.abs(d - fd) < 1e-6, `${a}'(${x}) = ${d}, finite difference ${fd}`);
    }
  }
});
