/**
 * ResNet classifiers (He et al. 2015) on the GPU: stem conv (+ max-pool),
 * stages of basic or bottleneck residual blocks, global average pool, linear.
 *
 * What the network looks like comes from `src/weights/resnet_layouts.ts`
 * (a {@link ResNetSpec} built from the checkpoint's names, shapes and config);
 * this file only loads the weights and runs the graph. Every BatchNorm is
 * folded into its convolution at load time, and ReLU and the residual add run
 * in the convolution's epilogue, so a basic block is two conv dispatches.
 */
import { Engine, fmtBytes } from "../../gpu/engine.ts";
import { GpuLimitError, ModelLayoutError } from "../../errors.ts";
import {
  conv2d,
  convOutSize,
  type ConvWeight,
  foldBatchNorm,
  uploadConvWeight,
} from "../../ops/conv2d.ts";
import { linear, type PackedMatrix, prepareLinearWeight } from "../../ops/gemm.ts";
import { globalAvgPool, maxPool2d } from "../../ops/pool.ts";
import { shortcutOptionA } from "../../ops/shortcut_option_a.ts";
import type { Tensor } from "../../tensor.ts";
import { type PreprocessConfig, preprocessConfigFromModelDir } from "../../data/preprocess.ts";
import { SafetensorsFile } from "../../weights/safetensors.ts";
import {
  type ConvSpec,
  type ResNetSpec,
  resnetSpec,
  type ShortcutSpec,
} from "./layouts.ts";
import {
  findModelFiles,
  inputSizeFromConfig,
  labelsFromConfig,
  type ModelFiles,
} from "../config.ts";
import type { ClassifierModel, ForwardOptions, ForwardResult, ModelPreprocess } from "../model.ts";
import {
  predict as predictImages,
  type PredictInput,
  type Prediction,
  type PredictOptions,
} from "../../predict.ts";

/** A convolution with its BatchNorm folded in, on the GPU. */
interface LoadedConv {
  spec: ConvSpec;
  weight: ConvWeight;
  bias: Tensor;
}

type LoadedShortcut =
  | { kind: "identity" }
  | { kind: "conv"; conv: LoadedConv }
  | Extract<ShortcutSpec, { kind: "zeroPad" }>;

interface LoadedBlock {
  convs: LoadedConv[];
  shortcut: LoadedShortcut;
}

/** Optional inputs of {@link loadResNet}. */
export interface LoadResNetOptions {
  /** Engine whose device receives the weights (default: a new one). */
  engine?: Engine;
  /** Preprocessing to report on the model (default: resolved from the model folder). */
  preprocess?: ModelPreprocess;
}

/** Reads, folds and uploads every convolution of a spec. */
async function loadConv(
  engine: Engine,
  file: SafetensorsFile,
  spec: ConvSpec,
  eps: number,
): Promise<LoadedConv> {
  const w = await file.readF32(spec.weight);
  const b = spec.bias ? await file.readF32(spec.bias) : undefined;
  let weight = w;
  let bias = b ?? new Float32Array(spec.shape[0]);
  if (spec.bn) {
    const folded = foldBatchNorm(w, spec.shape, b, {
      weight: await file.readF32(spec.bn.weight),
      bias: await file.readF32(spec.bn.bias),
      runningMean: await file.readF32(spec.bn.runningMean),
      runningVar: await file.readF32(spec.bn.runningVar),
      eps,
    });
    weight = folded.weight;
    bias = folded.bias;
  }
  return {
    spec,
    weight: uploadConvWeight(engine, weight, spec.shape, spec.groups, spec.weight),
    bias: engine.upload(bias, [spec.shape[0]], `${spec.weight}:bias`, true),
  };
}

/** A ResNet ready to run: folded weights on the GPU plus what the checkpoint says about it. */
export class ResNet implements ClassifierModel {
  /** Always "resnet". */
  readonly architecture = "resnet";
  /** Output classes. */
  readonly numClasses: number;
  /** Input size [H, W] the checkpoint was trained for. */
  readonly inputSize: [number, number];
  /** Class names, when the config has them. */
  readonly labels?: string[];
  /** config.json plus the inferred network description under `resnet`. */
  readonly config: Record<string, unknown>;
  /** The weights file. */
  readonly path: string;
  /** Preprocessing, when known. */
  readonly preprocess?: ModelPreprocess;

  #stem: LoadedConv[];
  #blocks: LoadedBlock[][];
  #headWeight: PackedMatrix;
  #headBias?: Tensor;
  #headHost: Float32Array;
  #disposed = false;

