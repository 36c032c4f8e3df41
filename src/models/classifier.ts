/**
 * What every classifier shares, whatever its family: metadata (`path` is
 * always the checkpoint folder), the notes saying what loading inferred or
 * assumed, `predict`, and splitting a batch into chunks whose largest
 * activation fits the adapter's storage-binding limit. A family's model
 * extends {@link Classifier} and writes only `forwardBatch` (the network on
 * one chunk), `activationBytesPerImage` and `dispose`.
 */
import { dirname, join } from "node:path";
import { type Engine, fmtBytes } from "../gpu/engine.ts";
import { GpuLimitError, ModelLayoutError, VisionEvalError } from "../errors.ts";
import type { Tensor } from "../tensor.ts";
import type { ClassifierModel, ForwardOptions, ForwardResult, ModelPreprocess } from "./model.ts";
import { inputSizeFromConfig, labelsFromConfig, type ModelFiles } from "./config.ts";
import type { ClassifierHead } from "../nn/head.ts";
import {
  predict as predictImages,
  type PredictInput,
  type Prediction,
  type PredictOptions,
} from "../predict.ts";

/** What a family hands the base class about a loaded checkpoint. */
export interface ClassifierMeta {
  /** The checkpoint folder. */
  path: string;
  /** Number of classes. */
  numClasses: number;
  /** Input size [H, W] the checkpoint was trained for. */
  inputSize: [number, number];
  /** Input channels (3 for RGB). */
  inChannels: number;
  /** Class names, when the checkpoint has them. */
  labels?: string[];
  /** config.json plus what was inferred, under the family's name. */
  config: Record<string, unknown>;
  /** Preprocessing the checkpoint asks for. */
  preprocess?: ModelPreprocess;
  /** What loading inferred or assumed, one sentence each (printed in the run header). */
  notes?: string[];
}

/**
 * The metadata every family derives the same way from a checkpoint folder:
 * `config` is config.json (+ the processor config) with the family's
 * inferred description under its name, the input size the folder states (or
 * `fallbackSize`), class names from the config.
 */
export function checkpointMeta(
  files: ModelFiles,
  o: {
    family: string;
    description: Record<string, unknown>;
    numClasses: number;
    notes: string[];
    fallbackSize: [number, number];
    preprocess: ModelPreprocess;
  },
): Omit<ClassifierMeta, "numClasses" | "inChannels"> {
  const processor = files.preprocessorConfig
    ? { preprocessor_config: files.preprocessorConfig }
    : {};
  return {
    path: files.dir,
    notes: o.notes,
    config: { ...files.config, ...processor, [o.family]: o.description },
    inputSize: inputSizeFromConfig({ ...files.config, ...processor }, o.fallbackSize),
    labels: labelsFromConfig(files.config, o.numClasses, join(files.dir, "config.json")),
    preprocess: o.preprocess,
  };
}

/** What a family's `fromFile` is given: {@link checkpointMeta}'s result (`path` optional). */
export type LoaderMeta = Omit<ClassifierMeta, "numClasses" | "inChannels" | "path"> & {
  path?: string;
};

/**
 * Completes loader metadata from the spec: its head's classes and input
 * channels, and the weights file's folder when no `path` is given.
 */
export function completeMeta(
  meta: LoaderMeta,
  weightsPath: string,
  spec: { head: { numClasses: number }; inChannels: number },
): ClassifierMeta {
  return {
    ...meta,
    path: meta.path ?? dirname(weightsPath),
    numClasses: spec.head.numClasses,
    inChannels: spec.inChannels,
  };
}

const BATCHED_OUTPUTS = [
  "logits",
  "features",
  "featureMap",
  "attention",
  "clsAttentionHeads",
] as const;

/** The base of every family's model. */
export abstract class Classifier implements ClassifierModel {
  /** Family name, e.g. "resnet". */
  abstract readonly architecture: string;
  /** Output classes. */
  readonly numClasses: number;
  /** Input size [H, W] the checkpoint was trained for. */
  readonly inputSize: [number, number];
  /** Input channels. */
  readonly inChannels: number;
  /** Class names, when the checkpoint has them. */
  readonly labels?: string[];
  /** config.json plus the inferred network description. */
  readonly config: Record<string, unknown>;
  /** The checkpoint folder. */
  readonly path: string;
  /** Preprocessing, when known. */
  readonly preprocess?: ModelPreprocess;
  /** What loading inferred or assumed from the checkpoint (evidence stated). */
  readonly notes: string[];
  /** The engine {@link loadModel} loaded the model on (runs default to it). */
  engine?: Engine;
  /**
   * Largest tensor, in bytes, one pass may produce. Defaults to the adapter's
   * storage binding limit; lower it to cap memory per pass (or to test chunking).
   */
  maxTensorBytes?: number;
  /** Set by {@link dispose}. */
  protected disposed = false;

