/**
 * GEMM kernels against float64 CPU references on awkward shapes.
 * Tolerance: max |gpu - ref| <= 1e-5 * max |ref| (f32 accumulation over K <= 1100
 * of values in [-1, 1] stays well inside this).
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { type Activation, linear, matmul, prepareLinearWeight } from "../src/ops/gemm.ts";
import { GELU_WGSL } from "../src/ops/gelu.ts";
import { assertRelClose, FULL, randomF32, rng } from "./_helpers.ts";
import { engineOn, KERNEL_PATHS, pathLabel, TILINGS } from "./_kernel_paths.ts";

const RTOL = 1e-5;

/** erf in float64: Taylor series for |x| < 3, continued fraction of erfc beyond. */
export function erf64(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 3) {
    let term = ax, sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= -ax * ax / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    r = 2 / Math.sqrt(Math.PI) * sum;
  } else {
    // erfc(x) = exp(-x^2)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...)))), Lentz-free backward form.
    let f = ax;
    for (let n = 60; n >= 1; n--) f = ax + (n / 2) / f;
    r = 1 - Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  }
  return x < 0 ? -r : r;
}

/** Exact GELU in float64. */
export function gelu64(x: number): number {
  return 0.5 * x * (1 + erf64(x / Math.SQRT2));
}

function act64(v: number, act: Activation): number {
  return act === "relu" ? Math.max(v, 0) : act === "gelu" ? gelu64(v) : v;
}

/** Reference linear: y[m, n] = act(sum_k x[m,k] w[n,k] + bias[n] + res[m,n]). */
function linearRef(
  x: Float32Array,
  w: Float32Array,
  m: number,
  n: number,
  k: number,
  bias?: Float32Array,
  res?: Float32Array,
  act: Activation = "none",
): Float64Array {
  const y = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let q = 0; q < k; q++) s += x[i * k + q] * w[j * k + q];
      if (bias) s += bias[j];
      if (res) s += res[i * n + j];
      y[i * n + j] = act64(s, act);
    }
  }
  return y;
}

Deno.test("erf64 reference matches known values to 1e-12", () => {
  assert.ok(Math.abs(erf64(0.5) - 0.5204998778130465) < 1e-12);
  assert.ok(Math.abs(erf64(1) - 0.8427007929497149) < 1e-12);
  assert.ok(Math.abs(erf64(2.5) - 0.9995930479825550) < 1e-12);
  assert.ok(Math.abs(erf64(3.5) - 0.9999992569016276) < 1e-12);
  assert.ok(Math.abs(erf64(-1.2) + 0.9103139782296354) < 1e-12);
});

Deno.test("WGSL erf and gelu are within 1e-6 of float64", async () => {
  const engine = await Engine.create();
  const n = 4001;
  const xs = Float32Array.from({ length: n }, (_, i) => -10 + 20 * i / (n - 1));
  const code = GELU_WGSL + `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3u) {
  let i = g.x;
  if (i >= arrayLength(&x)) { return; }
  y[2u * i] = erf_f32(x[i]);
  y[2u * i + 1u] = gelu(x[i]);
}`;
  const tx = engine.upload(xs, [n]);
  const ty = engine.empty([2 * n]);
  engine.run({ name: "test_gelu", code }, [tx, ty], Math.ceil(n / 64));
  const y = await engine.readF32(ty);
  let maxErf = 0, maxGelu = 0;
  for (let i = 0; i < n; i++) {
    maxErf = Math.max(maxErf, Math.abs(y[2 * i] - erf64(xs[i])));
    // gelu(x) ~ x for large x: compare relative to max(1, |x|).
    const g = gelu64(xs[i]);
    maxGelu = Math.max(maxGelu, Math.abs(y[2 * i + 1] - g) / Math.max(1, Math.abs(xs[i])));
  }
  assert.ok(maxErf <= 1e-6, `erf max error ${maxErf}`);
  assert.ok(maxGelu <= 1e-6, `gelu max error ${maxGelu}`);
});

const LINEAR_CASES: [number, number, number, Activation, boolean, boolean][] = [
  // m, n, k, act, bias, residual
  [1, 1, 1, "none", false, false],
  [1, 10, 7, "relu", true, false],
  [3, 5, 3, "none", true, true],
  [37, 19, 53, "gelu", true, false],
  [64, 64, 64, "none", false, false],
  [5, 12, 7, "gelu", true, true], // K % 4 != 0, N % 4 == 0: scalar A, vec4 C
  [33, 37, 64, "relu", true, true], // K % 4 == 0, N % 4 != 0: vec4 A, scalar C
  [70, 132, 96, "gelu", true, true], // vec4 A and C, several row blocks and panels
  [197, 67, 129, "gelu", true, true],
  [65, 129, 257, "relu", false, true],
  [8, 1000, 1100, "none", true, false],
];

// Every case on both kernel paths; on the GPU path the cases take the
// tilings in turn, so that each tiling meets ragged shapes.
const PATH_RUNS = [
  ...LINEAR_CASES.map((c) => [c, "software", undefined] as const),
  ...LINEAR_CASES.map((c, i) => [c, "gpu", TILINGS[i % TILINGS.length]] as const),
];
for (const [[m, n, k, act, hasBias, hasRes], path, tiling] of PATH_RUNS) {
  const label = pathLabel(path, tiling);
  Deno.test(`linear [${m},${k}] x [${n},${k}]^T act=${act} bias=${hasBias} res=${hasRes} ${label}`, async () => {
    const engine = await engineOn(path, tiling);
    const x = randomF32(m * k, m * 7 + k);
    const w = randomF32(n * k, n * 13 + k);
    const bias = hasBias ? randomF32(n, 3) : undefined;
    const res = hasRes ? randomF32(m * n, 5) : undefined;
    const tx = engine.upload(x, [m, k]);
    const tw = engine.upload(w, [n, k]);
    const y = linear(engine, tx, tw, {
      act,
      bias: bias && engine.upload(bias, [n]),
      residual: res && engine.upload(res, [m, n]),
    });
    assert.deepEqual(y.shape, [m, n]);
    const got = await engine.readF32(y);
    assertRelClose(got, linearRef(x, w, m, n, k, bias, res, act), RTOL, "linear");
  });
}

