import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { covarianceGpu, jacobiEigen, pca, topEigenpairs } from "../src/explain/pca.ts";
import { gaussian, mulberry32 } from "../src/random.ts";
import { assertRelClose } from "./_helpers.ts";

/** Features with a known spectrum: N(0, diag(scales^2)) rotated by a random orthogonal basis, plus an offset. */
function synthetic(rows: number, dims: number, scales: number[], seed: number): Float32Array {
  const g = gaussian(mulberry32(seed));
  // Random orthonormal basis by Gram-Schmidt.
  const basis: Float64Array[] = [];
  for (let i = 0; i < dims; i++) {
    const v = Float64Array.from({ length: dims }, g);
    for (const u of basis) {
      let d = 0;
      for (let t = 0; t < dims; t++) d += u[t] * v[t];
      for (let t = 0; t < dims; t++) v[t] -= d * u[t];
    }
    const n = Math.hypot(...v);
    basis.push(v.map((x) => x / n));
  }
  const x = new Float32Array(rows * dims);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < dims; i++) {
      const z = g() * (scales[i] ?? 0.05);
      for (let t = 0; t < dims; t++) x[r * dims + t] += z * basis[i][t];
    }
    for (let t = 0; t < dims; t++) x[r * dims + t] += 3 + t * 0.01;
  }
  return x;
}

function covariance64(x: Float32Array, rows: number, dims: number): Float64Array {
  const mean = new Float64Array(dims);
  for (let r = 0; r < rows; r++) for (let t = 0; t < dims; t++) mean[t] += x[r * dims + t] / rows;
  const c = new Float64Array(dims * dims);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < dims; i++) {
      const a = x[r * dims + i] - mean[i];
      for (let j = 0; j < dims; j++) c[i * dims + j] += a * (x[r * dims + j] - mean[j]);
    }
  }
  return c.map((v) => v / (rows - 1));
}

Deno.test("covarianceGpu matches float64 on an awkward shape (517 x 71), whole and in row chunks", async () => {
  const engine = await Engine.create();
  const rows = 517, dims = 71;
  const x = synthetic(rows, dims, [4, 2, 1], 1);
  const t = engine.upload(x, [rows, dims]);
  const ref = covariance64(x, rows, dims);
  for (const chunkRows of [undefined, 100, 517]) {
    const { mean, cov } = covarianceGpu(engine, t, { chunkRows });
    const [, c] = await engine.read(mean, cov);
    assertRelClose(c, ref, 1e-5, `covariance (chunks of ${chunkRows ?? "all"} rows)`);
    mean.release();
    cov.release();
  }
});

Deno.test("topEigenpairs agrees with a full Jacobi decomposition, including a repeated top eigenvalue", () => {
  const dims = 40;
  for (const scales of [[5, 3, 2, 1.5], [3, 3, 1, 0.5]]) {
    const x = synthetic(300, dims, scales, 7);
    const c = covariance64(x, 300, dims);
    const full = jacobiEigen(c.slice(), dims);
    const top = topEigenpairs(c, dims, 3, { tolerance: 1e-11 });
    for (let j = 0; j < 3; j++) {
      assert.ok(Math.abs(top.values[j] - full.values[j]) <= 1e-9 * full.values[0], `lambda ${j}`);
      // Residual checked here independently of the solver: ||C v - lambda v||.
      const v = top.vectors[j];
      let r2 = 0, n2 = 0;
      for (let i = 0; i < dims; i++) {
        let s = 0;
        for (let t = 0; t < dims; t++) s += c[i * dims + t] * v[t];
        r2 += (s - top.values[j] * v[i]) ** 2;
        n2 += v[i] * v[i];
      }
      assert.ok(Math.abs(n2 - 1) < 1e-12 && Math.sqrt(r2) < 1e-8 * full.values[0], `v ${j}`);
    }
  }
});

Deno.test("pca: coordinates equal the float64 projection, explained variance, same seed -> same result", async () => {
  const engine = await Engine.create();
  const rows = 333, dims = 50;
  const x = synthetic(rows, dims, [6, 3, 2], 3);
  const a = await pca(engine, x, rows, dims, { components: 3, seed: 5 });
  const b = await pca(engine, x, rows, dims, { components: 3, seed: 5 });
  assert.deepEqual(a.coords, b.coords);
  const c = covariance64(x, rows, dims);
  const full = jacobiEigen(c.slice(), dims);
  let trace = 0;
  for (let i = 0; i < dims; i++) trace += c[i * dims + i];
  for (let j = 0; j < 3; j++) {
    assert.ok(Math.abs(a.explainedVariance[j] - full.values[j]) < 1e-4 * full.values[0]);
    assert.ok(Math.abs(a.explainedVarianceRatio[j] - full.values[j] / trace) < 1e-4);
  }
  const ref = new Float64Array(rows * 3);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let t = 0; t < dims; t++) {
        s += (x[r * dims + t] - a.mean[t]) * a.components[j * dims + t];
      }
      ref[r * 3 + j] = s;
    }
  }
  assertRelClose(a.coords, ref, 1e-5, "coords");
  // The sample variance of each coordinate is its eigenvalue.
  for (let j = 0; j < 3; j++) {
    let v = 0;
    for (let r = 0; r < rows; r++) v += ref[r * 3 + j] ** 2 / (rows - 1);
    assert.ok(Math.abs(v - a.explainedVariance[j]) < 1e-4 * a.explainedVariance[0]);
  }
});