  /** Stores the metadata. */
  constructor(meta: ClassifierMeta) {
    this.numClasses = meta.numClasses;
    this.inputSize = meta.inputSize;
    this.inChannels = meta.inChannels;
    this.labels = meta.labels;
    this.config = meta.config;
    this.path = meta.path;
    this.preprocess = meta.preprocess;
    this.notes = meta.notes ?? [];
  }

  /** Host copy of the classifier weight [C, D] (first head layer for a deeper head). */
  abstract classifierWeight(): Float32Array;

  /**
   * The largest tensor one `h` x `w` image produces anywhere in the
   * network, in bytes (the batch is split so no tensor exceeds the limit).
   */
  abstract activationBytesPerImage(h: number, w: number): number;

  /** The network on one chunk of images that fits the limits. */
  protected abstract forwardBatch(
    engine: Engine,
    pixels: Tensor,
    opts: ForwardOptions,
  ): ForwardResult;

  /** Frees the GPU weights. */
  abstract dispose(): void;

  /** How many images of `h` x `w` fit in one pass under {@link maxTensorBytes}. */
  maxBatch(engine: Engine, h: number, w: number): number {
    return Math.floor(this.#limit(engine) / this.activationBytesPerImage(h, w));
  }

  #limit(engine: Engine): number {
    return Math.min(this.maxTensorBytes ?? Infinity, engine.gpu.limits.maxStorageBufferBindingSize);
  }

  /**
   * Records the forward pass of `pixels` [B, C, H, W] (normalized). Batches
   * whose activations would exceed the adapter's binding limit run in chunks
   * whose outputs are copied into whole-batch tensors.
   */
  forward(engine: Engine, pixels: Tensor, opts: ForwardOptions = {}): ForwardResult {
    if (this.disposed) {
      throw new VisionEvalError(
        `${this.path}: the model was disposed (its GPU weights are freed); load it again with ` +
          `loadModel to run it`,
      );
    }
    if (pixels.shape.length !== 4 || pixels.shape[1] !== this.inChannels) {
      throw new ModelLayoutError(
        `${this.path}: input tensor "${pixels.label}" [${pixels.shape}] must be [B, ${this.inChannels}, ` +
          `H, W]` +
          (pixels.shape[1] === 3
            ? `: the model takes ${this.inChannels}-channel input, and images are decoded to ` +
              `RGB (3 channels); only 3-channel models can run on images`
            : ""),
      );
    }
    const [b, c, h, w] = pixels.shape;
    const chunk = this.maxBatch(engine, h, w);
    if (chunk < 1) {
      throw new GpuLimitError(
        `One ${h}x${w} image needs ${
          fmtBytes(this.activationBytesPerImage(h, w))
        } in a single activation tensor of ${this.path}, above the ${
          fmtBytes(this.#limit(engine))
        } one tensor may use on this adapter. Use smaller input images or a GPU with larger ` +
          `storage bindings.`,
      );
    }
    if (b <= chunk) return this.forwardBatch(engine, pixels, opts);

    const whole: Partial<Record<keyof ForwardResult, Tensor>> = {};
    const perImage = c * h * w * 4;
    for (let start = 0; start < b; start += chunk) {
      const n = Math.min(chunk, b - start);
      const x = engine.empty([n, c, h, w], "f32", `${this.architecture}-chunk`);
      engine.copy(pixels, x, n * perImage, start * perImage, 0);
      const r = this.forwardBatch(engine, x, opts);
      x.release();
      for (const key of BATCHED_OUTPUTS) {
        const part = r[key];
        if (!part) continue;
        const full = whole[key] ??= engine.empty([b, ...part.shape.slice(1)], "f32", key);
        const bytes = part.byteLength;
        engine.copy(part, full, bytes, 0, start * (bytes / n));
        part.release();
      }
    }
    return whole as ForwardResult;
  }

  /**
   * Top-k classes of images (paths or decoded), with this model's own
   * preprocessing; see {@link predict}.
   */
  predict(inputs: readonly PredictInput[], opts?: PredictOptions): Promise<Prediction[]> {
    return predictImages(this, inputs, opts);
  }
}

/**
 * A classifier whose head (src/nn/head.ts) reads pooled features: the CNN
 * families. The head gives the classifier weight and, for Grad-CAM, the
 * per-image gradient of a class score with respect to the pooled features.
 */
export abstract class PooledClassifier extends Classifier {
  /** The classifier head on the pooled features. */
  protected readonly head: ClassifierHead;

  /** Stores the metadata and the head. */
  constructor(meta: ClassifierMeta, head: ClassifierHead) {
    super(meta);
    this.head = head;
  }

  /** Host copy of the classifier weight [numClasses, features] (first layer of an MLP head). */
  classifierWeight(): Float32Array {
    return this.head.firstWeight();
  }

  /** d logit[class] / d pooled features, per image [B, features] (float64 on the host). */
  classScoreGradient(features: Float32Array, classes: ArrayLike<number>): Float32Array {
    return this.head.classScoreGradient(features, classes);
  }

  /** Width of the pooled features (the head's input). */
  get featureDim(): number {
    return this.head.spec.features;
  }
}
