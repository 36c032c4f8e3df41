/**
 * ConvNeXt (v1) and ConvNeXt V2 classifiers on the GPU, channels-last.
 *
 * Activations are tokens [B, H*W, C] (NHWC) from the stem to the head, so
 * every LayerNorm over channels is `layerNorm` over the last axis and the
 * pointwise layers are GEMMs:
 * - stem: k x k stride-k patches -> linear -> LayerNorm;
 * - block: depthwise k x k (pad k/2, bias) -> LayerNorm -> fc1 with the
 *   activation fused -> (V2: GRN) -> fc2 with the layer scale folded into its
 *   weight and bias (gamma W, gamma b) and the residual add in its epilogue;
 * - downsampling: LayerNorm -> 2x2 stride-2 conv as space-to-depth + linear;
 * - head: mean over tokens -> LayerNorm -> linear ({@link ClassifierHead}).
 *
 * The `featureMap` tap is the final stage's output as NCHW [B, C, h, w]
 * (after timm's `norm_pre` where the model has one); `features` is the
 * pooled vector before the head's LayerNorm.
 */
import type { Engine } from "../../gpu/engine.ts";
import {
  depthwiseConv2dNHWC,
  type DepthwiseWeight,
  uploadDepthwiseWeight,
} from "../../ops/depthwise.ts";
import { linear } from "../../ops/gemm.ts";
import type { Activation } from "../../ops/activation.ts";
import { layerNorm } from "../../ops/layernorm.ts";
import { patchify } from "../../ops/patch_embed.ts";
import { grn } from "../../ops/grn.ts";
import { meanTokens, patchWeightToKhKwC, spaceToDepthNHWC } from "../../ops/nhwc.ts";
import { permute } from "../../ops/transpose.ts";
import type { Tensor } from "../../tensor.ts";
import { ClassifierHead } from "../../nn/head.ts";
import type { SafetensorsFile } from "../../weights/safetensors.ts";
import type { ForwardOptions, ForwardResult } from "../model.ts";
import {
  type ClassifierMeta,
  completeMeta,
  type LoaderMeta,
  PooledClassifier,
} from "../classifier.ts";
import {
  type LoadedLinear,
  type LoadedNorm,
  loadLinear,
  loadNorm,
  loadTensor,
  packLinear,
  releaseLinear,
  releaseNorm,
} from "../../nn/layers.ts";
import type { ChannelNorm, ConvNeXtBlockSpec, ConvNeXtSpec } from "./spec.ts";

/** A LayerNorm on the GPU with its epsilon (ConvNeXt's differ by place). */
type EpsNorm = LoadedNorm & { eps: number };

interface LoadedBlock {
  spec: ConvNeXtBlockSpec;
  act: Activation;
  dw: DepthwiseWeight;
  dwBias: Tensor;
  norm: EpsNorm;
  fc1: LoadedLinear;
  /** fc2 with the layer scale folded in. */
  fc2: LoadedLinear;
  grn?: { weight: Tensor; bias: Tensor; eps: number };
}

interface LoadedStage {
  downsample?: { norm: EpsNorm; proj: LoadedLinear; kernel: number };
  blocks: LoadedBlock[];
}

/** A channel LayerNorm with its epsilon. */
async function loadEpsNorm(
  engine: Engine,
  file: SafetensorsFile,
  n: ChannelNorm,
  dim: number,
): Promise<EpsNorm> {
  return { ...await loadNorm(engine, file, n, dim), eps: n.eps };
}

async function loadBlock(
  engine: Engine,
  file: SafetensorsFile,
  b: ConvNeXtBlockSpec,
  act: Activation,
): Promise<LoadedBlock> {
  const { dim, hidden, kernel } = b;
  const dwW = await file.readF32(b.dwconv.weight);
  const dwB = b.dwconv.bias ? await file.readF32(b.dwconv.bias) : new Float32Array(dim);
  const fc1 = await loadLinear(engine, file, b.fc1);
  // Layer scale folded into fc2: gamma * (W x + b) = (gamma W) x + gamma b.
  const fc2 = await loadLinear(
    engine,
    file,
    b.fc2,
    b.layerScale ? await file.readF32(b.layerScale) : undefined,
  );
  return {
    spec: b,
    act,
    dw: uploadDepthwiseWeight(engine, dwW, [dim, 1, kernel, kernel], b.dwconv.weight),
    dwBias: engine.upload(dwB, [dim], `${b.dwconv.weight}:bias`, true),
    norm: await loadEpsNorm(engine, file, b.norm, dim),
    fc1,
    fc2,
    grn: b.grn
      ? {
        weight: await loadTensor(engine, file, b.grn.weight, [hidden]),
        bias: await loadTensor(engine, file, b.grn.bias, [hidden]),
        eps: b.grn.eps,
      }
      : undefined,
  };
}

