/**
 * The interface every classifier (ResNet, ViT, DeiT, ...) implements, so the
 * evaluation loop, the explainers and the CLI never need to know which
 * architecture a checkpoint holds.
 */
import type { Engine } from "../gpu/engine.ts";
import type { Tensor } from "../tensor.ts";
import type { PreprocessConfig } from "../data/preprocess.ts";
import type { PredictInput, Prediction, PredictOptions } from "../predict.ts";

/** How a model wants its images prepared (resize, crop, normalisation). */
export type ModelPreprocess = PreprocessConfig;

/** Which optional outputs ("taps") a forward pass should also return. */
export interface ForwardOptions {
  /** Pooled penultimate features [B, D] (ResNet: global-average-pooled; ViT: CLS token). */
  features?: boolean;
  /** Final-stage feature map [B, C, h, w] (ResNet), e.g. for Grad-CAM. */
  featureMap?: boolean;
  /** Head-mean attention probabilities per layer [B, L, T, T] (ViT). */
  attention?: boolean;
  /** Last layer's class-token attention row of every head [B, H, T] (ViT). */
  clsAttentionHeads?: boolean;
}

/**
 * Outputs of one forward pass. All tensors are on the GPU and owned by the
 * caller (release them when done).
 */
export interface ForwardResult {
  /** Class scores before softmax [B, C]. */
  logits: Tensor;
  /** Pooled features or CLS token [B, D], when requested. */
  features?: Tensor;
  /** Final-stage feature map [B, C, h, w], when requested (ResNet). */
  featureMap?: Tensor;
  /** Head-mean attention per layer [B, L, T, T], when requested (ViT). */
  attention?: Tensor;
  /**
   * Last layer's post-softmax attention of the class token (query 0) over
   * all T tokens, per head [B, H, T], when requested (ViT).
   */
  clsAttentionHeads?: Tensor;
}

/** A classifier loaded from a checkpoint folder, ready to run on the GPU. */
export interface ClassifierModel {
  /** Architecture family, e.g. "resnet", "vit", "deit". */
  readonly architecture: "resnet" | "vit" | "deit" | string;
  /** Number of output classes. */
  readonly numClasses: number;
  /** Expected input size [H, W]. */
  readonly inputSize: [number, number];
  /** Class names by index, when the checkpoint provides them. */
  readonly labels?: string[];
  /** The raw configuration the model was built from (config.json and what was inferred). */
  readonly config: Record<string, unknown>;
  /** The folder or file the model was loaded from. */
  readonly path: string;
  /** Preprocessing the checkpoint asks for, when known. */
  readonly preprocess?: ModelPreprocess;
  /** Host copy of the classifier weight [C, D] row-major (for Grad-CAM / CAM). */
  classifierWeight(): Float32Array;
  /**
   * Records the forward pass of a batch `pixels` [B, 3, H, W] (normalized f32)
   * into the engine's current command encoder. Nothing is awaited.
   */
  forward(engine: Engine, pixels: Tensor, opts?: ForwardOptions): ForwardResult;
  /** Top-k classes of images (paths or decoded) with the model's own preprocessing. */
  predict(inputs: readonly PredictInput[], opts?: PredictOptions): Promise<Prediction[]>;
  /** Frees the model's GPU weights. */
  dispose(): void;
  /**
   * What loading inferred or assumed about the checkpoint (a stem's stride,
   * an activation between head layers, ...), each with its evidence; printed
   * in the run header and stored in metrics.json's run metadata.
   */
  readonly notes?: readonly string[];
  /**
   * The engine `loadModel(path, engine)` loaded the model on: `predict`,
   * `model.predict` and `evaluate`, given no engine, run the model on it, so
   * its kernel path (`kernels: "software"` after a `KernelCheckError`) applies
   * to every run of the model, not only to its loading check.
   */
  readonly engine?: Engine;
  /**
   * d logit[classes[b]] / d features[b] for pooled `features` [B, D] (the
   * `features` tap), [B, D]; Grad-CAM uses it. Absent: the gradient is the
   * classifier weight's row (a single linear head).
   */
  classScoreGradient?(features: Float32Array, classes: ArrayLike<number>): Float32Array;
  /**
   * Warnings about running at input size [H, W] rather than the trained one
   * (e.g. a transformer's token count and attention cost); none when fine.
   */
  inputSizeWarnings?(size: [number, number]): string[];
  /**
   * For token models: how many tokens precede the patches (class,
   * distillation, register tokens) and the patch grid [gh, gw] of an
   * `h` x `w` input, for attention rollout.
   */
  tokenGrid?(h: number, w: number): { prefix: number; grid: [number, number] };
}
