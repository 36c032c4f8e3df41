/**
 * ResNet classifiers (He et al. 2015) on the GPU: stem conv (+ max-pool),
 * stages of basic or bottleneck residual blocks, global average pool, the
 * classifier head (one linear or an MLP, src/nn/head.ts).
 *
 * What the network looks like comes from `layouts.ts`
 * (a {@link ResNetSpec} built from the checkpoint's names, shapes and config);
 * this file only loads the weights and runs the graph. Every BatchNorm is
 * folded into its convolution at load time, and ReLU and the residual add run
 * in the convolution's epilogue, so a basic block is two conv dispatches.
 */
import { Engine } from "../../gpu/engine.ts";
import {
  conv2d,
  convOutSize,
  type ConvWeight,
  foldBatchNorm,
  uploadConvWeight,
} from "../../ops/conv2d.ts";
import { globalAvgPool, maxPool2d } from "../../ops/pool.ts";
import { shortcutOptionA } from "../../ops/shortcut_option_a.ts";
import type { Tensor } from "../../tensor.ts";
import {
  assume,
  type PreprocessConfig,
  preprocessConfigFromModelDir,
  withoutAssumptions,
} from "../../data/preprocess.ts";
import { SafetensorsFile } from "../../weights/safetensors.ts";
import { ClassifierHead } from "../../nn/head.ts";
import {
  type ConvSpec,
  detectResNetLayout,
  type ResNetSpec,
  resnetSpec,
  type ShortcutSpec,
} from "./layouts.ts";
import { findModelFiles, type ModelFiles } from "../config.ts";
import type { ForwardOptions, ForwardResult, ModelPreprocess } from "../model.ts";
import {
  checkpointMeta,
  type ClassifierMeta,
  completeMeta,
  type LoaderMeta,
  PooledClassifier,
} from "../classifier.ts";
import type { ModelFamily } from "../family.ts";

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
export class ResNet extends PooledClassifier {
  /** Always "resnet". */
  readonly architecture = "resnet";

  #stem: LoadedConv[];
  #blocks: LoadedBlock[][];

  private constructor(
    /** The layout-free description of the network. */
    readonly spec: ResNetSpec,
    parts: { stem: LoadedConv[]; blocks: LoadedBlock[][]; head: ClassifierHead },
    meta: ClassifierMeta,
  ) {
    super(meta, parts.head);
    this.#stem = parts.stem;
    this.#blocks = parts.blocks;
  }

  /** Loads the weights of an opened checkpoint described by `spec`. */
  static async fromFile(
    engine: Engine,
    file: SafetensorsFile,
    spec: ResNetSpec,
    meta: LoaderMeta,
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
    const head = await ClassifierHead.load(engine, file, spec.head, eps);
    return new ResNet(spec, { stem, blocks, head }, completeMeta(meta, file.path, spec));
  }

  /**
   * The largest tensor one image produces anywhere in the network, in bytes,
   * for an input of `h` x `w`.
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

  /** The network on one chunk (the base class splits batches). */
  protected forwardBatch(engine: Engine, x: Tensor, opts: ForwardOptions): ForwardResult {
    let h = x;
    const step = (next: Tensor) => {
      if (h !== x) h.release();
      h = next;
    };
    for (const c of this.#stem) step(runConv(engine, h, c));
    const pool = this.spec.stemPool;
    if (pool) step(maxPool2d(engine, h, pool));
    for (const stage of this.#blocks) {
      for (const block of stage) step(runBlock(engine, h, block));
    }
    // h is the final-stage feature map (after its last ReLU).
    const features = globalAvgPool(engine, h);
    const logits = this.head.forward(engine, features);
    const result: ForwardResult = { logits };
    if (opts.featureMap) result.featureMap = h !== x ? h : copyOf(engine, h);
    else if (h !== x) h.release();
    if (opts.features) result.features = features;
    else features.release();
    return result;
  }

  /** Frees the GPU weights. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
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
    this.head.release();
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
export function resnetPipeline(files: ModelFiles, spec: ResNetSpec): PreprocessConfig {
  const layout = spec.layout;
  const cfg = preprocessConfigFromModelDir(files.dir);
  const c = files.config;
  const saysInput = files.preprocessorConfig !== undefined || c.pretrained_cfg !== undefined ||
    c.image_size !== undefined;
  if (saysInput || layout === "hf" || cfg.resizeMode !== "exact") return cfg;
  // The generic "assumed 224x224" gives way to what the layout says.
  const base = withoutAssumptions(cfg, ["size"]);
  if (layout === "cifar" || (spec.stem[0].stride === 1 && !spec.stemPool)) {
    const out: PreprocessConfig = { ...base, size: [32, 32] };
    assume(
      out,
      `no image_size in ${files.dir}: assumed 32x32 (${
        layout === "cifar"
          ? "CIFAR ResNet layout"
          : "stride-1 stem without max-pool: a CIFAR ResNet"
      })`,
      ["size"],
    );
    return out;
  }
  const out: PreprocessConfig = {
    ...base,
    resizeMode: "shortest",
    size: [256, 256],
    crop: [224, 224],
    cropRounding: "half-even",
    interpolation: "bilinear",
    source: `torchvision ImageNet preset (${cfg.source})`,
  };
  assume(
    out,
    `no image_size in ${files.dir}: assumed torchvision's ImageNet preset for its key layout ` +
      `(shorter side 256, bilinear, center-crop 224); override with --size/--crop`,
    ["size", "crop", "interpolation"],
  );
  return out;
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
    const cifarStem = spec.stem[0].stride === 1 && !spec.stemPool;
    const fallbackSize: [number, number] = cifarStem ? [32, 32] : [224, 224];
    const description = {
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
      headLayers: spec.head.layers.map((l) => ({ out: l.outFeatures, act: l.act })),
    };
    return await ResNet.fromFile(
      engine,
      file,
      spec,
      checkpointMeta(files, {
        family: "resnet",
        description,
        numClasses: spec.head.numClasses,
        notes: spec.notes,
        fallbackSize,
        preprocess: options.preprocess ?? resnetPipeline(files, spec),
      }),
    );
  } finally {
    file.close();
  }
}

/** The ResNet family: Hugging Face, torchvision / timm and CIFAR layouts. */
export const resnetFamily: ModelFamily = {
  name: "resnet",
  summary:
    "ResNet (Hugging Face, torchvision/timm incl. CIFAR stems and MLP heads, CIFAR option A)",
  explain: { gradcam: true, rollout: false },
  detect(names, config) {
    const layout = detectResNetLayout(names, config);
    return layout ? { layout } : undefined;
  },
  pipeline(files, index) {
    return resnetPipeline(files, resnetSpec(index, files.config, files.weights));
  },
  load(files, engine, preprocess) {
    return loadResNet(files, { engine, preprocess });
  },
};
