/**
 * MobileNetV2 / MobileNetV3 / EfficientNet (V1, V2) classifiers on the GPU,
 * channels-last. Every BatchNorm is folded into the convolution before it
 * at load time (in float64), so each conv + BN + act is one kernel:
 * - stem: k x k stride-2 `conv2d` on the NCHW pixels with the activation
 *   fused, then one `permute` to NHWC (after the fused blocks, if any);
 * - block: 1x1 expand = `linear` over the tokens (act fused) -> depthwise
 *   k x k (`depthwiseConv2dNHWC`, stride 1/2, bias + act fused; padded k/2,
 *   TensorFlow "same" or per side as the spec says) ->
 *   squeeze-and-excitation (`meanTokens` -> `linear` + act -> `linear` +
 *   gate -> `channelScale`) -> 1x1 project = `linear` with the residual add
 *   in its epilogue;
 * - EfficientNetV2's fused block (NCHW, before the first MBConv block):
 *   k x k `conv2d` + act -> [1x1 `conv2d` projection with the residual in
 *   its epilogue] (without a projection, an `elementwise` add after the act);
 * - final 1x1 conv (`linear` + act) -> `meanTokens` -> the head
 *   ({@link ClassifierHead}).
 *
 * The `featureMap` tap is the final 1x1 conv's output as NCHW [B, C, h, w]
 * (Grad-CAM's target layer); `features` is the pooled vector the head reads.
 */
import type { Engine } from "../../gpu/engine.ts";
import {
  depthwiseConv2dNHWC,
  type DepthwiseWeight,
  uploadDepthwiseWeight,
} from "../../ops/depthwise.ts";
import { linear } from "../../ops/gemm.ts";
import { conv2d, type ConvWeight, foldBatchNorm, uploadConvWeight } from "../../ops/conv2d.ts";
import { paddedOutShape, type Padding, resolvePadding } from "../../ops/padding.ts";
import { meanTokens } from "../../ops/nhwc.ts";
import { elementwise } from "../../ops/elementwise.ts";
import { channelScale } from "../../ops/channel_scale.ts";
import { permute } from "../../ops/transpose.ts";
import type { Tensor } from "../../tensor.ts";
import { ClassifierHead } from "../../nn/head.ts";
import {
  type LoadedLinear,
  loadLinear,
  packLinear,
  releaseLinear,
  type WeightReader,
} from "../../nn/layers.ts";
import type { SafetensorsFile } from "../../weights/safetensors.ts";
import type { ForwardOptions, ForwardResult } from "../model.ts";
import {
  type ClassifierMeta,
  completeMeta,
  type LoaderMeta,
  PooledClassifier,
} from "../classifier.ts";
import type {
  ConvBnSpec,
  FusedMBConvSpec,
  InvertedResidualSpec,
  MobileNetBlockSpec,
  MobileNetSpec,
} from "./spec.ts";

interface LoadedMBConv {
  spec: InvertedResidualSpec;
  expand?: LoadedLinear;
  dw: DepthwiseWeight;
  dwBias: Tensor;
  se?: { reduce: LoadedLinear; expand: LoadedLinear };
  project: LoadedLinear;
}

/** A conv + BN folded and uploaded for `conv2d` (NCHW). */
interface LoadedConv {
  weight: ConvWeight;
  bias: Tensor;
}

interface LoadedFused {
  spec: FusedMBConvSpec;
  conv: LoadedConv;
  project?: LoadedConv;
}

type LoadedBlock = LoadedMBConv | LoadedFused;

/** A conv's weight and bias with its BatchNorm folded in. */
async function folded(
  file: WeightReader,
  c: ConvBnSpec,
  eps: number,
): Promise<{ weight: Float32Array; bias: Float32Array }> {
  return foldBatchNorm(
    await file.readF32(c.weight),
    [c.out, c.in, c.kernel, c.kernel],
    undefined,
    {
      weight: await file.readF32(c.bn.weight),
      bias: await file.readF32(c.bn.bias),
      runningMean: await file.readF32(c.bn.runningMean),
      runningVar: await file.readF32(c.bn.runningVar),
      eps,
    },
  );
}

/** A 1x1 conv + BN as a packed linear layer [out, in]. */
async function pointwise(
  engine: Engine,
  file: WeightReader,
  c: ConvBnSpec,
  eps: number,
): Promise<LoadedLinear> {
  const f = await folded(file, c, eps);
  return packLinear(engine, f.weight, [c.out, c.in], c.weight, f.bias);
}