  private constructor(
    /** The layout-free description of the network. */
    readonly spec: ResNetSpec,
    parts: {
      stem: LoadedConv[];
      blocks: LoadedBlock[][];
      headWeight: PackedMatrix;
      headBias?: Tensor;
      headHost: Float32Array;
    },
    meta: {
      path: string;
      config: Record<string, unknown>;
      inputSize: [number, number];
      labels?: string[];
      preprocess?: ModelPreprocess;
    },
  ) {
    this.#stem = parts.stem;
    this.#blocks = parts.blocks;
    this.#headWeight = parts.headWeight;
    this.#headBias = parts.headBias;
    this.#headHost = parts.headHost;
    this.numClasses = spec.head.numClasses;
    this.path = meta.path;
    this.config = meta.config;
    this.inputSize = meta.inputSize;
    this.labels = meta.labels;
    this.preprocess = meta.preprocess;
  }

  /** Loads the weights of an opened checkpoint described by `spec`. */
  static async fromFile(
    engine: Engine,
    file: SafetensorsFile,
    spec: ResNetSpec,
    meta: {
      config: Record<string, unknown>;
      inputSize: [number, number];
      labels?: string[];
      preprocess?: ModelPreprocess;
    },
  ): Promise<ResNet> {
    const eps = spec.bnEps;
    const stem: LoadedConv[] = [];
    for (const c of spec.stem) stem.push(await loadConv(engine, file, c, eps));
    const blocks: LoadedBlock[][] = [];
    for (const stage of spec.stages) {
      const loaded: LoadedBlock[] = [];
      for (const b of stage) {
        const convs: LoadedConv[] = [];
        for (const c of b.convs) convs.push(await loadConv(engine, file, c, eps));
        const shortcut: LoadedShortcut = b.shortcut.kind === "conv"
          ? { kind: "conv", conv: await loadConv(engine, file, b.shortcut.conv, eps) }
          : b.shortcut;
        loaded.push({ convs, shortcut });
      }
      blocks.push(loaded);
    }
    const headHost = await file.readF32(spec.head.weight);
    // Packed once into the GEMM's panel layout (linear would re-pack a raw weight every batch).
    const rawHead = engine.upload(
      headHost,
      [spec.head.numClasses, spec.head.features],
      spec.head.weight,
      true,
    );
    const headWeight = prepareLinearWeight(engine, rawHead);
    engine.submit();
    rawHead.release();
    const headBias = spec.head.bias
      ? engine.upload(
        await file.readF32(spec.head.bias),
        [spec.head.numClasses],
        spec.head.bias,
        true,
      )
      : undefined;
    return new ResNet(spec, { stem, blocks, headWeight, headBias, headHost }, {
      path: file.path,
      ...meta,
    });
  }

  /** Host copy of the classifier weight [numClasses, features]. */
  classifierWeight(): Float32Array {
    return this.#headHost.slice();
  }

  /** Width of the pooled features (channels of the last stage). */
  get featureDim(): number {
    return this.spec.head.features;
  }

  /**
   * The largest tensor one image produces anywhere in the network, in bytes,
   * for an input of `h` x `w` (the batch is split so that no tensor exceeds
   * the adapter's storage binding limit).
   */
  activationBytesPerImage(h: number, w: number): number {
    let c = this.spec.inChannels;
    let largest = c * h * w;
    const conv = (s: ConvSpec) => {
      h = convOutSize(h, s.shape[2], s.stride, s.padding);
      w = convOutSize(w, s.shape[3], s.stride, s.padding);
      c = s.shape[0];
      largest = Math.max(largest, c * h * w);
    };
    for (const s of this.spec.stem) conv(s);
    const pool = this.spec.stemPool;
    if (pool) {
      h = convOutSize(h, pool.kernel, pool.stride, pool.padding);
      w = convOutSize(w, pool.kernel, pool.stride, pool.padding);
    }
    for (const stage of this.spec.stages) {
      // A shortcut output has its block's output shape, so the convs cover it.
      for (const b of stage) for (const s of b.convs) conv(s);
    }
    return largest * 4;
  }

  /**
   * Largest tensor, in bytes, one pass may produce. Defaults to the adapter's
   * storage binding limit; lower it to cap memory per pass (or to test chunking).
   */
  maxTensorBytes?: number;

  /** How many images of `h` x `w` fit in one pass under {@link maxTensorBytes}. */
  maxBatch(engine: Engine, h: number, w: number): number {
    const limit = Math.min(
      this.maxTensorBytes ?? Infinity,
      engine.gpu.limits.maxStorageBufferBindingSize,
    );
    return Math.floor(limit / this.activationBytesPerImage(h, w));
  }

