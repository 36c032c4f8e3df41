/**
 * A synthetic but realistic report input for the report tests: seeded logits
 * of an overconfident classifier, metrics from the real metrics code
 * (src/metrics), curves of the worst classes, thumbnails, explanation
 * overlays, an embedding and a few failed images.
 */
import { CIFAR10_CLASSES } from "../src/data/datasets.ts";
import { computeMetricsFromArrays } from "../src/metrics/report.ts";
import { calibrationSplitReport } from "../src/metrics/calibration_split.ts";
import { CALIBRATION_METHODS } from "../src/metrics/calibrators/index.ts";
import { turbo } from "../src/report/colormap.ts";
import { curvesFromScores } from "../src/report/curves.ts";
import type { ClassCurves, RasterImage, ReportInput } from "../src/report/types.ts";
import { rng } from "./_helpers.ts";

/** Class names: CIFAR-10 names (one made very long) for C ≤ 10, else "synset_k ...". */
export function sampleClassNames(C: number): string[] {
  if (C <= 10) {
    const names = CIFAR10_CLASSES.slice(0, C);
    if (C > 3) names[3] = "domestic cat, house cat, Felis domesticus, Felis catus <tabby> & co";
    return names;
  }
  return Array.from(
    { length: C },
    (_, k) => `n${String(1000000 + k * 7919).padStart(8, "0")} class ${k}`,
  );
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** A 64×64 synthetic "photo": a tinted gradient with a disc whose position depends on the class. */
function thumbnail(k: number, seed: number): RasterImage {
  const w = 64, h = 64, data = new Uint8Array(w * h * 3);
  const r = rng(seed);
  const hue = turbo((k * 0.618) % 1);
  const cx = 16 + r() * 32, cy = 16 + r() * 32;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 3;
      const inDisc = (x - cx) ** 2 + (y - cy) ** 2 < 120;
      for (let c = 0; c < 3; c++) {
        const base = 90 + 100 * (y / h) + 20 * Math.sin(x / 5 + c);
        data[o + c] = Math.max(0, Math.min(255, inDisc ? hue[c] : base * 0.6 + hue[c] * 0.25));
      }
    }
  }
  return { width: w, height: h, data };
}

/** The thumbnail blended with a turbo-colored Gaussian heat blob. */
function overlay(img: RasterImage, seed: number): RasterImage {
  const r = rng(seed);
  const cx = r() * img.width, cy = r() * img.height, s = 10 + r() * 10;
  const out = new Uint8Array(img.data.length);
  for (let y = 0; y < img.height; y++) {
    for (let x = 0; x < img.width; x++) {
      const v = Math.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s * s));
      const col = turbo(v);
      const o = (y * img.width + x) * 3;
      for (let c = 0; c < 3; c++) out[o + c] = Math.round(0.5 * img.data[o + c] + 0.5 * col[c]);
    }
  }
  return { width: img.width, height: img.height, data: out };
}

/** Options of `sampleReport`. */
export interface SampleOptions {
  /** Classes (default 10). */
  numClasses?: number;
  /** Samples (default 600). */
  numSamples?: number;
  /** Seed (default 1). */
  seed?: number;
  /** Include thumbnails, explanations and embedding (default true). */
  images?: boolean;
  /** Fit a temperature (default: C ≤ 100; costly for many classes). */
  calibrate?: boolean;
}

