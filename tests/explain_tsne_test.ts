import assert from "node:assert/strict";
import { exactKnn } from "../src/explain/knn.ts";
import { repulsion } from "../src/explain/quadtree.ts";
import { jointProbabilities, tsne } from "../src/explain/tsne.ts";
import { gaussian, mulberry32 } from "../src/random.ts";
import { blobs, neighbourPurity } from "./_explain_data.ts";

Deno.test("exactKnn equals a sort of all distances (ties to the lower index, self excluded)", () => {
  const x = [0, 0, 1, 0, 0, 1, 1, 1, 0.5, 0.5, 3, 3];
  const knn = exactKnn(x, 6, 2, 3);
  for (let i = 0; i < 6; i++) {
    const all = [...Array(6).keys()].filter((j) => j !== i)
      .map((j) => ({ j, d: Math.hypot(x[2 * i] - x[2 * j], x[2 * i + 1] - x[2 * j + 1]) }))
      .sort((a, b) => a.d - b.d || a.j - b.j);
    assert.deepEqual(knn.indices[i], all.slice(0, 3).map((a) => a.j));
    knn.distances[i].forEach((d, k) => assert.ok(Math.abs(d - all[k].d) < 1e-14));
  }
});

Deno.test("Barnes-Hut repulsion: theta 0 is exact, theta 0.5 is close; duplicate points", () => {
  const g = gaussian(mulberry32(4));
  const n = 300;
  const y = Float64Array.from({ length: 2 * n }, () => 5 * g());
  y[2] = y[0]; // point 1 duplicates point 0
  y[3] = y[1];
  let zRef = 0;
  const fxRef = new Float64Array(n), fyRef = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      if (i === j) continue;
      const dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
      const q = 1 / (1 + dx * dx + dy * dy);
      zRef += q;
      fxRef[i] += q * q * dx;
      fyRef[i] += q * q * dy;
    }
  }
  const fx = new Float64Array(n), fy = new Float64Array(n);
  const z0 = repulsion(y, n, 0, fx, fy);
  assert.ok(Math.abs(z0 - zRef) < 1e-9 * zRef);
  for (let i = 0; i < n; i++) {
    assert.ok(Math.abs(fx[i] - fxRef[i]) < 1e-12 && Math.abs(fy[i] - fyRef[i]) < 1e-12);
  }
  const z5 = repulsion(y, n, 0.5, fx, fy);
  assert.ok(Math.abs(z5 - zRef) < 0.01 * zRef, `Z ${z5} vs ${zRef}`);
  let err = 0, norm = 0;
  for (let i = 0; i < n; i++) {
    err += (fx[i] - fxRef[i]) ** 2 + (fy[i] - fyRef[i]) ** 2;
    norm += fxRef[i] ** 2 + fyRef[i] ** 2;
  }
  assert.ok(Math.sqrt(err / norm) < 0.05, `force error ${Math.sqrt(err / norm)}`);
});

Deno.test("jointProbabilities: each row hits the perplexity, P is symmetric and sums to 1", () => {
  const { x, rows } = blobs(3, 20, 5, 2);
  const perp = 10;
  const knn = exactKnn(x, rows, 5, 30);
  const P = jointProbabilities(knn, perp);
  const get = (i: number, j: number) => {
    for (let e = P.rowStart[i]; e < P.rowStart[i + 1]; e++) if (P.col[e] === j) return P.value[e];
    return 0;
  };
  let total = 0;
  for (let i = 0; i < rows; i++) {
    for (let e = P.rowStart[i]; e < P.rowStart[i + 1]; e++) {
      total += P.value[e];
      assert.ok(Math.abs(P.value[e] - get(P.col[e], i)) < 1e-15);
    }
  }
  assert.ok(Math.abs(total - 1) < 1e-12);
  // Rebuild one row's conditional distribution and check its perplexity.
  const d2 = knn.distances[0].map((d) => d * d);
  let lo = 0, hi = 1e6;
  let H = 0;
  for (let s = 0; s < 200; s++) {
    const beta = (lo + hi) / 2;
    const w = d2.map((d) => Math.exp(-beta * (d - d2[0])));
    const sum = w.reduce((a, b) => a + b);
    H = -w.reduce((a, v) => a + (v / sum) * Math.log(v / sum), 0);
    if (H > Math.log(perp)) lo = beta;
    else hi = beta;
  }
  assert.ok(Math.abs(H - Math.log(perp)) < 1e-6);
});

Deno.test("tsne separates clusters, same seed -> same coordinates, other seed -> other", () => {
  const { x, labels, rows } = blobs(4, 40, 10, 9);
  const opts = { perplexity: 15, iterations: 400, seed: 3 };
  const a = tsne(x, rows, 10, opts);
  const b = tsne(x, rows, 10, opts);
  assert.deepEqual(a.coords, b.coords);
  const c = tsne(x, rows, 10, { ...opts, seed: 4 });
  assert.notDeepEqual(a.coords, c.coords);
  assert.ok(neighbourPurity(a.coords, labels) >= 0.97, "clusters stay apart");
  assert.ok(Number.isFinite(a.kl) && a.kl > 0 && a.kl < 3, `KL ${a.kl}`);
});
