/**
 * Explanations and embeddings: what they cost.
 *
 * - Grad-CAM maps/s for a batch against the forward pass alone (ResNet-20
 *   CIFAR from the fixtures, 32x32, and the tiny HF ResNet at 112x112): both
 *   include the upload and one readback (logits; logits + maps), so the
 *   difference is the feature-map tap plus the two Grad-CAM dispatches.
 *   Also the whole `explainPixels` (overlays + PNG encoding on the host),
 *   and the host overlay + PNG cost per image at 32, 112 and 224 pixels.
 * - PCA of 10,000 x 768 features: GPU covariance (GFLOP/s) plus the float64
 *   top-2 eigenvectors on the host, and the projection.
 * - t-SNE and UMAP of 2,000 points in 50-D.
 *
 * `deno bench -A bench/explain_bench.ts`. Each case measures itself (median
 * of 3 runs after a warm-up that compiles the pipelines) on its first call
 * only (deno bench may call a case more than once; later calls return at
 * once), and the module prints one rate line per case at the end, since
 * `deno bench` only reports time per iteration.
 * VISIONEVAL_BENCH_BATCH sets the Grad-CAM batch (default 32).
 */
import { Engine } from "../src/gpu/engine.ts";
import { loadModel } from "../src/models/load.ts";
import type { ClassifierModel } from "../src/models/model.ts";
import { argmaxRows, gradCam } from "../src/explain/gradcam.ts";
import { explainPixels } from "../src/explain/explain.ts";
import { covarianceGpu, pca } from "../src/explain/pca.ts";
import { tsne } from "../src/explain/tsne.ts";
import { umap } from "../src/explain/umap.ts";
import { exactKnn } from "../src/explain/knn.ts";
import { gaussian, mulberry32 } from "../src/random.ts";
import { overlayMap } from "../src/explain/overlay.ts";
import { encodePng } from "../src/report/png.ts";
import { fixture, HAVE_FIXTURES, randomF32 } from "../tests/_helpers.ts";

const engine = await Engine.create();
const device = engine.gpu.info.description;
const lines: string[] = [];
const B = Number(Deno.env.get("VISIONEVAL_BENCH_BATCH") ?? "32");
const REPEAT = 3;
const measured = new Set<string>();

/** True the first time a case asks: later calls of the same case skip the work. */
function firstCall(name: string): boolean {
  if (measured.has(name)) return false;
  measured.add(name);
  return true;
}

/** Median seconds of `fn` over `n` runs after one warm-up. */
async function timeIt(fn: () => Promise<void>, n = REPEAT): Promise<number> {
  await fn();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await fn();
    t.push((performance.now() - t0) / 1000);
  }
  return t.sort((a, b) => a - b)[Math.floor(n / 2)];
}

async function camCases(name: string, model: ClassifierModel, size: number): Promise<void> {
  const pixels = randomF32(B * 3 * size * size, 7);
  const weight = engine.upload(
    model.classifierWeight(),
    [
      model.numClasses,
      model.classifierWeight().length / model.numClasses,
    ],
    "classifier",
    true,
  );
  const forward = async () => {
    const x = engine.upload(pixels, [B, 3, size, size]);
    const out = model.forward(engine, x);
    await engine.read(out.logits);
    out.logits.release();
    x.release();
  };
  const forwardCam = async () => {
    const x = engine.upload(pixels, [B, 3, size, size]);
    const out = model.forward(engine, x, { featureMap: true });
    const cls = argmaxRows(engine, out.logits);
    const cam = gradCam(engine, out.featureMap!, weight, cls);
    await engine.read(out.logits, cam.maps);
    cam.release();
    for (const t of [out.logits, out.featureMap!, cls, x]) t.release();
  };
  const explain = async () => {
    await explainPixels(engine, model, pixels, [B, 3, size, size], {
      method: "gradcam",
      normalization: { mean: [0, 0, 0], std: [1, 1, 1] },
    });
  };
  // Interleaved, so that load from other processes hits all three alike.
  await forward();
  await forwardCam();
  await explain();
  const tf: number[] = [], tc: number[] = [], te: number[] = [];
  for (let r = 0; r < 2 * REPEAT - 1; r++) {
    let t0 = performance.now();
    await forward();
    tf.push((performance.now() - t0) / 1000);
    t0 = performance.now();
    await forwardCam();
    tc.push((performance.now() - t0) / 1000);
    t0 = performance.now();
    await explain();
    te.push((performance.now() - t0) / 1000);
  }
  const median = (a: number[]) => a.sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const forwardOnly = median(tf), withCam = median(tc), full = median(te);
  // Grad-CAM dispatches alone on a feature map already on the GPU (many
  // batches per submit so the timing is not dominated by the readback).
  const x = engine.upload(pixels, [B, 3, size, size]);
  const out = model.forward(engine, x, { featureMap: true });
  const cls = argmaxRows(engine, out.logits);
  const reps = 50;
  const camOnly = await timeIt(async () => {
    let last;
    for (let r = 0; r < reps; r++) {
      last?.release();
      last = gradCam(engine, out.featureMap!, weight, cls, { plusPlus: true });
    }
    await engine.read(last!.maps);
    last!.release();
  }) / reps;
  const [, K, h, w] = out.featureMap!.shape;
  for (const t of [out.logits, out.featureMap!, cls, x]) t.release();
  lines.push(
    `${name} batch ${B} (${size}x${size}, feature map ${K}x${h}x${w}): forward ${
      (B / forwardOnly).toFixed(1)
    } img/s; forward + Grad-CAM ${(B / withCam).toFixed(1)} maps/s (${
      ((withCam / forwardOnly - 1) * 100).toFixed(1)
    }% over forward); Grad-CAM++ kernels alone ${(B / camOnly).toFixed(0)} maps/s ` +
      `(${(camOnly * 1000).toFixed(2)} ms/batch); explainPixels with overlays + PNG ${
        (B / full).toFixed(1)
      } maps/s`,
  );
  weight.release();
}