  /**
   * Records the forward pass of `pixels` [B, C, H, W]. Batches whose
   * activations would exceed the adapter's binding limit run in chunks whose
   * outputs are copied into whole-batch tensors.
   */
  forward(engine: Engine, pixels: Tensor, opts: ForwardOptions = {}): ForwardResult {
    if (this.#disposed) throw new Error("ResNet.forward: the model was disposed");
    if (pixels.shape.length !== 4 || pixels.shape[1] !== this.spec.inChannels) {
      // A user-facing error: e.g. a 1-channel (grayscale-trained) ResNet fed RGB images.
      throw new ModelLayoutError(
        `ResNet.forward: pixels ${pixels.label} [${pixels.shape}] must be [B, ` +
          `${this.spec.inChannels}, H, W]` +
          (pixels.shape[1] === 3
            ? `: ${this.path} takes ${this.spec.inChannels}-channel input, and images are ` +
              `decoded to RGB (3 channels); only 3-channel models can run on images`
            : ""),
      );
    }
    const [b, c, h, w] = pixels.shape;
    const chunk = this.maxBatch(engine, h, w);
    if (chunk < 1) {
      const limit = Math.min(
        this.maxTensorBytes ?? Infinity,
        engine.gpu.limits.maxStorageBufferBindingSize,
      );
      throw new GpuLimitError(
        `One ${h}x${w} image needs ${
          fmtBytes(this.activationBytesPerImage(h, w))
        } in a single activation tensor of ${this.path}, above the ${
          fmtBytes(limit)
        } one tensor may use on this adapter. Use smaller input images or a GPU with larger ` +
          `storage bindings.`,
      );
    }
    if (b <= chunk) return this.#forwardBatch(engine, pixels, opts, false);

    const whole: Partial<Record<keyof ForwardResult, Tensor>> = {};
    const perImage = c * h * w * 4;
    for (let start = 0; start < b; start += chunk) {
      const n = Math.min(chunk, b - start);
      const x = engine.empty([n, c, h, w], "f32", "resnet-chunk");
      engine.copy(pixels, x, n * perImage, start * perImage, 0);
      const r = this.#forwardBatch(engine, x, opts, true);
      for (const key of ["logits", "features", "featureMap"] as const) {
        const part = r[key];
        if (!part) continue;
        const full = whole[key] ??= engine.empty([b, ...part.shape.slice(1)], "f32", key);
        const bytes = part.byteLength;
        engine.copy(part, full, bytes, 0, start * (bytes / n));
        part.release();
      }
    }
    return {
      logits: whole.logits!,
      features: whole.features,
      featureMap: whole.featureMap,
    };
  }

  /** The network on one chunk; releases `x` when `ownsInput`. */
  #forwardBatch(
    engine: Engine,
    x: Tensor,
    opts: ForwardOptions,
    ownsInput: boolean,
  ): ForwardResult {
    let h = x;
    let owned = ownsInput;
    const step = (next: Tensor) => {
      if (owned) h.release();
      h = next;
      owned = true;
    };
    for (const c of this.#stem) step(runConv(engine, h, c));
    const pool = this.spec.stemPool;
    if (pool) step(maxPool2d(engine, h, pool));
    for (const stage of this.#blocks) {
      for (const block of stage) step(runBlock(engine, h, block));
    }
    // h is the final-stage feature map (after its last ReLU).
    const features = globalAvgPool(engine, h);
    const logits = linear(engine, features, this.#headWeight, { bias: this.#headBias });
    const result: ForwardResult = { logits };
    if (opts.featureMap) result.featureMap = owned ? h : copyOf(engine, h);
    else if (owned) h.release();
    if (opts.features) result.features = features;
    else features.release();
    return result;
  }

  /**
   * Top-k classes of images (paths or decoded), with this model's own
   * preprocessing; see {@link predict}.
   */
  predict(inputs: readonly PredictInput[], opts?: PredictOptions): Promise<Prediction[]> {
    return predictImages(this, inputs, opts);
  }

  /** Frees the GPU weights. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const convs = [...this.#stem];
    for (const stage of this.#blocks) {
      for (const b of stage) {
        convs.push(...b.convs);
        if (b.shortcut.kind === "conv") convs.push(b.shortcut.conv);
      }
    }
    for (const c of convs) {
      c.weight.release();
      c.bias.release();
    }
    this.#headWeight.release();
    this.#headBias?.release();
  }
}

/** "A" (zero-padding), "projection" (1x1 conv) or "identity" (no downsampling block). */
function shortcutKind(spec: ResNetSpec): string {
  const kinds = new Set(spec.stages.flat().map((b) => b.shortcut.kind));
  return kinds.has("zeroPad") ? "A" : kinds.has("conv") ? "projection" : "identity";
}

function copyOf(engine: Engine, t: Tensor): Tensor {
  const out = engine.empty(t.shape, t.dtype, t.label);
  engine.copy(t, out);
  return out;
}

function runConv(engine: Engine, x: Tensor, c: LoadedConv, residual?: Tensor): Tensor {
  return conv2d(engine, x, c.weight, {
    stride: c.spec.stride,
    padding: c.spec.padding,
    groups: c.spec.groups,
    bias: c.bias,
    residual,
    relu: c.spec.relu,
  });
}

/** One residual block: the last conv adds the shortcut and applies the ReLU in its epilogue. */
function runBlock(engine: Engine, x: Tensor, block: LoadedBlock): Tensor {
  const sc = block.shortcut;
  const residual = sc.kind === "identity"
    ? x
    : sc.kind === "conv"
    ? runConv(engine, x, sc.conv)
    : shortcutOptionA(engine, x, sc.stride, sc.padBefore, sc.padAfter);
  let h = x;
  const last = block.convs.length - 1;
  block.convs.forEach((c, i) => {
    const next = runConv(engine, h, c, i === last ? residual : undefined);
    if (h !== x) h.release();
    h = next;
  });
  if (residual !== x) residual.release();
  return h;
}

/**
 * The preprocessing of a ResNet folder. When the folder says nothing about
 * the input (no processor file, no timm `pretrained_cfg`, no `image_size`),
 * the layout decides instead of a 224x224 squash: a CIFAR ResNet sees 32x32
 * images, a torchvision-key checkpoint gets torchvision's ImageNet
 * evaluation preset (shorter side 256, bilinear, center-crop 224).
 */
export function resnetPipeline(files: ModelFiles, layout: ResNetSpec["layout"]): PreprocessConfig {
  const cfg = preprocessConfigFromModelDir(files.dir);
  const c = files.config;
  const saysInput = files.preprocessorConfig !== undefined || c.pretrained_cfg !== undefined ||
    c.image_size !== undefined;
  if (saysInput || layout === "hf" || cfg.resizeMode !== "exact") return cfg;
  const warnings = cfg.warnings.filter((w) => !w.startsWith("no image_size"));
  if (layout === "cifar") {
    warnings.push(`no image_size in ${files.dir}: assumed 32x32 (CIFAR ResNet layout)`);
    return { ...cfg, size: [32, 32], warnings };
  }
  warnings.push(
    `no image_size in ${files.dir}: assumed torchvision's ImageNet preset for its key layout ` +
      `(shorter side 256, bilinear, center-crop 224); override with --size/--crop`,
  );
  return {
    ...cfg,
    resizeMode: "shortest",
    size: [256, 256],
    crop: [224, 224],
    cropRounding: "half-even",
    interpolation: "bilinear",
    source: `torchvision ImageNet preset (${cfg.source})`,
    warnings,
  };
}

/**
 * Loads a ResNet checkpoint: a folder (config.json + model.safetensors) or a
 * `.safetensors` file, in Hugging Face, torchvision/timm or CIFAR layout.
 */
export async function loadResNet(
  path: string | ModelFiles,
  options: LoadResNetOptions = {},
): Promise<ResNet> {
  const files = typeof path === "string" ? findModelFiles(path) : path;
  const engine = options.engine ?? await Engine.create();
  const file = await SafetensorsFile.open(files.weights);
  try {
    const spec = resnetSpec(file, files.config, files.weights);
    const fallbackSize: [number, number] = spec.layout === "cifar" ? [32, 32] : [224, 224];
    const config: Record<string, unknown> = {
      ...files.config,
      ...(files.preprocessorConfig ? { preprocessor_config: files.preprocessorConfig } : {}),
      resnet: {
        layout: spec.layout,
        blockType: spec.blockType,
        depths: spec.depths,
        widths: spec.widths,
        stemChannels: spec.stem[0].shape[0],
        stemKernel: spec.stem[0].shape[2],
        stemStride: spec.stem[0].stride,
        maxPool: Boolean(spec.stemPool),
        shortcut: shortcutKind(spec),
        bnEps: spec.bnEps,
        numClasses: spec.head.numClasses,
        features: spec.head.features,
      },
    };
    return await ResNet.fromFile(engine, file, spec, {
      config,
      inputSize: inputSizeFromConfig(
        { ...files.config, preprocessor_config: files.preprocessorConfig },
        fallbackSize,
      ),
      labels: labelsFromConfig(files.config, spec.head.numClasses),
      preprocess: options.preprocess ?? resnetPipeline(files, spec.layout),
    });
  } finally {
    file.close();
  }
}
