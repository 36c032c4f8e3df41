/**
 * The layout-free description of a MobileNetV2 (Sandler et al. 2018),
 * MobileNetV3 (Howard et al. 2019), EfficientNet (Tan & Le 2019) or
 * EfficientNetV2 (Tan & Le 2021) classifier: a stem convolution, a chain of
 * inverted-residual (MBConv) blocks (EfficientNetV2: fused MBConv first), a final 1x1 convolution and a classifier head. What `model.ts`
 * runs, whatever the checkpoint's key names (`layouts.ts` builds it from
 * torchvision or timm names). Widths, depths, kernel sizes and
 * squeeze-and-excitation widths come from tensor shapes; strides and
 * activations come from the architecture the layout follows (stated in
 * `notes`).
 */
import type { Activation } from "../../ops/activation.ts";
import type { HeadSpec } from "../../nn/head.ts";
import type { Padding } from "../../ops/padding.ts";
import type { BatchNormNames, LinearNames } from "../../weights/layout_check.ts";

/** A convolution (no bias) followed by an eval-mode BatchNorm, folded together at load time. */
export interface ConvBnSpec {
  /** Weight [O, I / groups, k, k]. */
  weight: string;
  /** The BatchNorm after it. */
  bn: BatchNormNames;
  /** Output channels. */
  out: number;
  /** Input channels (per group: 1 for a depthwise convolution). */
  in: number;
  /** Kernel size (square). */
  kernel: number;
}

/** Squeeze-and-excitation: mean pool -> reduce (+ act) -> expand (+ gate) -> scale the channels. */
export interface SqueezeExciteSpec {
  /** The reducing 1x1 conv [squeeze, C, 1, 1] with its bias. */
  reduce: LinearNames;
  /** The expanding 1x1 conv [C, squeeze, 1, 1] with its bias. */
  expand: LinearNames;
  /** Squeezed width. */
  squeeze: number;
  /** Activation after `reduce` (ReLU in MobileNetV3, SiLU in EfficientNet). */
  act: Activation;
  /** Gate after `expand` (hardsigmoid in MobileNetV3, sigmoid in EfficientNet). */
  gate: Activation;
}

/**
 * One inverted-residual block: [1x1 expand + BN + act] -> depthwise k x k
 * (stride, pad k/2) + BN + act -> [squeeze-and-excitation] -> 1x1 project +
 * BN (+ the input when `residual`).
 */
export interface InvertedResidualSpec {
  /** An MBConv block. */
  kind: "mbconv";
  /** Prefix of the block's tensors, for messages. */
  name: string;
  /** Input channels. */
  inChannels: number;
  /** Expanded (depthwise) channels. */
  expanded: number;
  /** Output channels. */
  outChannels: number;
  /** Depthwise kernel size. */
  kernel: number;
  /** Depthwise stride (1 or 2). */
  stride: 1 | 2;
  /**
   * Depthwise padding: k/2 on every side (PyTorch), "same" (TensorFlow's
   * rule, from the input size) or fixed per side (Hugging Face EfficientNet).
   */
  padding: Padding;
  /** The expansion, absent when expanded == input channels. */
  expand?: ConvBnSpec;
  /** The depthwise convolution [expanded, 1, k, k]. */
  depthwise: ConvBnSpec;
  /** Squeeze-and-excitation, when the block has one. */
  se?: SqueezeExciteSpec;
  /** The projection [out, expanded, 1, 1] (no activation). */
  project: ConvBnSpec;
  /** Activation after the expansion and the depthwise convolution. */
  act: Activation;
  /** Adds the input to the output (stride 1 and in == out; Hugging Face EfficientNet: not the first block of a stage). */
  residual: boolean;
}

/**
 * EfficientNetV2's fused MBConv (timm: EdgeResidual, or ConvBnAct without
 * expansion): a full k x k conv (stride, padding) + BN + act to the expanded
 * width -> [1x1 project + BN] (+ the input when `residual`). No
 * squeeze-and-excitation. Without the projection the k x k conv goes
 * straight to the output width.
 */
export interface FusedMBConvSpec {
  /** A fused MBConv block. */
  kind: "fused";
  /** Prefix of the block's tensors, for messages. */
  name: string;
  /** Input channels. */
  inChannels: number;
  /** Output channels of the k x k conv (the output channels without a projection). */
  expanded: number;
  /** Output channels. */
  outChannels: number;
  /** Kernel size of the full convolution. */
  kernel: number;
  /** Its stride (1 or 2). */
  stride: 1 | 2;
  /** Its padding (k/2, or TensorFlow "same"). */
  padding: Padding;
  /** The full convolution [expanded, in, k, k]. */
  conv: ConvBnSpec;
  /** The projection [out, expanded, 1, 1] (no activation), when the block expands. */
  project?: ConvBnSpec;
  /** Activation after the full convolution. */
  act: Activation;
  /** Adds the input to the output (stride 1 and in == out). */
  residual: boolean;
}

/** One block of the chain. */
export type MobileNetBlockSpec = InvertedResidualSpec | FusedMBConvSpec;

/** Which key layout a checkpoint uses. */
export type MobileNetLayout = "torchvision" | "timm" | "hf";

/** The architecture (identifies strides, activations and BatchNorm eps). */
export type MobileNetArch = "mobilenet_v2" | "mobilenet_v3" | "efficientnet" | "efficientnet_v2";

/** A MobileNetV2 / V3 / EfficientNet, independent of how its checkpoint names things. */
export interface MobileNetSpec {
  /** The key layout. */
  layout: MobileNetLayout;
  /** The architecture. */
  arch: MobileNetArch;
  /**
   * The published variant the shapes identify, e.g. "mobilenet_v3_small",
   * "efficientnet_b0" (undefined when they match none: then only what the
   * architecture fixes is assumed).
   */
  variant?: string;
  /** Input channels (3 for RGB). */
  inChannels: number;
  /** Stem: k x k conv of stride 2 + BN + act, padded as `padding` says. */
  stem: ConvBnSpec & { stride: 1 | 2; act: Activation; padding: Padding };
  /** The blocks (inverted-residual; EfficientNetV2: fused first), input first. */
  blocks: MobileNetBlockSpec[];
  /** The final 1x1 conv + BN + act whose output is the feature map (Grad-CAM's target). */
  final: ConvBnSpec & { act: Activation };
  /** Epsilon of every BatchNorm. */
  bnEps: number;
  /** Pool -> linear layer(s). */
  head: HeadSpec;
  /** What was inferred or assumed (with the evidence). */
  notes: string[];
}
