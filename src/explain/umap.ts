/**
 * UMAP through umap-js (a maintained port of umap-learn), made reproducible:
 * its random source is our seeded PRNG (umap-js otherwise draws from
 * Math.random for the initial layout and the negative sampling), and the
 * neighbour graph is our exact k-NN (knn.ts) instead of umap-js's
 * randomized NN-descent, so the same seed gives the same coordinates.
 */
import { UMAP } from "umap-js";
import { exactKnn, type Knn } from "./knn.ts";
import { mulberry32 } from "../random.ts";

/** Options of {@link umap}. */
export interface UmapOptions {
  /** Neighbours per point, the point itself included as umap-learn counts (default 15). */
  nNeighbors?: number;
  /** Minimum distance between embedded points (default 0.1). */
  minDist?: number;
  /** Optimization epochs (default: umap-js's, from 500 at <= 2,500 points down to 200). */
  nEpochs?: number;
  /** Seed (default 0). */
  seed?: number;
  /** Precomputed neighbours (self excluded, at least nNeighbors - 1 per point). */
  knn?: Knn;
}

/** 2-D UMAP of the rows of x [N, D]; returns [N, 2] row-major. */
export function umap(
  x: ArrayLike<number>,
  rows: number,
  dims: number,
  opts: UmapOptions = {},
): Float32Array {
  const nNeighbors = Math.min(opts.nNeighbors ?? 15, rows - 1);
  if (nNeighbors < 2) throw new RangeError(`UMAP needs at least 3 points, got ${rows}`);
  const knn = opts.knn ?? exactKnn(x, rows, dims, nNeighbors - 1);
  // umap-js, like umap-learn, expects each point as its own first neighbour.
  const indices = knn.indices.map((nb, i) => [i, ...nb.slice(0, nNeighbors - 1)]);
  const distances = knn.distances.map((d) => [0, ...d.slice(0, nNeighbors - 1)]);
  const model = new UMAP({
    nComponents: 2,
    nNeighbors,
    minDist: opts.minDist ?? 0.1,
    random: mulberry32(opts.seed ?? 0),
    ...(opts.nEpochs ? { nEpochs: opts.nEpochs } : {}),
  });
  model.setPrecomputedKNN(indices, distances);
  const data: number[][] = [];
  for (let i = 0; i < rows; i++) data.push(Array.from({ length: dims }, (_, t) => x[i * dims + t]));
  const embedding = model.fit(data);
  const out = new Float32Array(rows * 2);
  embedding.forEach((p, i) => {
    out[2 * i] = p[0];
    out[2 * i + 1] = p[1];
  });
  return out;
}