for (const path of KERNEL_PATHS) {
  for (const tiling of path === "gpu" ? TILINGS : [undefined]) {
    Deno.test(`linear at a ragged shape over several tiles in both directions ${pathLabel(path, tiling)}`, async () => {
      // 131 rows and 197 columns: partial row tiles of 32, 64 and 128 and a
      // partial last panel pair; K = 37 ends mid-stage and mid-vec4.
      const [m, n, k] = [131, 197, 37];
      const engine = await engineOn(path, tiling);
      const x = randomF32(m * k, 41), w = randomF32(n * k, 42);
      const bias = randomF32(n, 43), res = randomF32(m * n, 44);
      const y = linear(engine, engine.upload(x, [m, k]), engine.upload(w, [n, k]), {
        act: "gelu",
        bias: engine.upload(bias, [n]),
        residual: engine.upload(res, [m, n]),
      });
      assertRelClose(await engine.readF32(y), linearRef(x, w, m, n, k, bias, res, "gelu"), RTOL);
    });
  }
}

Deno.test("linear keeps leading dimensions: [2, 3, 5] x [4, 5]^T -> [2, 3, 4]", async () => {
  const engine = await Engine.create();
  const x = randomF32(30, 1), w = randomF32(20, 2);
  const y = linear(engine, engine.upload(x, [2, 3, 5]), engine.upload(w, [4, 5]));
  assert.deepEqual(y.shape, [2, 3, 4]);
  assertRelClose(await engine.readF32(y), linearRef(x, w, 6, 4, 5), RTOL);
});

Deno.test("linear rejects mismatched shapes", async () => {
  const engine = await Engine.create();
  const x = engine.upload(new Float32Array(6), [2, 3]);
  const w = engine.upload(new Float32Array(8), [2, 4]);
  assert.throws(() => linear(engine, x, w), /does not end in K=4/);
  const sq = engine.upload(new Float32Array(9), [3, 3]);
  assert.throws(() => linear(engine, sq, sq, { out: sq }), /must not share a buffer/);
});

const MATMUL_CASES: [number, number, number, number, boolean, number][] = [
  [1, 1, 1, 1, false, 1],
  [3, 17, 9, 33, false, 1],
  [4, 197, 197, 64, true, 0.125],
  [2, 50, 64, 197, false, 1],
  [5, 7, 11, 13, true, -2],
  [2, 129, 130, 18, false, 1], // two row tiles of 128, three panels
];
const MATMUL_RUNS = [
  ...MATMUL_CASES.map((c) => [c, "software", undefined] as const),
  ...MATMUL_CASES.map((c, i) => [c, "gpu", TILINGS[(i + 2) % TILINGS.length]] as const),
];
for (const [[batch, m, n, k, transB, alpha], path, tiling] of MATMUL_RUNS) {
  const label = pathLabel(path, tiling);
  Deno.test(`matmul batch=${batch} [${m},${k}]x[${k},${n}] transB=${transB} alpha=${alpha} ${label}`, async () => {
    const engine = await engineOn(path, tiling);
    const a = randomF32(batch * m * k, 11 + m);
    const b = randomF32(batch * k * n, 17 + n);
    const ta = engine.upload(a, [batch, m, k]);
    const tb = engine.upload(b, transB ? [batch, n, k] : [batch, k, n]);
    const c = matmul(engine, ta, tb, { transB, alpha });
    assert.deepEqual(c.shape, [batch, m, n]);
    const got = await engine.readF32(c);
    const ref = new Float64Array(batch * m * n);
    for (let q = 0; q < batch; q++) {
      for (let i = 0; i < m; i++) {
        for (let j = 0; j < n; j++) {
          let s = 0;
          for (let p = 0; p < k; p++) {
            const bv = transB ? b[q * n * k + j * k + p] : b[q * k * n + p * n + j];
            s += a[q * m * k + i * k + p] * bv;
          }
          ref[(q * m + i) * n + j] = alpha * s;
        }
      }
    }
    assertRelClose(got, ref, RTOL, "matmul");
  });
}

Deno.test({
  name: "FULL: linear at ViT-B fc1 size (1576x768 -> 3072, bias, GELU), 4096 sampled outputs",
  ignore: !FULL,
  async fn() {
    const engine = await Engine.create();
    const [m, n, k] = [1576, 3072, 768];
    const x = randomF32(m * k, 31), w = randomF32(n * k, 32), bias = randomF32(n, 33);
    const y = linear(
      engine,
      engine.upload(x, [m, k]),
      prepareLinearWeight(engine, engine.upload(w, [n, k])),
      { bias: engine.upload(bias, [n]), act: "gelu" },
    );
    const got = await engine.readF32(y);
    const r = rng(34);
    const sampled: number[] = [], ref: number[] = [];
    for (let t = 0; t < 4096; t++) {
      const i = Math.floor(r() * m), j = Math.floor(r() * n);
      let s = bias[j];
      for (let q = 0; q < k; q++) s += x[i * k + q] * w[j * k + q];
      sampled.push(got[i * n + j]);
      ref.push(gelu64(s));
    }
    assertRelClose(sampled, ref, RTOL, "linear ViT-B fc1");
  },
});
