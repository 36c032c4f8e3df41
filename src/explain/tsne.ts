/**
 * t-SNE (van der Maaten & Hinton 2008) with Barnes-Hut repulsion (van der
 * Maaten 2014), seeded and deterministic.
 *
 * Why our own: the npm packages (`tsne-js` 1.0.3, `@keckelt/tsne` 1.0.2 and
 * `tsne` 1.0.1, both ports of karpathy's tsnejs) are exact O(N^2)-memory
 * implementations that draw from `Math.random` with no seed, so coordinates
 * are not reproducible and a few thousand points exhaust them. This file is
 * the standard algorithm, compactly:
 *
 * - input similarities from the exact 3*perplexity nearest neighbours, each
 *   row's Gaussian bandwidth found by bisection so its entropy is
 *   log(perplexity); P = (P_j|i + P_i|j) / 2N (sparse);
 * - Student-t output kernel q_ij = 1/(1 + |y_i - y_j|^2); gradient
 *   4 (sum_j p_ij q_ij (y_i - y_j) - sum_j q_ij^2 (y_i - y_j) / Z), the
 *   second sum by a quadtree (quadtree.ts, theta 0.5);
 * - gradient descent with momentum 0.5 -> 0.8, per-coordinate gains, early
 *   exaggeration 12 for the first 250 iterations, learning rate
 *   max(N / 12 / 4, 50) (scikit-learn's "auto"), random N(0, 1e-4) start.
 */
import { exactKnn, type Knn } from "./knn.ts";
import { repulsion } from "./quadtree.ts";
import { gaussian, mulberry32 } from "../random.ts";

/** Options of {@link tsne}. */
export interface TsneOptions {
  /** Effective number of neighbours (default 30; lowered to (N - 1) / 3 for small N). */
  perplexity?: number;
  /** Gradient-descent iterations (default 1000). */
  iterations?: number;
  /** Seed of the initial layout (default 0). */
  seed?: number;
  /** Barnes-Hut accuracy, 0 = exact (default 0.5). */
  theta?: number;
  /** Step size (default max(N / earlyExaggeration / 4, 50)). */
  learningRate?: number;
  /** Factor on P during the first iterations (default 12). */
  earlyExaggeration?: number;
  /** Iterations with exaggeration and momentum 0.5 (default 250). */
  exaggerationIterations?: number;
  /** Precomputed neighbours (at least 3*perplexity per point), e.g. shared with UMAP. */
  knn?: Knn;
}

/** Result of {@link tsne}. */
export interface TsneResult {
  /** Coordinates [N, 2] row-major. */
  coords: Float32Array;
  /** Final KL(P || Q) (with the Barnes-Hut normalization). */
  kl: number;
  /** The perplexity used. */
  perplexity: number;
}

/** Sparse symmetric joint probabilities, CSR. */
export interface JointP {
  /** Row starts [N + 1]. */
  rowStart: Int32Array;
  /** Column of each entry. */
  col: Int32Array;
  /** p_ij (sums to 1 over all entries). */
  value: Float64Array;
}

/**
 * P_j|i over each point's neighbours with the bandwidth that gives
 * perplexity `perp`, symmetrized into joint probabilities.
 */
export function jointProbabilities(knn: Knn, perp: number): JointP {
  const n = knn.indices.length;
  const target = Math.log(perp);
  const rows: Map<number, number>[] = Array.from({ length: n }, () => new Map());
  for (let i = 0; i < n; i++) {
    const d2 = knn.distances[i].map((d) => d * d);
    const k = d2.length;
    const dmin = k ? Math.min(...d2) : 0;
    let beta = 1, lo = 0, hi = Infinity;
    const p = new Float64Array(k);
    for (let step = 0; step < 200; step++) {
      let sum = 0, dot = 0;
      for (let j = 0; j < k; j++) {
        p[j] = Math.exp(-beta * (d2[j] - dmin)); // shifted by dmin: same ratios, no underflow
        sum += p[j];
        dot += (d2[j] - dmin) * p[j];
      }
      const entropy = Math.log(sum) + beta * dot / sum;
      for (let j = 0; j < k; j++) p[j] /= sum;
      if (Math.abs(entropy - target) < 1e-10) break;
      if (entropy > target) { // too flat: narrow the Gaussian
        lo = beta;
        beta = hi === Infinity ? beta * 2 : (beta + hi) / 2;
      } else {
        hi = beta;
        beta = (beta + lo) / 2;
      }
    }
    for (let j = 0; j < k; j++) {
      const nb = knn.indices[i][j];
      const v = p[j] / (2 * n);
      rows[i].set(nb, (rows[i].get(nb) ?? 0) + v);
      rows[nb].set(i, (rows[nb].get(i) ?? 0) + v);
    }
  }
  const rowStart = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) rowStart[i + 1] = rowStart[i] + rows[i].size;
  const col = new Int32Array(rowStart[n]);
  const value = new Float64Array(rowStart[n]);
  for (let i = 0; i < n; i++) {
    const entries = [...rows[i].entries()].sort((a, b) => a[0] - b[0]);
    entries.forEach(([j, v], e) => {
      col[rowStart[i] + e] = j;
      value[rowStart[i] + e] = v;
    });
  }
  return { rowStart, col, value };
}

