/**
 * f16 weight storage (`Engine.weights = "f16"`): linear layers on both kernel
 * paths against float64 references computed from the f16 values the GPU
 * stored (read back and decoded), so the only difference left is f32
 * accumulation: max |gpu - ref| <= 1e-5 * max |ref|. Also: every stored value
 * is an f16 neighbour of its f32 weight, the packed weight takes half the
 * bytes, and the option is parsed and refused as documented.
 */
import assert from "node:assert/strict";
import { getGpu } from "../src/gpu/device.ts";
import { Autotuner } from "../src/gpu/autotune.ts";
import { chooseWeightStorage, setKernelDefaults } from "../src/gpu/kernel_path.ts";
import { GpuLimitError, UsageError } from "../src/errors.ts";
import { Engine } from "../src/gpu/engine.ts";
import type { Tensor } from "../src/tensor.ts";
import { linear, type PackedMatrix, prepareLinearWeight } from "../src/ops/gemm.ts";
import { assertRelClose, randomF32 } from "./_helpers.ts";
import { engineOn, pathLabel } from "./_kernel_paths.ts";
import { main } from "../cli.ts";

const HAS_F16 = (await getGpu()).hasF16;
const skip = HAS_F16 ? "" : " (skipped: this adapter lacks shader-f16)";

/** An IEEE binary16 bit pattern as a number. */
function f16ToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Spacing of f16 values around `x` (normal range; 2^-24 below it). */
function f16Ulp(x: number): number {
  const ax = Math.abs(x);
  return ax < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(ax)) - 10);
}

/** The weight [N, K] as the packed f16 panels hold it (panel layout: gemm_pack.wgsl). */
async function storedWeight(engine: Engine, w: PackedMatrix): Promise<Float64Array> {
  const [words] = await engine.read(w.tensor as Tensor);
  const halves = new Uint16Array(words.buffer, words.byteOffset, words.length * 2);
  const out = new Float64Array(w.n * w.k);
  for (let n = 0; n < w.n; n++) {
    const panel = Math.floor(n / 64);
    for (let k = 0; k < w.k; k++) {
      out[n * w.k + k] = f16ToNumber(halves[(panel * w.k + k) * 64 + (n % 64)]);
    }
  }
  return out;
}

// Ragged shapes (K not a multiple of 4, N across panel borders, M past tiles) and one aligned.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [5, 70, 37],
  [33, 129, 130],
  [130, 64, 3],
  [17, 96, 64], // vec4 A and C
];
const CASES = [
  { path: "software" as const, tiling: undefined },
  { path: "gpu" as const, tiling: "32x64" },
  { path: "gpu" as const, tiling: "128x128" },
];

for (const { path, tiling } of CASES) {
  for (const [m, n, k] of SHAPES) {
    Deno.test({
      name: `f16-weight linear ${m}x${k} -> ${n} (+bias) ${pathLabel(path, tiling)}${skip}`,
      ignore: !HAS_F16,
      async fn() {
        const engine = await engineOn(path, tiling, "f16");
        assert.equal(engine.weights, "f16");
        const x = randomF32(m * k, 3 + m), w = randomF32(n * k, 5 + n, -2, 2);
        const bias = randomF32(n, 7);
        const packed = prepareLinearWeight(engine, engine.upload(w, [n, k]));
        assert.equal(packed.storage, "f16");
        assert.equal((packed.tensor as Tensor).byteLength, Math.ceil(n / 64) * 64 * k * 2);
        const stored = await storedWeight(engine, packed);
        for (let i = 0; i < w.length; i++) {
          const d = Math.abs(stored[i] - w[i]);
          if (!(d <= f16Ulp(w[i]))) {
            assert.fail(`weight ${i}: stored ${stored[i]} is not an f16 neighbour of ${w[i]}`);
          }
        }
        const y = linear(engine, engine.upload(x, [m, k]), packed, {
          bias: engine.upload(bias, [n]),
        });
        const got = await engine.readF32(y);
        const ref = new Float64Array(m * n);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let s = bias[j];
            for (let q = 0; q < k; q++) s += x[i * k + q] * stored[j * k + q];
            ref[i * n + j] = s;
          }
        }
        assertRelClose(got, ref, 1e-5, "f16-weight linear");
        packed.release();
      },
    });
  }
}

Deno.test({
  name: `GPU path autotuning times f16-weight GEMMs as their own shape${skip}`,
  ignore: !HAS_F16,
  async fn() {
    const tuner = new Autotuner("test f16 autotune", undefined, true);
    const engine = await Engine.create({ kernels: "gpu", weights: "f16", tuner });
    const [m, n, k] = [9, 70, 36];
    const x = engine.upload(randomF32(m * k, 1), [m, k]);
    const w = prepareLinearWeight(engine, engine.upload(randomF32(n * k, 2), [n, k]));
    const before = await engine.readF32(linear(engine, x, w));
    const [r] = await engine.tuneKernels();
    assert.equal(r.key, `gemm m=${m} n=${n} k=${k} z=1 b=f16`);
    assert.equal(r.ms[r.tiling], Math.min(...Object.values(r.ms)));
    assertRelClose(await engine.readF32(linear(engine, x, w)), before, 1e-6, "after tuning");
    w.release();
  },
});

Deno.test("weight storage: options, --weights defaults and VISIONEVAL_WEIGHTS; f16 refused without shader-f16", () => {
  assert.equal(chooseWeightStorage(true), "f32");
  assert.equal(chooseWeightStorage(true, { weights: "f16" }), "f16");
  assert.throws(
    () => chooseWeightStorage(false, { weights: "f16" }),
    (e) =>
      e instanceof GpuLimitError && /shader-f16/.test(e.message) && /--weights f32/.test(e.message),
  );
  setKernelDefaults({ weights: "f16" });
  try {
    assert.equal(chooseWeightStorage(true), "f16");
    assert.throws(() => chooseWeightStorage(false), /asked for by --weights/);
  } finally {
    setKernelDefaults({});
  }
  const saved = Deno.env.get("VISIONEVAL_WEIGHTS");
  try {
    Deno.env.set("VISIONEVAL_WEIGHTS", "f16");
    assert.equal(chooseWeightStorage(true), "f16");
    assert.equal(chooseWeightStorage(false, { weights: "f32" }), "f32");
    Deno.env.set("VISIONEVAL_WEIGHTS", "half");
    assert.throws(
      () => chooseWeightStorage(true),
      (e) => e instanceof UsageError && /VISIONEVAL_WEIGHTS must be "f32" or "f16"/.test(e.message),
    );
  } finally {
    saved === undefined
      ? Deno.env.delete("VISIONEVAL_WEIGHTS")
      : Deno.env.set("VISIONEVAL_WEIGHTS", saved);
  }
});

Deno.test("CLI: --weights takes f32 or f16; anything else exits 2 before a command runs", async () => {
  const errors: string[] = [];
  const saved = console.error;
  console.error = (...a: unknown[]) => void errors.push(a.join(" "));
  try {
    assert.equal(await main(["--weights", "f8", "info"]), 2);
    assert.equal(await main(["info", "--weights=half"]), 2);
  } finally {
    console.error = saved;
    setKernelDefaults({});
  }
  assert.match(errors[0], /--weights must be "f32" or "f16", got "f8"/);
  assert.match(errors[1], /got "half"/);
});
