/**
 * The layout-free description of a Swin Transformer (v1, Liu et al. 2021)
 * or Swin Transformer V2 (Liu et al. 2022) classifier: what `model.ts`
 * runs, whatever the checkpoint's key names (`layouts.ts` builds it from
 * torchvision, Hugging Face or timm names). Widths, depths, heads, window
 * sizes and MLP widths come from tensor shapes; what the weights do not
 * record (window rules at odd sizes, mask value) comes from the layout and
 * is stated in `notes`.
 */
import type { Activation } from "../../ops/activation.ts";
import type { HeadSpec } from "../../nn/head.ts";
import type { LinearNames, NormNames } from "../../weights/layout_check.ts";

/** Swin V2's continuous position bias: MLP(2 -> hidden, ReLU, -> heads) over log-spaced offsets. */
export interface ContinuousBiasSpec {
  /** First layer [hidden, 2] with bias. */
  fc1: LinearNames;
  /** Second layer [heads, hidden], no bias. */
  fc2: string;
  /**
   * The window the offsets are normalised by (Hugging Face
   * `pretrained_window_sizes`, timm `pretrained_window_size`); 0: the block's own window.
   */
  pretrainedWindow: number;
}

/** One Swin block. */
export interface SwinBlockSpec {
  /** Prefix of the block's tensors, for messages. */
  name: string;
  /** Channels. */
  dim: number;
  /** Attention heads. */
  heads: number;
  /** MLP hidden width. */
  hidden: number;
  /** v1: LayerNorm before attention; v2: LayerNorm of the attention branch's output. */
  norm1: NormNames;
  /** v1: LayerNorm before the MLP; v2: LayerNorm of the MLP branch's output. */
  norm2: NormNames;
  /** q, k, v: one fused [3D, D] linear or three [D, D] (a missing bias is zero). */
  qkv: LinearNames[];
  /** Split q / v biases (timm Swin V2 `q_bias`, `v_bias`; the key has none). */
  qvBias?: { q: string; v: string };
  /** Swin V2: the key's bias is zeroed (torchvision zeroes it at every forward). */
  zeroKeyBias: boolean;
  /** Attention output projection [D, D]. */
  proj: LinearNames;
  /** MLP [hidden, D] then [D, hidden]. */
  fc1: LinearNames;
  /** MLP projection. */
  fc2: LinearNames;
  /** v1: the relative-position bias table [(2 ws0 - 1)(2 ws1 - 1), heads]. */
  relativeTable?: string;
  /** v2: log of the per-head logit scale [heads, 1, 1] (clamped at log 100). */
  logitScale?: string;
  /** v2: the continuous position bias MLP. */
  cpb?: ContinuousBiasSpec;
  /** Odd blocks of a stage shift their windows by half a window. */
  shifted: boolean;
}

/** One stage: an optional patch merging (2x2 neighbours -> LayerNorm / Linear), then blocks. */
export interface SwinStageSpec {
  /** Patch merging before the stage's blocks (the layouts differ in where they store it). */
  merge?: { norm: NormNames; reduction: string; inDim: number };
  /** Channels. */
  dim: number;
  /** Heads. */
  heads: number;
  /** The window size this stage's blocks were built with (before any shrinking rule). */
  window: number;
  /** The blocks. */
  blocks: SwinBlockSpec[];
}

/** Which key layout a Swin checkpoint uses. */
export type SwinLayout = "torchvision" | "hf" | "timm";

/**
 * How each library picks a stage's window and shift, which only matters
 * when a stage's map is not a whole number of windows or is no larger than
 * one window:
 * - "torchvision": pad to whole windows; no shift along an axis whose padded
 *   size is at most the window.
 * - "hf": pad to whole windows; no shift when the smaller side is at most
 *   the window (Hugging Face refuses smaller sides below the window).
 * - "construction": window = min(window, grid the model was built for),
 *   shift 0 where that grid is at most the window (Hugging Face Swin V2,
 *   timm); the input must then be the size the model was built for when
 *   the layout requires it (`fixedInput`).
 */
export type WindowRule = "torchvision" | "hf" | "construction";

/** A Swin / Swin V2, independent of how its checkpoint names things. */
export interface SwinSpec {
  /** The key layout. */
  layout: SwinLayout;
  /** 1 (pre-norm, relative-position table) or 2 (post-norm, cosine attention, continuous bias). */
  version: 1 | 2;
  /** Input channels. */
  inChannels: number;
  /** Patch embedding: patch x patch conv of stride patch, then LayerNorm. */
  stem: { conv: LinearNames; patch: number; dim: number; norm: NormNames };
  /** Hugging Face pads pixels to whole patches; torchvision and timm drop the remainder. */
  padPixels: boolean;
  /** Patch merging: v1 LayerNorm(4C) then Linear; v2 Linear then LayerNorm(2C). */
  mergeNormFirst: boolean;
  /** The stages. */
  stages: SwinStageSpec[];
  /** LayerNorm over the final tokens, before pooling. */
  finalNorm: NormNames;
  /** LayerNorm epsilon (every norm). */
  eps: number;
  /** MLP activation. */
  act: Activation;
  /** The window / shift rule of the layout. */
  windowRule: WindowRule;
  /** For "construction": the patch grid the model was built for (input size / patch). */
  constructionGrid?: [number, number];
  /** timm: the input must be exactly this size (its patch embedding is strict). */
  fixedInput?: [number, number];
  /** The shift mask's value (-100; Hugging Face Swin V2 adds it twice: -200). */
  maskValue: number;
  /** Mean pool -> linear. */
  head: HeadSpec;
  /** Blocks per stage. */
  depths: number[];
  /** Channels per stage. */
  widths: number[];
  /** What was inferred or assumed (with the evidence). */
  notes: string[];
}