/** 2-D t-SNE of the rows of x [N, D]. */
export function tsne(
  x: ArrayLike<number>,
  rows: number,
  dims: number,
  opts: TsneOptions = {},
): TsneResult {
  if (rows < 4) throw new RangeError(`t-SNE needs at least 4 points, got ${rows}`);
  const perp = Math.min(opts.perplexity ?? 30, (rows - 1) / 3);
  const k = Math.min(rows - 1, Math.floor(3 * perp));
  const knn = opts.knn ?? exactKnn(x, rows, dims, k);
  if (knn.indices.length !== rows) throw new RangeError("t-SNE: knn rows do not match the data");
  const P = jointProbabilities({
    indices: knn.indices.map((r) => r.slice(0, k)),
    distances: knn.distances.map((r) => r.slice(0, k)),
  }, perp);
  const iterations = opts.iterations ?? 1000;
  const ee = opts.earlyExaggeration ?? 12;
  const eeIters = opts.exaggerationIterations ?? 250;
  const lr = opts.learningRate ?? Math.max(rows / ee / 4, 50);
  const theta = opts.theta ?? 0.5;

  const g = gaussian(mulberry32(opts.seed ?? 0));
  const y = Float64Array.from({ length: 2 * rows }, () => 1e-4 * g());
  const update = new Float64Array(2 * rows);
  const gains = new Float64Array(2 * rows).fill(1);
  const fx = new Float64Array(rows), fy = new Float64Array(rows);
  const grad = new Float64Array(2 * rows);
  let z = 1;
  for (let it = 0; it < iterations; it++) {
    const exaggeration = it < eeIters ? ee : 1;
    const momentum = it < eeIters ? 0.5 : 0.8;
    z = repulsion(y, rows, theta, fx, fy);
    for (let i = 0; i < rows; i++) {
      let ax = 0, ay = 0;
      for (let e = P.rowStart[i]; e < P.rowStart[i + 1]; e++) {
        const j = P.col[e];
        const dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
        const pq = P.value[e] / (1 + dx * dx + dy * dy);
        ax += pq * dx;
        ay += pq * dy;
      }
      grad[2 * i] = 4 * (exaggeration * ax - fx[i] / z);
      grad[2 * i + 1] = 4 * (exaggeration * ay - fy[i] / z);
    }
    for (let t = 0; t < 2 * rows; t++) {
      // Delta-bar-delta gains: grow while the gradient keeps pushing the same way.
      gains[t] = Math.sign(grad[t]) !== Math.sign(update[t]) ? gains[t] + 0.2 : gains[t] * 0.8;
      if (gains[t] < 0.01) gains[t] = 0.01;
      update[t] = momentum * update[t] - lr * gains[t] * grad[t];
      y[t] += update[t];
    }
    let mx = 0, my = 0;
    for (let i = 0; i < rows; i++) {
      mx += y[2 * i] / rows;
      my += y[2 * i + 1] / rows;
    }
    for (let i = 0; i < rows; i++) {
      y[2 * i] -= mx;
      y[2 * i + 1] -= my;
    }
  }
  z = repulsion(y, rows, theta, fx, fy);
  let kl = 0;
  for (let i = 0; i < rows; i++) {
    for (let e = P.rowStart[i]; e < P.rowStart[i + 1]; e++) {
      const j = P.col[e];
      const dx = y[2 * i] - y[2 * j], dy = y[2 * i + 1] - y[2 * j + 1];
      const q = 1 / (1 + dx * dx + dy * dy) / z;
      if (P.value[e] > 0) kl += P.value[e] * Math.log(P.value[e] / Math.max(q, 1e-300));
    }
  }
  return { coords: Float32Array.from(y), kl, perplexity: perp };
}