/** A k x k conv + BN folded and uploaded for `conv2d`. */
async function convBn(
  engine: Engine,
  file: WeightReader,
  c: ConvBnSpec,
  eps: number,
): Promise<LoadedConv> {
  const f = await folded(file, c, eps);
  return {
    weight: uploadConvWeight(engine, f.weight, [c.out, c.in, c.kernel, c.kernel], 1, c.weight),
    bias: engine.upload(f.bias, [c.out], `${c.weight}:bias`, true),
  };
}

function releaseConv(c: LoadedConv): void {
  c.weight.release();
  c.bias.release();
}

async function loadBlock(
  engine: Engine,
  file: WeightReader,
  b: MobileNetBlockSpec,
  eps: number,
): Promise<LoadedBlock> {
  if (b.kind === "fused") {
    return {
      spec: b,
      conv: await convBn(engine, file, b.conv, eps),
      project: b.project ? await convBn(engine, file, b.project, eps) : undefined,
    };
  }
  const dw = await folded(file, b.depthwise, eps);
  return {
    spec: b,
    expand: b.expand ? await pointwise(engine, file, b.expand, eps) : undefined,
    dw: uploadDepthwiseWeight(
      engine,
      dw.weight,
      [b.expanded, 1, b.kernel, b.kernel],
      b.depthwise.weight,
    ),
    dwBias: engine.upload(dw.bias, [b.expanded], `${b.depthwise.weight}:bias`, true),
    se: b.se
      ? {
        reduce: await loadLinear(engine, file, b.se.reduce),
        expand: await loadLinear(engine, file, b.se.expand),
      }
      : undefined,
    project: await pointwise(engine, file, b.project, eps),
  };
}

/** A MobileNetV2 / V3 / EfficientNet ready to run. */
export class MobileNet extends PooledClassifier {
  /**
   * "mobilenet_v2", "mobilenet_v3", "efficientnet" or "efficientnet_v2"
   * (see `spec.variant` for the exact model).
   */
  readonly architecture: string;

  #stem: LoadedConv;
  #blocks: LoadedBlock[];
  #final: LoadedLinear;

  private constructor(
    /** The layout-free description of the network. */
    readonly spec: MobileNetSpec,
    parts: {
      stem: LoadedConv;
      blocks: LoadedBlock[];
      final: LoadedLinear;
      head: ClassifierHead;
    },
    meta: ClassifierMeta,
  ) {
    super(meta, parts.head);
    this.architecture = spec.arch;
    this.#stem = parts.stem;
    this.#blocks = parts.blocks;
    this.#final = parts.final;
  }

  /** Loads the weights of an opened checkpoint described by `spec`. */
  static async fromFile(
    engine: Engine,
    file: SafetensorsFile,
    spec: MobileNetSpec,
    meta: LoaderMeta,
  ): Promise<MobileNet> {
    const eps = spec.bnEps;
    const stem = await convBn(engine, file, spec.stem, eps);
    const blocks: LoadedBlock[] = [];
    for (const b of spec.blocks) blocks.push(await loadBlock(engine, file, b, eps));
    const final = await pointwise(engine, file, spec.final, eps);
    const head = await ClassifierHead.load(engine, file, spec.head);
    return new MobileNet(spec, { stem, blocks, final, head }, completeMeta(meta, file.path, spec));
  }

  /** The largest tensor one `h` x `w` image produces anywhere in the network, in bytes. */
  activationBytesPerImage(h: number, w: number): number {
    const s = this.spec.stem;
    let [gh, gw] = outSize(h, w, s.kernel, s.stride, s.padding);
    let largest = Math.max(this.spec.inChannels * h * w, gh * gw * s.out);
    for (const b of this.spec.blocks) {
      if (b.kind === "mbconv") largest = Math.max(largest, gh * gw * b.expanded);
      [gh, gw] = outSize(gh, gw, b.kernel, b.stride, b.padding);
      largest = Math.max(largest, gh * gw * Math.max(b.expanded, b.outChannels));
    }
    return Math.max(largest, gh * gw * this.spec.final.out) * 4;
  }

