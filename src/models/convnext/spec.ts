/**
 * The layout-free description of a ConvNeXt (v1, Liu et al. 2022) or
 * ConvNeXt V2 (Woo et al. 2023) classifier: what `model.ts` runs, whatever
 * the checkpoint's key names (`layouts.ts` builds it from Hugging Face, timm
 * or torchvision names). Widths, depths, kernel sizes and MLP widths come
 * from tensor shapes.
 */
import type { Activation } from "../../ops/activation.ts";
import type { HeadSpec } from "../../nn/head.ts";
import type { LinearNames, NormNames } from "../../weights/layout_check.ts";

/** A LayerNorm over channels with its epsilon. */
export type ChannelNorm = NormNames & { eps: number };

/** A convolution's tensors (weight, optional bias). */
export interface ConvNames {
  /** Weight [O, I / groups, k, k]. */
  weight: string;
  /** Bias [O], when the layer has one. */
  bias?: string;
}

/** One ConvNeXt block: dwconv k x k -> LN -> fc1 + act -> (GRN) -> fc2 (x layer scale) + input. */
export interface ConvNeXtBlockSpec {
  /** Prefix of the block's tensors, for messages. */
  name: string;
  /** Channels (input = output). */
  dim: number;
  /** MLP hidden width (4 x dim in every published model). */
  hidden: number;
  /** Depthwise kernel size (padding kernel / 2, stride 1). */
  kernel: number;
  /** Depthwise convolution [dim, 1, k, k]. */
  dwconv: ConvNames;
  /** LayerNorm over channels after the depthwise convolution. */
  norm: ChannelNorm;
  /** First pointwise layer [hidden, dim] (or a 1x1 conv [hidden, dim, 1, 1]). */
  fc1: LinearNames;
  /** Second pointwise layer [dim, hidden] (or [dim, hidden, 1, 1]). */
  fc2: LinearNames;
  /** ConvNeXt V2 Global Response Normalization over the hidden features. */
  grn?: { weight: string; bias: string; eps: number };
  /** Per-channel layer scale [dim] multiplying the block's branch (v1). */
  layerScale?: string;
}

/** One stage: an optional downsampling layer (LN + 2x2 stride-2 conv), then blocks. */
export interface ConvNeXtStageSpec {
  /** LayerNorm then a non-overlapping `kernel` x `kernel` conv of stride `kernel`. */
  downsample?: { norm: ChannelNorm; conv: ConvNames; kernel: number; inChannels: number };
  /** Output channels. */
  dim: number;
  /** The blocks. */
  blocks: ConvNeXtBlockSpec[];
}

/** Which key layout a ConvNeXt checkpoint uses. */
export type ConvNeXtLayout = "hf" | "timm" | "torchvision";

/** A ConvNeXt, independent of how its checkpoint names things. */
export interface ConvNeXtSpec {
  /** The key layout. */
  layout: ConvNeXtLayout;
  /** 1 (layer scale) or 2 (GRN, no layer scale). */
  version: 1 | 2;
  /** Input channels (3 for RGB). */
  inChannels: number;
  /** Patchify stem: `patch` x `patch` conv of stride `patch`, then LayerNorm. */
  stem: { conv: ConvNames; patch: number; dim: number; norm: ChannelNorm };
  /** The stages, input first. */
  stages: ConvNeXtStageSpec[];
  /** timm `head_norm_first`: a LayerNorm over the final feature map before pooling. */
  normPre?: ChannelNorm;
  /** Activation inside the blocks' MLP. */
  act: Activation;
  /** Pool -> (LayerNorm) -> linear layer(s). */
  head: HeadSpec;
  /** Blocks per stage. */
  depths: number[];
  /** Channels per stage. */
  widths: number[];
  /** What was inferred or assumed (with the evidence). */
  notes: string[];
}