if (HAVE_FIXTURES) {
  for (
    const [name, dir, size] of [
      ["ResNet-20 CIFAR", fixture("models", "resnet-cifar10", "resnet20"), 32],
      ["tiny HF ResNet (basic)", fixture("models", "resnet-tiny-hf-basic"), 112],
    ] as const
  ) {
    Deno.bench({
      name: `Grad-CAM vs forward: ${name}, batch ${B}`,
      group: "gradcam",
      n: 1,
      warmup: 0,
      fn: async () => {
        if (!firstCall(name)) return;
        const model = await loadModel(dir, engine);
        await camCases(name, model, size);
        model.dispose();
      },
    });
  }
}

Deno.bench({
  name: "overlay + PNG per image (host)",
  group: "overlay",
  n: 1,
  warmup: 0,
  fn: () => {
    if (!firstCall("overlay")) return;
    const parts: string[] = [];
    for (const [s, m] of [[32, 8], [112, 4], [224, 7]]) {
      const img = { width: s, height: s, data: new Uint8Array(s * s * 3).fill(120) };
      const map = { width: m, height: m, data: randomF32(m * m, s) };
      for (let i = 0; i < 10; i++) encodePng(overlayMap(map, img));
      const t0 = performance.now();
      for (let i = 0; i < 50; i++) encodePng(overlayMap(map, img));
      parts.push(`${s}x${s} ${((performance.now() - t0) / 50).toFixed(2)} ms`);
    }
    lines.push(`overlay (bilinear upsample, turbo, blend) + PNG per image: ${parts.join(", ")}`);
  },
});

/** 10,000 x 768 features with a decaying spectrum (like penultimate features). */
function features(rows: number, dims: number, seed: number): Float32Array {
  const g = gaussian(mulberry32(seed));
  const rank = 32;
  const basis = randomF32(rank * dims, seed + 1);
  const x = new Float32Array(rows * dims);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < rank; k++) {
      const z = g() * 4 / (k + 1);
      for (let d = 0; d < dims; d++) x[r * dims + d] += z * basis[k * dims + d];
    }
    for (let d = 0; d < dims; d++) x[r * dims + d] += 0.1 * g();
  }
  return x;
}

Deno.bench({
  name: "PCA of 10,000 x 768 features (GPU covariance + float64 top-2)",
  group: "pca",
  n: 1,
  warmup: 0,
  fn: async () => {
    if (!firstCall("pca")) return;
    const N = 10_000, D = 768;
    const x = features(N, D, 3);
    const t = engine.upload(x, [N, D], "features");
    const cov = await timeIt(async () => {
      const r = covarianceGpu(engine, t);
      await engine.read(r.mean);
      r.mean.release();
      r.cov.release();
    });
    let iterations = 0;
    const total = await timeIt(async () => {
      iterations = (await pca(engine, t, N, D, { components: 2 })).iterations;
    });
    t.release();
    const flops = 2 * N * D * D; // the full X_c^T X_c GEMM
    lines.push(
      `PCA 10,000 x 768: covariance ${(cov * 1000).toFixed(0)} ms (${
        (flops / cov / 1e9).toFixed(1)
      } GFLOP/s); whole PCA (covariance + readback + ${iterations} subspace ` +
        `iterations + projection) ${(total * 1000).toFixed(0)} ms = ${
          (N / total).toFixed(0)
        } samples/s`,
    );
  },
});

Deno.bench({
  name: "t-SNE and UMAP of 2,000 x 50",
  group: "projection",
  n: 1,
  warmup: 0,
  fn: () => {
    if (!firstCall("projection")) return;
    const N = 2000, D = 50;
    const x = features(N, D, 5);
    let t0 = performance.now();
    const knn = exactKnn(x, N, D, 90);
    const knnS = (performance.now() - t0) / 1000;
    t0 = performance.now();
    tsne(x, N, D, { knn, iterations: 1000 });
    const tsneS = (performance.now() - t0) / 1000;
    t0 = performance.now();
    umap(x, N, D, { knn });
    const umapS = (performance.now() - t0) / 1000;
    lines.push(
      `2,000 x 50: exact kNN (k=90) ${knnS.toFixed(2)} s; t-SNE 1000 iterations ${
        tsneS.toFixed(1)
      } s; UMAP (500 epochs) ${umapS.toFixed(1)} s (host CPU)`,
    );
  },
});

globalThis.addEventListener("unload", () => {
  for (const l of lines) console.log(`${l}  [${device}]`);
});
