import { Engine } from "../src/gpu/engine.ts";
import { layerNorm } from "../src/ops/layernorm.ts";
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
    for (const strategy of ["workgroup-per-row", "invocation-per-row"] as const) {
      const y = layerNorm(
        engine,
        engine.upload(x, shape),
        engine.upload(w, [D]),
        engine.upload(b, [D]),
        eps,
        undefined,
        strategy,
      );
      const got = await engine.readF32(y);
      assertAbsClose(got, ref, 2e-5, `layerNorm [${shape}] ${strategy}`);
    }
  }
});