  /** The network on one chunk (the base class splits batches). */
  protected forwardBatch(engine: Engine, pixels: Tensor, opts: ForwardOptions): ForwardResult {
    const B = pixels.shape[0];
    const s = this.spec.stem;
    const nchw = conv2d(engine, pixels, this.#stem.weight, {
      stride: s.stride,
      padding: s.padding,
      bias: this.#stem.bias,
      act: s.act,
    });
    // Fused blocks (EfficientNetV2's first stages) run on NCHW with conv2d, the others on
    // NHWC [B, H, W, C]: one permute where the kind changes.
    let x = nchw, channelsLast = false;
    for (const block of this.#blocks) {
      const wantLast = block.spec.kind === "mbconv";
      if (wantLast !== channelsLast) {
        const p = permute(engine, x, wantLast ? [0, 2, 3, 1] : [0, 3, 1, 2]);
        x.release();
        x = p;
        channelsLast = wantLast;
      }
      const y = "dw" in block ? runBlock(engine, x, block) : runFused(engine, x, block);
      x.release();
      x = y;
    }
    if (!channelsLast) {
      const p = permute(engine, x, [0, 2, 3, 1]);
      x.release();
      x = p;
    }
    const [, gh, gw] = x.shape;
    const f = linear(engine, x, this.#final.weight, {
      bias: this.#final.bias,
      act: this.spec.final.act,
    });
    x.release();
    const C = this.spec.final.out;
    const pooled = meanTokens(engine, f.reshape([B, gh * gw, C]));
    const logits = this.head.forward(engine, pooled);
    const result: ForwardResult = { logits };
    if (opts.featureMap) result.featureMap = permute(engine, f, [0, 3, 1, 2]);
    f.release();
    if (opts.features) result.features = pooled;
    else pooled.release();
    return result;
  }

  /** Frees the GPU weights. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    releaseConv(this.#stem);
    for (const b of this.#blocks) {
      if (!("dw" in b)) {
        releaseConv(b.conv);
        if (b.project) releaseConv(b.project);
        continue;
      }
      if (b.expand) releaseLinear(b.expand);
      b.dw.release();
      b.dwBias.release();
      if (b.se) {
        releaseLinear(b.se.reduce);
        releaseLinear(b.se.expand);
      }
      releaseLinear(b.project);
    }
    releaseLinear(this.#final);
    this.head.release();
  }
}

/**
 * One fused MBConv block on x [B, C, H, W]: k x k conv2d (+ act), then the
 * 1x1 projection with the residual in its epilogue; without a projection the
 * residual is added after the activation (a separate add: the conv epilogue
 * adds it before). Returns a new tensor (x is not released).
 */
function runFused(engine: Engine, x: Tensor, b: LoadedFused): Tensor {
  const s = b.spec;
  const h = conv2d(engine, x, b.conv.weight, {
    stride: s.stride,
    padding: s.padding,
    bias: b.conv.bias,
    act: s.act,
  });
  if (!b.project) {
    if (!s.residual) return h;
    const sum = elementwise(engine, "add", h, x);
    h.release();
    return sum;
  }
  const out = conv2d(engine, h, b.project.weight, {
    bias: b.project.bias,
    residual: s.residual ? x : undefined,
  });
  h.release();
  return out;
}

/** One inverted-residual block on x [B, H, W, C]; returns a new tensor (x is not released). */
function runBlock(engine: Engine, x: Tensor, b: LoadedMBConv): Tensor {
  const s = b.spec;
  let h = x;
  if (b.expand) h = linear(engine, x, b.expand.weight, { bias: b.expand.bias, act: s.act });
  let d = depthwiseConv2dNHWC(engine, h, b.dw, {
    stride: s.stride,
    padding: s.padding,
    bias: b.dwBias,
    act: s.act,
  });
  if (h !== x) h.release();
  if (b.se && s.se) {
    const [B, ho, wo, E] = d.shape;
    const pooled = meanTokens(engine, d.reshape([B, ho * wo, E]));
    const r = linear(engine, pooled, b.se.reduce.weight, { bias: b.se.reduce.bias, act: s.se.act });
    pooled.release();
    const g = linear(engine, r, b.se.expand.weight, { bias: b.se.expand.bias, act: s.se.gate });
    r.release();
    const scaled = channelScale(engine, d, g);
    g.release();
    d.release();
    d = scaled;
  }
  const out = linear(engine, d, b.project.weight, {
    bias: b.project.bias,
    residual: s.residual ? x : undefined,
  });
  d.release();
  return out;
}

/** Output [h, w] of a k x k convolution of stride `stride` padded as `padding` says. */
function outSize(h: number, w: number, k: number, stride: number, padding: Padding) {
  const pad = resolvePadding(padding, h, w, [k, k], [stride, stride]);
  return paddedOutShape(h, w, pad, [k, k], [stride, stride]);
}
