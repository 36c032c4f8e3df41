/**
 * Side by side with scikit-learn: runs our PCA on the features written by
 * bench/peers/pca_sklearn.py and compares coordinates (up to each axis's
 * sign, which PCA leaves open) and explained-variance ratios.
 *
 *   /usr/bin/python3 bench/peers/pca_sklearn.py /tmp/pcapeer
 *   deno run -A bench/peers/pca_compare.ts /tmp/pcapeer
 */
import { Engine } from "../../src/gpu/engine.ts";
import { pca } from "../../src/explain/pca.ts";

const dir = Deno.args[0] ?? "/tmp/pcapeer";
const info = JSON.parse(await Deno.readTextFile(`${dir}/sklearn.json`));
const { rows, dims } = info;
const x = new Float32Array((await Deno.readFile(`${dir}/features.f32`)).buffer);
const ref = new Float64Array((await Deno.readFile(`${dir}/sklearn_coords.f64`)).buffer);
const engine = await Engine.create();
await pca(engine, x, rows, dims, { components: 2 }); // warm-up: pipeline compilation
const times: number[] = [];
let r;
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  r = await pca(engine, x, rows, dims, { components: 2 });
  times.push((performance.now() - t0) / 1000);
}
let worst = 0;
for (let c = 0; c < 2; c++) {
  let dot = 0, scale = 0;
  for (let i = 0; i < rows; i++) dot += r!.coords[2 * i + c] * ref[2 * i + c];
  const sign = Math.sign(dot) || 1;
  let d = 0;
  for (let i = 0; i < rows; i++) {
    d = Math.max(d, Math.abs(sign * r!.coords[2 * i + c] - ref[2 * i + c]));
    scale = Math.max(scale, Math.abs(ref[2 * i + c]));
  }
  worst = Math.max(worst, d / scale);
}
console.log(JSON.stringify({
  visioneval_seconds_best_of_3: Math.min(...times),
  sklearn_seconds_best_of_3: info.seconds,
  coords_max_rel_diff: worst,
  explained_variance_ratio: r!.explainedVarianceRatio,
  sklearn_ratio: info.explained_variance_ratio,
  adapter: engine.gpu.info.description,
}));