/** A full report input from seeded synthetic logits. */
export function sampleReport(opts: SampleOptions = {}): ReportInput {
  const C = opts.numClasses ?? 10, n = opts.numSamples ?? 600, seed = opts.seed ?? 1;
  const r = rng(seed);
  const labels = new Int32Array(n);
  const logits = new Float64Array(n * C);
  const weights = Array.from({ length: C }, (_, k) => 1 / (1 + (3 * k) / C));
  const totalWeight = weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < n; i++) {
    // Imbalanced classes: class k has weight ∝ 1 / (1 + 3k / C) (about 4:1 first to last).
    let u = r() * totalWeight, k = 0;
    while (k < C - 1 && u > weights[k]) u -= weights[k++];
    labels[i] = k;
    for (let c = 0; c < C; c++) {
      // Overconfident: the logit scale is larger than the evidence supports.
      logits[i * C + c] = 3 * (2.2 * (c === labels[i] ? 1 : 0) + 1.1 * gaussian(r));
    }
  }
  const metrics = computeMetricsFromArrays(labels, logits, {
    numClasses: C,
    input: "logits",
    temperatureScaling: opts.calibrate ?? C <= 100,
    bootstrap: C <= 100 ? 100 : 0,
  });
  // Every calibration method on a split (the report's "Calibration methods" section).
  const calibrationSplit = C <= 100
    ? calibrationSplitReport(logits, labels, C, { fraction: 0.5, methods: CALIBRATION_METHODS })
    : undefined;
  // Per-sample probabilities for curves and predictions.
  const probs = new Float64Array(n * C), pred = new Int32Array(n), conf = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[i * C + c]);
    let s = 0;
    for (let c = 0; c < C; c++) s += probs[i * C + c] = Math.exp(logits[i * C + c] - m);
    for (let c = 0; c < C; c++) {
      probs[i * C + c] /= s;
      if (probs[i * C + c] > conf[i]) {
        conf[i] = probs[i * C + c];
        pred[i] = c;
      }
    }
  }
  const auroc = metrics.auroc.per_class;
  const worst = Array.from({ length: C }, (_, k) => k)
    .filter((k) => auroc[k] !== null)
    .sort((a, b) => (auroc[a] ?? 1) - (auroc[b] ?? 1))
    .slice(0, 4);
  const curves: ClassCurves[] = worst.map((k) => {
    const scores = Array.from({ length: n }, (_, i) => probs[i * C + k]);
    const pos = Array.from(labels, (y) => y === k);
    const c = curvesFromScores(scores, pos);
    return { class: k, roc: c.roc, pr: c.pr, auroc: c.auroc, auprc: c.auprc };
  });
  const wrong = Array.from({ length: n }, (_, i) => i).filter((i) => pred[i] !== labels[i])
    .sort((a, b) => conf[b] - conf[a]);
  const images = opts.images ?? true;
  const mistakes = wrong.slice(0, 12).map((i) => ({
    path: `data/val/${sampleClassNames(C)[labels[i]].split(",")[0]}/img_${
      String(i).padStart(5, "0")
    }.jpg`,
    label: labels[i],
    pred: pred[i],
    confidence: conf[i],
    thumbnail: images ? thumbnail(labels[i], seed * 1000 + i) : undefined,
  }));
  const explanations = images
    ? wrong.slice(0, 4).map((i) => {
      const img = thumbnail(labels[i], seed * 1000 + i);
      return {
        path: `data/val/img_${i}.jpg`,
        method: "gradcam",
        class: pred[i],
        overlay: overlay(img, i),
        image: img,
        label: labels[i],
        pred: pred[i],
        confidence: conf[i],
      };
    })
    : undefined;
  const centers = Array.from({ length: C }, (_, k) => [
    Math.cos((2 * Math.PI * k) / C) * 10,
    Math.sin((2 * Math.PI * k) / C) * 10,
  ]);
  const embedding = images
    ? {
      method: "pca",
      points: Array.from({ length: n }, (_, i) => ({
        x: centers[pred[i]][0] * 0.7 + centers[labels[i]][0] * 0.3 + 1.6 * gaussian(r),
        y: centers[pred[i]][1] * 0.7 + centers[labels[i]][1] * 0.3 + 1.6 * gaussian(r),
        label: labels[i],
        pred: pred[i],
        path: `img_${i}.jpg`,
      })),
    }
    : undefined;
  return {
    metrics: {
      ...metrics,
      calibration_split: calibrationSplit,
      failed: [
        {
          path: "data/val/broken, truncated.jpg",
          reason: "JPEG decode error: premature end of data",
        },
        { path: "data/val/<script>alert(1)</script>.png", reason: "not an image" },
      ],
    },
    classNames: sampleClassNames(C),
    curves,
    mistakes,
    explanations,
    embedding,
    meta: {
      model: { path: "models/resnet20_cifar10", architecture: "resnet", parameters: 272474 },
      data: "data/cifar10/val",
      adapter: "llvmpipe (Mesa lavapipe)",
      timings: { total_s: 12.5, images_per_s: 48 },
      version: "0.1.0",
    },
  };
}
