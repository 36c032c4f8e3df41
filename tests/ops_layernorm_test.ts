import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { Autotuner } from "../src/gpu/autotune.ts";
import { layerNorm } from "../src/ops/layernorm.ts";
import type { Reduction } from "../src/ops/row_reduce.ts";
import { assertAbsClose, randomF32 } from "./_helpers.ts";

/** float64 reference: PyTorch LayerNorm over the last dim (biased variance). */
function layerNormRef(
  x: Float32Array,
  D: number,
  w: Float32Array,
  b: Float32Array,
  eps: number,
): Float64Array {
  const y = new Float64Array(x.length);
  for (let r = 0; r < x.length / D; r++) {
    let mean = 0;
    for (let i = 0; i < D; i++) mean += x[r * D + i];
    mean /= D;
    let v = 0;
    for (let i = 0; i < D; i++) v += (x[r * D + i] - mean) ** 2;
    const rstd = 1 / Math.sqrt(v / D + eps);
    for (let i = 0; i < D; i++) y[r * D + i] = (x[r * D + i] - mean) * rstd * w[i] + b[i];
  }
  return y;
}

Deno.test("layerNorm matches a float64 reference on awkward shapes", async () => {
  const engine = await Engine.create();
  // [rows, D, eps, offset]: offset shifts each row's mean far from 0 to
  // check the two-pass variance; D not a multiple of the workgroup.
  const cases: [number[], number, number][] = [
    [[1, 17, 16], 1e-6, 0],
    [[65, 32], 1e-12, 0],
    [[1, 197, 64], 1e-5, 0],
    [[3, 5, 192], 1e-6, 50],
    [[7, 1000], 1e-6, -3],
    [[4, 65], 1e-6, 0],
    [[2, 1], 1e-5, 0],
    [[130, 48], 1e-12, 1], // more rows than one per-invocation workgroup holds
  ];
  let seed = 1;
  for (const [shape, eps, offset] of cases) {
    const D = shape[shape.length - 1];
    const n = shape.reduce((a, b) => a * b, 1);
    const x = randomF32(n, seed++, -2 + offset, 2 + offset);
    const w = randomF32(D, seed++, 0.5, 1.5);
    const b = randomF32(D, seed++, -0.3, 0.3);
    const ref = layerNormRef(x, D, w, b, eps);
    // A workgroup per row with each reduction (subgroups emulated at widths
    // 1..64: the subgroup combining logic on an adapter without subgroups),
    // and an invocation per row.
    const variants: [string, Reduction | undefined][] = [
      ["workgroup-per-row", "tree"],
      ...[1, 4, 8, 32, 64].map((w): [string, Reduction] => [
        "workgroup-per-row",
        `subgroup-emulated-${w}`,
      ]),
      ["invocation-per-row", undefined],
    ];
    for (const [strategy, reduction] of variants) {
      const y = layerNorm(
        engine,
        engine.upload(x, shape),
        engine.upload(w, [D]),
        engine.upload(b, [D]),
        eps,
        undefined,
        strategy as "workgroup-per-row" | "invocation-per-row",
        reduction,
      );
      const got = await engine.readF32(y);
      assertAbsClose(got, ref, 2e-5, `layerNorm [${shape}] ${strategy} ${reduction ?? ""}`);
    }
  }
});

Deno.test("GPU path: subgroup reductions are used only after they pass the kernel check", async () => {
  const tuner = new Autotuner("subgroup check", undefined, true);
  const engine = await Engine.create({ kernels: "gpu", tuner });
  const gpu = engine.gpu;
  const had = gpu.hasSubgroups;
  // Claim subgroups on an adapter without them: the subgroup kernels then
  // fail to compile, which the check must catch (on a GPU with subgroups
  // they would compile and be compared with the tree instead).
  gpu.hasSubgroups = true;
  const errors: string[] = [];
  const original = console.error;
  console.error = (msg: string) => errors.push(msg);
  try {
    const [rows, D] = [5, 96];
    const x = randomF32(rows * D, 1, -2, 2), w = randomF32(D, 2), b = randomF32(D, 3);
    const ref = layerNormRef(x, D, w, b, 1e-5);
    const run = async () =>
      await engine.readF32(
        layerNorm(
          engine,
          engine.upload(x, [rows, D]),
          engine.upload(w, [D]),
          engine.upload(b, [D]),
          1e-5,
        ),
      );
    assertAbsClose(await run(), ref, 2e-5, "before the check");
    assert.equal(tuner.inUse().get(`layernorm width=${D}`), "tree");
    const [r] = await engine.tuneKernels();
    assert.equal(r.key, `layernorm width=${D}`);
    assert.equal(r.tiling, "tree");
    assert.deepEqual(Object.keys(r.rejected).sort(), ["subgroup", "subgroup-noenable"]);
    for (const why of Object.values(r.rejected)) assert.match(why, /does not compile or run here/);
    assertAbsClose(await run(), ref, 2e-5, "after the check");
    assert.equal(errors.length, 1);
  } finally {
    gpu.hasSubgroups = had;
    console.error = original;
  }
});