/** A ConvNeXt / ConvNeXt V2 ready to run. */
export class ConvNeXt extends PooledClassifier {
  /** Always "convnext" (V2 included; see `spec.version`). */
  readonly architecture = "convnext";

  #stem: { proj: LoadedLinear; norm: EpsNorm };
  #stages: LoadedStage[];
  #normPre?: EpsNorm;

  private constructor(
    /** The layout-free description of the network. */
    readonly spec: ConvNeXtSpec,
    parts: {
      stem: { proj: LoadedLinear; norm: EpsNorm };
      stages: LoadedStage[];
      normPre?: EpsNorm;
      head: ClassifierHead;
    },
    meta: ClassifierMeta,
  ) {
    super(meta, parts.head);
    this.#stem = parts.stem;
    this.#stages = parts.stages;
    this.#normPre = parts.normPre;
  }

  /** Loads the weights of an opened checkpoint described by `spec`. */
  static async fromFile(
    engine: Engine,
    file: SafetensorsFile,
    spec: ConvNeXtSpec,
    meta: LoaderMeta,
  ): Promise<ConvNeXt> {
    const { stem } = spec;
    // A conv weight [O, C, k, k] flattened is [O, C*k*k] in (c, i, j) order: patchify's columns.
    const stemProj = await loadLinear(engine, file, stem.conv);
    const stemNorm = await loadEpsNorm(engine, file, stem.norm, stem.dim);
    const stages: LoadedStage[] = [];
    for (const s of spec.stages) {
      let downsample: LoadedStage["downsample"];
      if (s.downsample) {
        const d = s.downsample;
        downsample = {
          norm: await loadEpsNorm(engine, file, d.norm, d.inChannels),
          // Columns in space-to-depth's (kh, kw, c) order.
          proj: packLinear(
            engine,
            patchWeightToKhKwC(await file.readF32(d.conv.weight), [
              s.dim,
              d.inChannels,
              d.kernel,
              d.kernel,
            ]),
            [s.dim, d.inChannels * d.kernel * d.kernel],
            d.conv.weight,
            d.conv.bias ? await file.readF32(d.conv.bias) : undefined,
          ),
          kernel: d.kernel,
        };
      }
      const blocks: LoadedBlock[] = [];
      for (const b of s.blocks) blocks.push(await loadBlock(engine, file, b, spec.act));
      stages.push({ downsample, blocks });
    }
    const last = spec.widths[spec.widths.length - 1];
    const normPre = spec.normPre ? await loadEpsNorm(engine, file, spec.normPre, last) : undefined;
    const head = await ClassifierHead.load(engine, file, spec.head);
    return new ConvNeXt(
      spec,
      { stem: { proj: stemProj, norm: stemNorm }, stages, normPre, head },
      completeMeta(meta, file.path, spec),
    );
  }

  /** The largest tensor one `h` x `w` image produces anywhere in the network, in bytes. */
  activationBytesPerImage(h: number, w: number): number {
    const p = this.spec.stem.patch;
    let gh = Math.floor(h / p), gw = Math.floor(w / p);
    let largest = Math.max(this.spec.inChannels * h * w, gh * gw * this.spec.stem.dim);
    for (const s of this.spec.stages) {
      if (s.downsample) {
        const k = s.downsample.kernel;
        gh = Math.floor(gh / k);
        gw = Math.floor(gw / k);
        // The patches [T', C k k] hold about as many values as the map they are cut from.
        largest = Math.max(largest, gh * gw * s.downsample.inChannels * k * k);
      }
      for (const b of s.blocks) largest = Math.max(largest, gh * gw * Math.max(b.hidden, b.dim));
    }
    return largest * 4;
  }

