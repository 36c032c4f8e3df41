/** Synthetic data for the embedding tests. */
import { exactKnn } from "../src/explain/knn.ts";
import { gaussian, mulberry32 } from "../src/random.ts";

/** `clusters` Gaussian blobs in `dims` dimensions, `per` points each; returns data and labels. */
export function blobs(
  clusters: number,
  per: number,
  dims: number,
  seed: number,
  spread = 0.3,
): { x: Float32Array; labels: number[]; rows: number } {
  const g = gaussian(mulberry32(seed));
  const x = new Float32Array(clusters * per * dims);
  const labels: number[] = [];
  for (let c = 0; c < clusters; c++) {
    const centre = Array.from({ length: dims }, () => 3 * g());
    for (let i = 0; i < per; i++) {
      const r = c * per + i;
      for (let t = 0; t < dims; t++) x[r * dims + t] = centre[t] + spread * g();
      labels.push(c);
    }
  }
  return { x, labels, rows: clusters * per };
}

/** Share of points whose nearest 2-D neighbour has the same label. */
export function neighbourPurity(coords: ArrayLike<number>, labels: number[]): number {
  const knn = exactKnn(coords, labels.length, 2, 1);
  return knn.indices.filter((nb, i) => labels[nb[0]] === labels[i]).length / labels.length;
}
