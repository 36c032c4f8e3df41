/**
 * Predictions for individual images: decode, preprocess with the model's
 * pipeline, one forward pass per batch, top-k on the GPU, one readback.
 */
import { Engine } from "./gpu/engine.ts";
import type { ClassifierModel } from "./models/model.ts";
import { ImageDecodeError, readImage, type RgbImage } from "./data/decode.ts";
import {
  normalizationTable,
  pipelineOutputSize,
  preprocess,
  resizedSize,
} from "./data/preprocess.ts";
import type { PreprocessOverrides } from "./data/preprocess.ts";
import { topk as topkOp, TOPK_MAX } from "./ops/topk.ts";
import { integerOption } from "./options.ts";
import { modelClasses, modelPipeline } from "./models/pipeline.ts";
import { DataError, ModelLayoutError } from "./errors.ts";
import type { Calibrator } from "./metrics/calibrators/common.ts";

/** An image to classify: a file path, or decoded pixels with a name. */
export type PredictInput = string | { path: string; image: RgbImage };

/** The top-k classes of one image. */
export interface Prediction {
  /** The image path (or given name). */
  path: string;
  /** Top-k classes, most probable first. */
  top: { class: number; name: string; probability: number }[];
}

/** Options of {@link predict}. */
export interface PredictOptions {
  /** How many classes per image (1..10, default 5; all of them for a model with fewer). */
  topk?: number;
  /** Images per forward pass (default 16). */
  batch?: number;
  /** Overrides of the model's preprocessing. */
  preprocess?: PreprocessOverrides;
  /** GPU engine (default: the one the model was loaded on, else a new one). */
  engine?: Engine;
  /**
   * A fitted calibrator (`readCalibrator`): the probabilities are its output
   * (logits read back, top-k on the host) instead of the GPU softmax.
   */
  calibrator?: Calibrator;
  /**
   * When given, images that cannot be decoded are skipped and listed here
   * (path + reason) instead of raising a DataError.
   */
  failed?: { path: string; reason: string }[];
}

/**
 * Classifies images with a loaded model. Images that cannot be decoded raise
 * a DataError naming the file (use `evaluate` to skip and count them).
 */
export async function predict(
  model: ClassifierModel,
  inputs: readonly PredictInput[],
  opts: PredictOptions = {},
): Promise<Prediction[]> {
  requireSoftmaxClassifier(model);
  const engine = opts.engine ?? model.engine ?? await Engine.create();
  const cfg = modelPipeline(model, opts.preprocess);
  const table = normalizationTable(cfg);
  // A model with fewer classes than asked for gives all of them.
  const k = Math.min(integerOption(opts.topk, "topk", 1, TOPK_MAX) ?? 5, model.numClasses);
  const batch = integerOption(opts.batch, "batch", 1, 2 ** 20) ?? 16;
  const names = modelClasses(model).names;
  const out: Prediction[] = [];
  for (let start = 0; start < inputs.length; start += batch) {
    const group = inputs.slice(start, start + batch);
    const read = await Promise.all(group.map(async (s) => {
      if (typeof s !== "string") return s;
      try {
        return { path: s, image: await readImage(s) };
      } catch (e) {
        if (!opts.failed || !(e instanceof ImageDecodeError)) throw e;
        return { path: s, reason: e.reason };
      }
    }));
    // Failures listed in input order (the reads finish in any order).
    for (const r of read) if ("reason" in r) opts.failed!.push(r);
    const decoded = read.filter((d) => "image" in d);
    if (decoded.length === 0) continue;
    // Without a crop, aspect-preserving pipelines give each image its own size.
    const fixed = pipelineOutputSize(cfg);
    const sizes = decoded.map((d) => {
      const px = preprocess(d.image, cfg, undefined, 0, table);
      // [H, W] of this image after the pipeline (the resized size when nothing crops).
      const [rw, rh] = resizedSize(cfg, d.image.width, d.image.height);
      const hw: [number, number] = fixed ?? [rh, rw];
      return { d, px, hw };
    });
    const runs = fixed ? [sizes] : sizes.map((x) => [x]);
    for (const run of runs) {
      const per = run[0].px.length;
      if (run.some((r) => r.px.length !== per)) {
        throw new DataError(`images of one batch preprocessed to different sizes; set --crop`);
      }
      const [h, w] = run[0].hw;
      const pixels = new Float32Array(per * run.length);
      run.forEach((r, i) => pixels.set(r.px, i * per));
      const x = engine.upload(pixels, [run.length, 3, h, w], "pixels");
      const { logits } = model.forward(engine, x, {});
      let idx: ArrayLike<number>, prob: ArrayLike<number>;
      if (opts.calibrator) {
        const [z] = await engine.read(logits);
        [idx, prob] = topkRows(opts.calibrator.apply(z), model.numClasses, k);
        for (const t of [x, logits]) t.release();
      } else {
        const tk = topkOp(engine, logits, k);
        [idx, prob] = await engine.read(tk.indices, tk.probs);
        for (const t of [x, logits, tk.indices, tk.probs]) t.release();
      }
      await engine.tuneKernels(); // GPU kernel path: once per new shape
      run.forEach((r, i) => {
        out.push({
          path: r.d.path,
          top: Array.from({ length: k }, (_, j) => {
            const c = idx[i * k + j];
            return { class: c, name: names[c] || String(c), probability: prob[i * k + j] };
          }),
        });
      });
    }
  }
  return out;
}

/** Top-k of each row of probabilities [n, C] (ties: lower class first, as the GPU top-k). */
function topkRows(p: Float64Array, C: number, k: number): [Int32Array, Float64Array] {
  const n = p.length / C, idx = new Int32Array(n * k), prob = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const order = Array.from({ length: C }, (_, c) => c)
      .sort((a, b) => p[i * C + b] - p[i * C + a] || a - b);
    for (let j = 0; j < k; j++) {
      idx[i * k + j] = order[j];
      prob[i * k + j] = p[i * C + order[j]];
    }
  }
  return [idx, prob];
}

/**
 * Refuses a model with fewer than two outputs: the softmax of a single logit
 * is always 1, so its "predictions" and every metric would be meaningless
 * (a sigmoid / binary or regression head needs other evaluation).
 */
export function requireSoftmaxClassifier(model: ClassifierModel): void {
  if (model.numClasses >= 2) return;
  throw new ModelLayoutError(
    `${model.path} has ${model.numClasses} output${model.numClasses === 1 ? "" : "s"} (a ` +
      `sigmoid/binary or regression head): softmax over it is always 1, so predictions and ` +
      `metrics would be meaningless. visioneval evaluates classifiers with 2 or more classes.`,
  );
}