  /** The network on one chunk (the base class splits batches). */
  protected forwardBatch(engine: Engine, pixels: Tensor, opts: ForwardOptions): ForwardResult {
    const B = pixels.shape[0];
    const k = this.spec.stem.patch;
    let gh = Math.floor(pixels.shape[2] / k), gw = Math.floor(pixels.shape[3] / k);
    // Stem: [B, T, C k k] patches -> linear -> LayerNorm.
    const patches = patchify(engine, pixels, [k, k]);
    const emb = linear(engine, patches, this.#stem.proj.weight, { bias: this.#stem.proj.bias });
    patches.release();
    let x = norm(engine, emb, this.#stem.norm);
    emb.release();
    for (const stage of this.#stages) {
      if (stage.downsample) {
        const d = stage.downsample;
        const normed = norm(engine, x, d.norm);
        x.release();
        const C = normed.shape[normed.shape.length - 1];
        const cut = spaceToDepthNHWC(engine, normed.reshape([B, gh, gw, C]), d.kernel);
        normed.release();
        gh = Math.floor(gh / d.kernel);
        gw = Math.floor(gw / d.kernel);
        x = linear(engine, cut, d.proj.weight, { bias: d.proj.bias });
        cut.release();
      }
      for (const block of stage.blocks) {
        const y = runBlock(engine, x, block, B, gh, gw);
        x.release();
        x = y;
      }
    }
    if (this.#normPre) {
      const y = norm(engine, x, this.#normPre);
      x.release();
      x = y;
    }
    const C = x.shape[x.shape.length - 1];
    const pooled = meanTokens(engine, x.reshape([B, gh * gw, C]));
    const logits = this.head.forward(engine, pooled);
    const result: ForwardResult = { logits };
    // Grad-CAM and the report read feature maps as NCHW.
    if (opts.featureMap) {
      result.featureMap = permute(engine, x.reshape([B, gh, gw, C]), [0, 3, 1, 2]);
    }
    x.release();
    if (opts.features) result.features = pooled;
    else pooled.release();
    return result;
  }

  /** Frees the GPU weights. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    releaseLinear(this.#stem.proj);
    releaseNorm(this.#stem.norm);
    for (const s of this.#stages) {
      if (s.downsample) {
        releaseNorm(s.downsample.norm);
        releaseLinear(s.downsample.proj);
      }
      for (const b of s.blocks) {
        b.dw.release();
        b.dwBias.release();
        releaseNorm(b.norm);
        releaseLinear(b.fc1);
        releaseLinear(b.fc2);
        b.grn?.weight.release();
        b.grn?.bias.release();
      }
    }
    if (this.#normPre) releaseNorm(this.#normPre);
    this.head.release();
  }
}

function norm(engine: Engine, x: Tensor, n: EpsNorm): Tensor {
  return layerNorm(engine, x, n.weight, n.bias, n.eps);
}

/** Depthwise k x k convolution (stride 1, pad k/2, bias) of tokens [B, gh*gw, C] -> [B, gh, gw, C]. */
function depthwise(engine: Engine, x: Tensor, b: LoadedBlock, B: number, gh: number, gw: number) {
  return depthwiseConv2dNHWC(engine, x.reshape([B, gh, gw, b.spec.dim]), b.dw, {
    padding: Math.floor(b.spec.kernel / 2),
    bias: b.dwBias,
  });
}

/** One block on tokens [B, gh*gw, C]; returns a new tensor (x is not released). */
function runBlock(
  engine: Engine,
  x: Tensor,
  b: LoadedBlock,
  B: number,
  gh: number,
  gw: number,
): Tensor {
  const dw = depthwise(engine, x, b, B, gh, gw);
  const normed = norm(engine, dw, b.norm);
  dw.release();
  let h = linear(engine, normed, b.fc1.weight, { bias: b.fc1.bias, act: b.act });
  normed.release();
  if (b.grn) {
    const g = grn(engine, h, b.grn.weight, b.grn.bias, b.grn.eps);
    h.release();
    h = g;
  }
  const out = linear(engine, h, b.fc2.weight, { bias: b.fc2.bias, residual: x });
  h.release();
  h = out;
  return h;
}
