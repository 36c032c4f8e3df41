/**
 * MobileNetV2 / MobileNetV3 / EfficientNet (V1, V2) key layouts: turns the tensor
 * names and shapes of a checkpoint (plus its config.json) into a
 * {@link MobileNetSpec}.
 *
 * - torchvision `mobilenet_v2`: `features.0.{0,1}` stem,
 *   `features.i.conv.{[0 expand], dw, conv, bn}` blocks, `features.L.{0,1}`
 *   final conv, `classifier.1`;
 * - torchvision `mobilenet_v3_{small,large}`: `features.i.block.{[expand],
 *   dw, [se.fc1/fc2], project}`, `classifier.{0,3}` (Linear, Hardswish,
 *   Dropout, Linear);
 * - torchvision `efficientnet_b0..b7`: stages `features.s.j.block.{[expand],
 *   dw, se.fc1/fc2, project}`, `classifier.1`;
 * - timm `efficientnet_b0..b7` / `mobilenetv3_{large,small}_*`: `conv_stem`,
 *   `bn1`, `blocks.S.B.{conv_pw,bn1,conv_dw,bn2,se.conv_reduce,
 *   se.conv_expand,conv_pwl,bn3}` (InvertedResidual) or
 *   `{conv_dw,bn1,[se],conv_pw,bn2}` (DepthwiseSeparableConv); EfficientNet:
 *   `conv_head`, `bn2`, `classifier`; MobileNetV3: the last stage's
 *   ConvBnAct `blocks.L.0.{conv,bn1}` is the final conv and `conv_head`
 *   (1x1 with bias) runs on the pooled features before `classifier`. timm
 *   uses BatchNorm eps 1e-5 throughout; its `tf_*` builds eps 0.001 and
 *   TensorFlow "same" padding on every convolution;
 * - torchvision `efficientnet_v2_s/m/l`: fused MBConv blocks
 *   `features.s.j.block.{0 (k x k conv), [1 (1x1 project)]}` before the
 *   MBConv ones; timm `[tf_]efficientnetv2_*`: ConvBnAct `{conv,bn1}` and
 *   EdgeResidual `{conv_exp,bn1,conv_pwl,bn2}`;
 * - Hugging Face MobileNetV2 / EfficientNet: see `hf.ts`.
 *
 * Channel counts, depths, kernel sizes and squeeze-and-excitation presence
 * and widths come from tensor shapes. Strides and activations are not in the
 * weights: they come from the torchvision architecture the layout follows
 * (MobileNetV2's 17-block table, MobileNetV3 small/large's published block
 * tables, EfficientNet's 7-stage table), are stated in the notes, and
 * config.json may give `block_strides` (one 1 or 2 per block) instead.
 * BatchNorm eps likewise (`bn_eps` / `batch_norm_eps` overrides).
 */
import { ModelLayoutError } from "../../errors.ts";
import type { Activation } from "../../ops/activation.ts";
import type { Padding } from "../../ops/padding.ts";
import { expectHead, type HeadSpec, headSpec } from "../../nn/head.ts";
import { checkTimmModelArgs } from "../timm_args.ts";
import {
  bnNames,
  boolField,
  checkTensors,
  countIndexed,
  expectBn,
  type Expected,
  intListField,
  linearNames,
  positiveField,
  requireShape,
  summarizeNames,
  type TensorIndex,
  timmArchitecture,
} from "../../weights/layout_check.ts";
import type {
  ConvBnSpec,
  FusedMBConvSpec,
  InvertedResidualSpec,
  MobileNetArch,
  MobileNetBlockSpec,
  MobileNetLayout,
  MobileNetSpec,
  SqueezeExciteSpec,
} from "./spec.ts";
import { hfEfficientNetNaming, hfMobileNetV2Naming } from "./hf.ts";

/** The torchvision architecture a checkpoint's names follow. */
type TvArch = MobileNetArch;

/**
 * Which layout (and torchvision architecture) a checkpoint uses, from its
 * tensor names and config.json; undefined when it is none of these.
 */
export function detectMobileNetLayout(
  names: readonly string[],
  config: Record<string, unknown> = {},
): { layout: MobileNetLayout; arch: MobileNetArch } | undefined {
  const set = new Set(names);
  if (set.has("features.0.0.weight")) {
    if (set.has("features.1.conv.0.0.weight")) {
      return { layout: "torchvision", arch: "mobilenet_v2" };
    }
    if (set.has("features.1.block.0.0.weight")) {
      return { layout: "torchvision", arch: "mobilenet_v3" };
    }
    if (set.has("features.1.0.block.0.0.weight")) {
      // EfficientNet's first block is depthwise + SE + project; EfficientNetV2's a fused 3x3 conv.
      const v1 = set.has("features.1.0.block.1.fc1.weight");
      return { layout: "torchvision", arch: v1 ? "efficientnet" : "efficientnet_v2" };
    }
  }
  if (set.has("mobilenet_v2.conv_stem.first_conv.convolution.weight")) {
    return { layout: "hf", arch: "mobilenet_v2" };
  }
  if (set.has("efficientnet.embeddings.convolution.weight")) {
    return { layout: "hf", arch: "efficientnet" };
  }
  if (
    set.has("conv_stem.weight") &&
    (set.has("blocks.0.0.conv_dw.weight") || set.has("blocks.0.0.conv.weight"))
  ) {
    return { layout: "timm", arch: timmArch(set, config) };
  }
  return undefined;
}

/**
 * The architecture of a timm checkpoint: from config.json's `architecture`,
 * else from names (EfficientNetV2: a ConvBnAct first block or EdgeResidual
 * `conv_exp` blocks; MobileNetV3: no `bn2` after `conv_head`).
 */
function timmArch(set: Set<string>, config: Record<string, unknown>): MobileNetArch {
  const arch = timmArchitecture(config).replace(/^tf_/, "");
  if (arch) {
    return arch.startsWith("mobilenetv3")
      ? "mobilenet_v3"
      : arch.startsWith("efficientnetv2")
      ? "efficientnet_v2"
      : "efficientnet";
  }
  if (
    set.has("blocks.0.0.conv.weight") ||
    [...set].some((n) => /^blocks\.\d+\.\d+\.conv_exp\.weight$/.test(n))
  ) {
    return "efficientnet_v2";
  }
  return set.has("bn2.weight") ? "efficientnet" : "mobilenet_v3";
}

/** Builds the spec of a checkpoint in the detected layout. */
export function mobilenetSpec(
  index: TensorIndex,
  config: Record<string, unknown> = {},
  where = "checkpoint",
): MobileNetSpec {
  const found = detectMobileNetLayout(index.names(), config);
  if (!found) {
    throw new ModelLayoutError(
      `${where} is not a MobileNet / EfficientNet layout this loader knows (torchvision ` +
        `mobilenet_v2, mobilenet_v3_small/large, efficientnet_b0..b7; timm [tf_]efficientnet_b*, ` +
        `[tf_]mobilenetv3_*; Hugging Face MobileNetV2ForImageClassification, ` +
        `EfficientNetForImageClassification). Found: ${summarizeNames(index.names())}.`,
    );
  }
  const naming = found.layout === "timm"
    ? timmNaming(index, config, where)
    : found.layout === "hf"
    ? (found.arch === "mobilenet_v2" ? hfMobileNetV2Naming : hfEfficientNetNaming)(
      index,
      config,
      where,
    )
    : torchvisionNaming(index, config, where, found.arch);
  return buildSpec(index, config, where, naming);
}

// ------------------------------------------------------------------ torchvision architecture tables

/** torchvision's `_make_divisible` (channels rounded to a multiple of 8, at most 10% down). */
export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor(Math.floor(v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

/** torchvision MobileNetV2: stride of each of the 17 blocks (inverted_residual_setting t, c, n, s). */
const V2_STRIDES = [1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1] as const;

/** One row of torchvision's MobileNetV3 tables: kernel, SE, activation ("RE" / "HS"), stride. */
type V3Row = [number, boolean, "RE" | "HS", 1 | 2];

/** torchvision `_mobilenet_v3_conf` tables (Tables 1 and 2 of the paper). */
const V3_TABLES: Record<"mobilenet_v3_large" | "mobilenet_v3_small", V3Row[]> = {
  mobilenet_v3_large: [
    [3, false, "RE", 1],
    [3, false, "RE", 2],
    [3, false, "RE", 1],
    [5, true, "RE", 2],
    [5, true, "RE", 1],
    [5, true, "RE", 1],
    [3, false, "HS", 2],
    [3, false, "HS", 1],
    [3, false, "HS", 1],
    [3, false, "HS", 1],
    [3, true, "HS", 1],
    [3, true, "HS", 1],
    [5, true, "HS", 2],
    [5, true, "HS", 1],
    [5, true, "HS", 1],
  ],
  mobilenet_v3_small: [
    [3, true, "RE", 2],
    [3, false, "RE", 2],
    [3, false, "RE", 1],
    [5, true, "HS", 2],
    [5, true, "HS", 1],
    [5, true, "HS", 1],
    [5, true, "HS", 1],
    [5, true, "HS", 1],
    [5, true, "HS", 2],
    [5, true, "HS", 1],
    [5, true, "HS", 1],
  ],
};

/** torchvision EfficientNet B0 stages: expand ratio, kernel, stride, in, out, layers. */
const EFFNET_STAGES: [number, number, 1 | 2, number, number, number][] = [
  [1, 3, 1, 32, 16, 1],
  [6, 3, 2, 16, 24, 2],
  [6, 5, 2, 24, 40, 2],
  [6, 3, 2, 40, 80, 3],
  [6, 5, 1, 80, 112, 3],
  [6, 5, 2, 112, 192, 4],
  [6, 3, 1, 192, 320, 1],
];

/** torchvision efficientnet_b0..b7: width and depth multipliers, BatchNorm eps. */
const EFFNET_VARIANTS: { name: string; width: number; depth: number; eps: number }[] = [
  { name: "efficientnet_b0", width: 1.0, depth: 1.0, eps: 1e-5 },
  { name: "efficientnet_b1", width: 1.0, depth: 1.1, eps: 1e-5 },
  { name: "efficientnet_b2", width: 1.1, depth: 1.2, eps: 1e-5 },
  { name: "efficientnet_b3", width: 1.2, depth: 1.4, eps: 1e-5 },
  { name: "efficientnet_b4", width: 1.4, depth: 1.8, eps: 1e-5 },
  { name: "efficientnet_b5", width: 1.6, depth: 2.2, eps: 1e-3 },
  { name: "efficientnet_b6", width: 1.8, depth: 2.6, eps: 1e-3 },
  { name: "efficientnet_b7", width: 2.0, depth: 3.1, eps: 1e-3 },
];

/** torchvision efficientnet_v2_s/m/l: stem width, stage widths and depths (BatchNorm eps 0.001). */
const EFFNET_V2_VARIANTS: { name: string; stem: number; widths: number[]; depths: number[] }[] = [
  {
    name: "efficientnet_v2_s",
    stem: 24,
    widths: [24, 48, 64, 128, 160, 256],
    depths: [2, 4, 4, 6, 9, 15],
  },
  {
    name: "efficientnet_v2_m",
    stem: 24,
    widths: [24, 48, 80, 160, 176, 304, 512],
    depths: [3, 5, 5, 7, 14, 18, 5],
  },
  {
    name: "efficientnet_v2_l",
    stem: 32,
    widths: [32, 64, 96, 192, 224, 384, 640],
    depths: [4, 7, 7, 10, 19, 25, 7],
  },
];

/** EfficientNetV2's first-block stride per stage (torchvision's and timm's tables: 6 or 7 stages). */
const EFFNET_V2_STRIDES = [1, 2, 2, 2, 1, 2, 1] as const;

/** Stem width, stage output widths and stage depths of an EfficientNet variant. */
function effnetShape(width: number, depth: number) {
  return {
    stem: makeDivisible(32 * width),
    widths: EFFNET_STAGES.map((s) => makeDivisible(s[4] * width)),
    depths: EFFNET_STAGES.map((s) => Math.ceil(s[5] * depth)),
  };
}

const same = (a: readonly number[], b: readonly number[]) =>
  a.length === b.length && a.every((v, i) => v === b[i]);

// ------------------------------------------------------------------------------ torchvision blocks

/** One child of a torchvision block's Sequential, classified by its tensors. */
type Unit =
  | { kind: "convbn"; conv: string; bn: string; shape: number[] }
  | { kind: "conv"; conv: string; shape: number[] }
  | { kind: "bn"; bn: string }
  | { kind: "se"; prefix: string };

function units(index: TensorIndex, set: Set<string>, prefix: string, where: string): Unit[] {
  const n = countIndexed(index.names(), `${prefix}.`, where);
  const out: Unit[] = [];
  for (let i = 0; i < n; i++) {
    const p = `${prefix}.${i}`;
    if (set.has(`${p}.0.weight`)) {
      out.push({
        kind: "convbn",
        conv: `${p}.0.weight`,
        bn: `${p}.1`,
        shape: requireShape(index, set, `${p}.0.weight`, where, 4),
      });
    } else if (set.has(`${p}.fc1.weight`)) {
      out.push({ kind: "se", prefix: p });
    } else if (set.has(`${p}.running_mean`)) {
      out.push({ kind: "bn", bn: p });
    } else if (set.has(`${p}.weight`)) {
      out.push({ kind: "conv", conv: `${p}.weight`, shape: index.info(`${p}.weight`).shape });
    } else {
      throw new ModelLayoutError(
        `${where}: ${p} is none of conv + BatchNorm, conv, BatchNorm or squeeze-and-excitation ` +
          `(found ${index.names().filter((x) => x.startsWith(`${p}.`)).join(", ") || "nothing"}).`,
      );
    }
  }
  return out;
}

/** What the architecture says about block i beyond its shapes. */
interface BlockRule {
  stride: 1 | 2;
  /** The depthwise padding for a k x k kernel. */
  padding: (k: number) => Padding;
  /** Adds the input (default: stride 1 and in == out). */
  residual?: boolean;
  act: Activation;
  /** SE activations (when the block has SE). */
  seAct: Activation;
  seGate: Activation;
}

/** A block's convolutions (each with its BatchNorm) in order, and its SE module's two convs. */
export interface RawBlock {
  prefix: string;
  /** A fused MBConv (a full k x k conv where the depthwise would be; EfficientNetV2). */
  fused?: boolean;
  convs: { conv: string; bn: string; shape: number[] }[];
  se?: { reduce: string; expand: string };
}

/** Reads one torchvision block's Sequential under `prefix`. */
function tvRawBlock(index: TensorIndex, set: Set<string>, prefix: string, where: string): RawBlock {
  const list = units(index, set, prefix, where);
  // Normalize: a bare conv followed by a BatchNorm (MobileNetV2's projection) is one conv + BN.
  const convs: RawBlock["convs"] = [];
  let se: string | undefined;
  let seAfter = -1;
  for (let i = 0; i < list.length; i++) {
    const u = list[i];
    if (u.kind === "convbn") convs.push(u);
    else if (u.kind === "conv" && list[i + 1]?.kind === "bn") {
      convs.push({ conv: u.conv, bn: (list[++i] as { bn: string }).bn, shape: u.shape });
    } else if (u.kind === "se" && se === undefined) {
      se = u.prefix;
      seAfter = convs.length;
    } else {
      throw new ModelLayoutError(
        `${where}: block ${prefix} has an unexpected module layout (a conv without its ` +
          `BatchNorm, or two squeeze-and-excitation modules); expected [expand] -> depthwise -> ` +
          `[squeeze-and-excitation] -> project.`,
      );
    }
  }
  // EfficientNetV2's fused MBConv: a full k x k conv first (+ 1x1 project), no SE.
  const first = convs[0]?.shape;
  if (se === undefined && first && first[1] !== 1 && first[2] > 1 && convs.length <= 2) {
    return { prefix, convs, fused: true };
  }
  if (se !== undefined && seAfter !== convs.length - 1) {
    throw new ModelLayoutError(
      `${where}: block ${prefix}: squeeze-and-excitation is not between the depthwise and the ` +
        `projection convolutions.`,
    );
  }
  return {
    prefix,
    convs,
    se: se === undefined ? undefined : { reduce: `${se}.fc1`, expand: `${se}.fc2` },
  };
}

/**
 * Reads one timm block `prefix`: InvertedResidual (conv_pw/bn1, conv_dw/bn2,
 * [se], conv_pwl/bn3), DepthwiseSeparableConv (conv_dw/bn1, [se],
 * conv_pw/bn2), EdgeResidual (conv_exp/bn1, conv_pwl/bn2) or ConvBnAct
 * (conv/bn1).
 */
function timmRawBlock(
  index: TensorIndex,
  set: Set<string>,
  prefix: string,
  where: string,
): RawBlock {
  const cb = (conv: string, bn: string) => ({
    conv: `${prefix}.${conv}.weight`,
    bn: `${prefix}.${bn}`,
    shape: requireShape(index, set, `${prefix}.${conv}.weight`, where, 4),
  });
  // EfficientNetV2: EdgeResidual (conv_exp/bn1, conv_pwl/bn2) or ConvBnAct (conv/bn1).
  if (set.has(`${prefix}.conv_exp.weight`)) {
    return { prefix, fused: true, convs: [cb("conv_exp", "bn1"), cb("conv_pwl", "bn2")] };
  }
  if (set.has(`${prefix}.conv.weight`)) return { prefix, fused: true, convs: [cb("conv", "bn1")] };
  const convs = set.has(`${prefix}.conv_pwl.weight`)
    ? [cb("conv_pw", "bn1"), cb("conv_dw", "bn2"), cb("conv_pwl", "bn3")]
    : [cb("conv_dw", "bn1"), cb("conv_pw", "bn2")];
  const se = set.has(`${prefix}.se.conv_reduce.weight`)
    ? { reduce: `${prefix}.se.conv_reduce`, expand: `${prefix}.se.conv_expand` }
    : undefined;
  return { prefix, convs, se };
}

/** Builds one inverted-residual block from its raw tensors. */
function block(
  index: TensorIndex,
  set: Set<string>,
  raw: RawBlock,
  inChannels: number,
  rule: BlockRule,
  e: Expected,
  where: string,
): MobileNetBlockSpec {
  const { prefix, convs } = raw;
  if (raw.fused) return fusedBlock(raw, inChannels, rule, e, where);
  if (convs.length !== 2 && convs.length !== 3) {
    throw new ModelLayoutError(
      `${where}: block ${prefix} has ${convs.length} convolutions; an inverted-residual block has ` +
        `2 (depthwise, project) or 3 (expand, depthwise, project).`,
    );
  }
  const hasExpand = convs.length === 3;
  const [expandC, dwC, projC] = hasExpand ? convs : [undefined, ...convs];
  const expanded = dwC!.shape[0];
  const k = dwC!.shape[2];
  if (dwC!.shape[1] !== 1 || dwC!.shape[3] !== k || k % 2 !== 1) {
    throw new ModelLayoutError(
      `${where}: block ${prefix}: ${dwC!.conv} [${dwC!.shape}] is not a depthwise convolution ` +
        `[C, 1, k, k] with an odd k (a fused MBConv block has no squeeze-and-excitation).`,
    );
  }
  if (!hasExpand && expanded !== inChannels) {
    throw new ModelLayoutError(
      `${where}: block ${prefix}: depthwise ${dwC!.conv} has ${expanded} channels but the block ` +
        `input has ${inChannels}.`,
    );
  }
  const outChannels = projC!.shape[0];
  const block: InvertedResidualSpec = {
    kind: "mbconv",
    name: prefix,
    inChannels,
    expanded,
    outChannels,
    kernel: k,
    stride: rule.stride,
    padding: rule.padding(k),
    expand: expandC ? convBnOf(expandC, expanded, inChannels, 1, e) : undefined,
    depthwise: convBnOf(dwC!, expanded, 1, k, e),
    project: convBnOf(projC!, outChannels, expanded, 1, e),
    act: rule.act,
    residual: rule.residual ?? (rule.stride === 1 && inChannels === outChannels),
  };
  if (raw.se) {
    const squeeze = requireShape(index, set, `${raw.se.reduce}.weight`, where, 4)[0];
    const s: SqueezeExciteSpec = {
      reduce: linearNames(raw.se.reduce, true),
      expand: linearNames(raw.se.expand, true),
      squeeze,
      act: rule.seAct,
      gate: rule.seGate,
    };
    e.set(s.reduce.weight, [squeeze, expanded, 1, 1]);
    e.set(s.reduce.bias!, [squeeze]);
    e.set(s.expand.weight, [expanded, squeeze, 1, 1]);
    e.set(s.expand.bias!, [expanded]);
    block.se = s;
  }
  return block;
}

/** A conv + BN, its weight expected as [out, inp, k, k] and its BatchNorm as [out]. */
function convBnOf(
  c: { conv: string; bn: string },
  out: number,
  inp: number,
  kernel: number,
  e: Expected,
): ConvBnSpec {
  e.set(c.conv, [out, inp, kernel, kernel]);
  const bn = bnNames(c.bn);
  expectBn(e, bn, out);
  return { weight: c.conv, bn, out, in: inp, kernel };
}

/** EfficientNetV2's fused MBConv: full k x k conv (+ act) -> [1x1 project]. */
function fusedBlock(
  raw: RawBlock,
  inChannels: number,
  rule: BlockRule,
  e: Expected,
  where: string,
): FusedMBConvSpec {
  const [conv, project] = raw.convs;
  const [expanded, cin, k, k2] = conv.shape;
  if (cin !== inChannels || k !== k2 || k % 2 !== 1) {
    throw new ModelLayoutError(
      `${where}: fused block ${raw.prefix}: ${conv.conv} [${conv.shape}] should be ` +
        `[C, ${inChannels}, k, k] with an odd k.`,
    );
  }
  const outChannels = project ? project.shape[0] : expanded;
  return {
    kind: "fused",
    name: raw.prefix,
    inChannels,
    expanded,
    outChannels,
    kernel: k,
    stride: rule.stride,
    padding: rule.padding(k),
    conv: convBnOf(conv, expanded, inChannels, k, e),
    project: project ? convBnOf(project, outChannels, expanded, 1, e) : undefined,
    act: rule.act,
    residual: rule.residual ?? (rule.stride === 1 && inChannels === outChannels),
  };
}

/** config.json `block_strides`, checked against the number of blocks. */
function configStrides(
  config: Record<string, unknown>,
  count: number,
  where: string,
): (1 | 2)[] | undefined {
  const s = intListField(config, "block_strides", where);
  if (s === undefined) return undefined;
  if (s.length !== count || s.some((v) => v !== 1 && v !== 2)) {
    throw new ModelLayoutError(
      `${where}: config block_strides ${JSON.stringify(s)} must list ${count} strides of 1 or 2 ` +
        `(one per inverted-residual block).`,
    );
  }
  return s as (1 | 2)[];
}

function bnEpsOverride(config: Record<string, unknown>, where: string): number | undefined {
  return positiveField(config, "bn_eps", where) ?? positiveField(config, "batch_norm_eps", where);
}

/** Where a layout keeps the stem, blocks, final conv and head, and what it fixes beyond them. */
export interface Naming {
  layout: MobileNetLayout;
  arch: MobileNetArch;
  /** "torchvision" / "timm" / "Hugging Face", for messages. */
  label: string;
  stem: { conv: string; bn: string };
  blocks: RawBlock[];
  /** Stage of each block (EfficientNet's stride rule). */
  stageOf: number[];
  final: { conv: string; bn: string };
  /** MobileNetV3's BatchNorm eps in this layout's library (torchvision 0.001, timm 1e-5). */
  v3Eps: number;
  /** BatchNorm eps fixed by the layout (config.json, a library default), with its note. */
  eps?: { value: number; note: string };
  /** Activation fixed by the layout (MobileNetV2, EfficientNet), with its note. */
  act?: { value: Activation; note: string };
  /** EfficientNet: stride of each stage's first block (default torchvision's table). */
  stageStrides?: number[];
  /** How the stem convolution pads (k: its kernel size). */
  stemPadding: (k: number) => Padding;
  /** How block i's depthwise convolution pads. */
  dwPadding: (i: number, k: number, stride: 1 | 2) => Padding;
  /** Whether block i adds its input; undefined: stride 1 and in == out. */
  residual?: (i: number, stride: 1 | 2) => boolean | undefined;
  /** What the layout assumes (padding, stages), for the spec's notes. */
  notes?: string[];
  /** The head over the pooled final features; `e` gets its tensors. */
  head(features: number, e: Expected): HeadSpec;
}

function torchvisionNaming(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
  arch: TvArch,
): Naming {
  const names = index.names();
  const set = new Set(names);
  const children = countIndexed(names, "features.", where);
  if (children < 3) {
    throw new ModelLayoutError(
      `${where}: torchvision ${arch} features.N has ${children} children; expected the stem, ` +
        `blocks and the final 1x1 convolution.`,
    );
  }
  // Block prefixes in order (EfficientNet: stages of blocks).
  const blocks: RawBlock[] = [];
  const stageOf: number[] = [];
  for (let i = 1; i < children - 1; i++) {
    if (arch === "efficientnet" || arch === "efficientnet_v2") {
      const n = countIndexed(names, `features.${i}.`, where);
      for (let j = 0; j < n; j++) {
        blocks.push(tvRawBlock(index, set, `features.${i}.${j}.block`, where));
        stageOf.push(i - 1);
      }
    } else {
      const p = `features.${i}.${arch === "mobilenet_v2" ? "conv" : "block"}`;
      blocks.push(tvRawBlock(index, set, p, where));
      stageOf.push(i - 1);
    }
  }
  const fp = `features.${children - 1}`;
  return {
    layout: "torchvision",
    arch,
    label: "torchvision",
    stem: { conv: "features.0.0.weight", bn: "features.0.1" },
    blocks,
    stageOf,
    final: { conv: `${fp}.0.weight`, bn: `${fp}.1` },
    v3Eps: 1e-3,
    stemPadding: symmetric,
    dwPadding: (_i, k) => symmetric(k),
    head: (features, e) => {
      const head = headSpec(
        index,
        "classifier",
        features,
        config,
        where,
        arch === "mobilenet_v3"
          ? {
            hiddenActivation: {
              act: "hardswish",
              reason: "torchvision MobileNetV3's classifier is Linear, Hardswish, Dropout, Linear",
            },
          }
          : {},
      );
      expectHead(e, head);
      return head;
    },
  };
}

/** PyTorch's padding of an odd k x k convolution: k/2 on every side. */
const symmetric = (k: number): Padding => Math.floor(k / 2);

/**
 * timm architecture names this loader runs (the torchvision-equivalent
 * tables; `tf_*`: TensorFlow "same" padding and BatchNorm eps 0.001).
 */
const TIMM_ARCHS =
  /^(tf_)?(efficientnet_b[0-7](_ap|_ns)?|mobilenetv3_(large|small)_\d+|efficientnetv2_(s|m|l|xl))$|^tf_efficientnetv2_b[0-3]$/;

function timmNaming(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
): Naming {
  const names = index.names();
  const set = new Set(names);
  // The architecture name picks the block table, activations and padding; no model_args option
  // (act_layer, se_layer, round_chs_fn, fix_stem, ...) is read, so any is refused.
  checkTimmModelArgs(config, {}, "EfficientNet / MobileNet", where);
  const archName = timmArchitecture(config);
  if (archName && !TIMM_ARCHS.test(archName)) {
    throw new ModelLayoutError(
      `${where}: timm ${archName} is not supported; of timm's EfficientNet / MobileNet builds ` +
        `only [tf_]efficientnet_b0..b7, [tf_]efficientnetv2_s/m/l/xl, tf_efficientnetv2_b0..b3 ` +
        `and [tf_]mobilenetv3_large_* / mobilenetv3_small_* are (other ` +
        `variants change blocks, activations or padding that the weights do not record).`,
    );
  }
  // MobileNetV3: conv_head (with bias) runs on the pooled features; EfficientNet: conv_head + bn2.
  const tf = archName.startsWith("tf_");
  const arch = timmArch(set, config);
  const v3 = arch === "mobilenet_v3";
  const stages = countIndexed(names, "blocks.", where);
  const blocks: RawBlock[] = [];
  const stageOf: number[] = [];
  for (let s = 0; s < (v3 ? stages - 1 : stages); s++) {
    const n = countIndexed(names, `blocks.${s}.`, where);
    for (let j = 0; j < n; j++) {
      blocks.push(timmRawBlock(index, set, `blocks.${s}.${j}`, where));
      stageOf.push(s);
    }
  }
  if (arch === "efficientnet" && blocks.some((b) => !b.se)) {
    throw new ModelLayoutError(
      `${where}: timm EfficientNet-style checkpoint with blocks lacking squeeze-and-excitation ` +
        `(mobilenetv2_*, efficientnet_lite*, mnasnet_*?): not supported; only efficientnet_b0..b7 ` +
        `(SE in every block) is. Set "architecture" in config.json to say which model it is.`,
    );
  }
  const last = `blocks.${stages - 1}.0`;
  return {
    layout: "timm",
    arch,
    label: "timm",
    stem: { conv: "conv_stem.weight", bn: "bn1" },
    blocks,
    stageOf,
    final: v3 ? { conv: `${last}.conv.weight`, bn: `${last}.bn1` } : {
      conv: "conv_head.weight",
      bn: "bn2",
    },
    v3Eps: tf ? 1e-3 : 1e-5,
    eps: tf
      ? { value: 1e-3, note: `BatchNorm eps 0.001: timm's tf_* models (BN_EPS_TF_DEFAULT)` }
      : undefined,
    stemPadding: tf ? () => "same" : symmetric,
    dwPadding: tf ? () => "same" : (_i, k) => symmetric(k),
    notes: tf
      ? [`TensorFlow "same" padding on every convolution (timm ${archName}: pad_type "same")`]
      : [],
    head: (features, e) => {
      if (!v3) {
        const head = headSpec(index, "classifier", features, config, where);
        expectHead(e, head);
        return head;
      }
      // timm MobileNetV3: pool -> conv_head (1x1, bias) -> Hardswish -> flatten -> classifier.
      const hidden = requireShape(index, set, "conv_head.weight", where, 4)[0];
      const classes = requireShape(index, set, "classifier.weight", where, 2)[0];
      const head: HeadSpec = {
        features,
        layers: [
          {
            linear: linearNames("conv_head", true),
            inFeatures: features,
            outFeatures: hidden,
            act: "hardswish",
          },
          {
            linear: linearNames("classifier", true),
            inFeatures: hidden,
            outFeatures: classes,
            act: "none",
          },
        ],
        numClasses: classes,
        notes: [
          `head: timm MobileNetV3's conv_head (1x1 conv with bias on the pooled features, ` +
          `${features} -> ${hidden}) + Hardswish, then classifier`,
        ],
      };
      expectHead(e, head);
      e.set("conv_head.weight", [hidden, features, 1, 1]);
      return head;
    },
  };
}

function buildSpec(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
  n: Naming,
): MobileNetSpec {
  const set = new Set(index.names());
  const notes: string[] = [];
  const e: Expected = new Map();
  const arch = n.arch;
  const lib = n.label;
  if (boolField(config, "dilated", where)) {
    throw new ModelLayoutError(
      `${where}: config says dilated: the dilated MobileNetV3 (a segmentation backbone) is not ` +
        `supported; only the classification network is.`,
    );
  }
  const raws = n.blocks;
  const stageOf = n.stageOf;
  const stemShape = requireShape(index, set, n.stem.conv, where, 4);
  const [stemOut, inChannels, sk] = stemShape;

  // What the weights cannot say: strides, activations, eps.
  let variant: string | undefined;
  let eps: number;
  let rules: BlockRule[];
  let stemAct: Activation, finalAct: Activation;
  const override = configStrides(config, raws.length, where);
  const strideNote = override ? "strides from config.json block_strides" : "";
  if (arch === "mobilenet_v2") {
    variant = "mobilenet_v2";
    eps = n.eps?.value ?? 1e-5;
    const act = n.act?.value ?? "relu6";
    stemAct = finalAct = act;
    let strides = override;
    if (!strides) {
      if (raws.length !== V2_STRIDES.length) {
        throw new ModelLayoutError(
          `${where}: ${lib} MobileNetV2 with ${raws.length} blocks: the strides are not ` +
            `recorded in the weights and only the standard 17-block inverted_residual_setting is ` +
            `known; give them as config.json "block_strides": [1 or 2 per block].`,
        );
      }
      strides = [...V2_STRIDES];
      notes.push(
        "strides: torchvision MobileNetV2's inverted_residual_setting (17 blocks; stride 2 at " +
          "blocks 1, 3, 6, 13), not recorded in the weights",
      );
    }
    rules = strides.map((stride) => ({
      stride,
      act,
      seAct: "relu",
      seGate: "sigmoid",
      padding: symmetric,
    }));
    notes.push(
      n.eps && n.act
        ? `${n.act.note}; ${n.eps.note}`
        : "ReLU6 activations, BatchNorm eps 1e-5: torchvision's MobileNetV2 definition",
    );
  } else if (arch === "mobilenet_v3") {
    // Small (11 blocks) or large (15): the kernels and SE presence must match the table.
    const table = raws.length === 11
      ? "mobilenet_v3_small"
      : raws.length === 15
      ? "mobilenet_v3_large"
      : undefined;
    const rows = table ? V3_TABLES[table] : undefined;
    const seen = raws.map((r) => {
      const dw = r.convs.map((c) => c.shape).find((s) => s[1] === 1);
      return { kernel: dw?.[2] ?? 0, se: r.se !== undefined };
    });
    if (!rows || rows.some((r, i) => r[0] !== seen[i].kernel || r[1] !== seen[i].se)) {
      throw new ModelLayoutError(
        `${where}: ${lib} MobileNetV3 with ${raws.length} blocks (kernels ${
          seen.map((s) => s.kernel).join(",")
        }; SE ${seen.map((s) => (s.se ? 1 : 0)).join("")}) matches neither mobilenet_v3_small ` +
          `nor mobilenet_v3_large; the per-block activations and strides are not recorded in the ` +
          `weights, so only those two published tables are supported.`,
      );
    }
    variant = table;
    eps = n.v3Eps;
    stemAct = finalAct = "hardswish";
    rules = rows.map((r, i) => ({
      stride: override?.[i] ?? r[3],
      act: r[2] === "HS" ? "hardswish" : "relu",
      seAct: "relu",
      seGate: "hardsigmoid",
      padding: symmetric,
    }));
    notes.push(
      `${table}: identified from ${raws.length} blocks with kernels and squeeze-and-` +
        `excitation as in torchvision's table; per-block ReLU / Hardswish activations` +
        `${override ? "" : " and strides"} from that table, SE ReLU + Hardsigmoid gate, ` +
        `BatchNorm eps ${n.v3Eps} (${lib}'s MobileNetV3 norm layer); not in the weights`,
    );
  } else {
    const v2 = arch === "efficientnet_v2";
    const stages = stageOf.length ? stageOf[stageOf.length - 1] + 1 : 0;
    if (!v2 && stages !== EFFNET_STAGES.length) {
      throw new ModelLayoutError(
        `${where}: ${lib} EfficientNet with ${stages} stages; only EfficientNet B0-B7 ` +
          `(7 MBConv stages) is supported.`,
      );
    }
    if (v2 && stages !== 6 && stages !== 7 && !n.stageStrides) {
      throw new ModelLayoutError(
        `${where}: ${lib} EfficientNetV2 with ${stages} stages; the stage strides are not in the ` +
          `weights and only the published 6- and 7-stage tables are known; give them as ` +
          `config.json "block_strides": [1 or 2 per block].`,
      );
    }
    const inStage = (s: number) => raws.filter((_, i) => stageOf[i] === s);
    const widths = Array.from(
      { length: stages },
      (_, s) => inStage(s).at(-1)?.convs.at(-1)?.shape[0] ?? 0,
    );
    const depths = Array.from({ length: stages }, (_, s) => inStage(s).length);
    const match = v2
      ? EFFNET_V2_VARIANTS.map((v) => ({ ...v, eps: 1e-3 })).find((v) =>
        v.stem === stemOut && same(v.widths, widths) && same(v.depths, depths)
      )
      : EFFNET_VARIANTS.find((v) => {
        const sh = effnetShape(v.width, v.depth);
        return sh.stem === stemOut && same(sh.widths, widths) && same(sh.depths, depths);
      });
    variant = match?.name;
    // torchvision's EfficientNetV2 uses eps 0.001 whatever the size; timm 1e-5 (tf_*: n.eps).
    eps = n.eps?.value ??
      (n.layout === "timm" ? 1e-5 : v2 ? 1e-3 : match?.eps ?? 1e-5);
    const act = n.act?.value ?? "silu";
    stemAct = finalAct = act;
    const stageStrides = n.stageStrides ??
      (v2 ? EFFNET_V2_STRIDES.slice(0, stages) : EFFNET_STAGES.map((s) => s[2]));
    if (stageStrides.length !== stages || stageStrides.some((v) => v !== 1 && v !== 2)) {
      throw new ModelLayoutError(
        `${where}: config strides ${JSON.stringify(stageStrides)} must list ${stages} strides of ` +
          `1 or 2 (one per stage).`,
      );
    }
    rules = raws.map((_, i) => {
      const s = stageOf[i];
      const first = i === 0 || stageOf[i - 1] !== s;
      return {
        stride: override?.[i] ?? (first ? stageStrides[s] as 1 | 2 : 1),
        act,
        seAct: act,
        seGate: "sigmoid" as Activation,
        padding: symmetric,
      };
    });
    const epsNote = n.eps?.note ?? `BatchNorm eps ${eps} from ${lib}'s definition`;
    notes.push(
      (match
        ? `${match.name}: stem ${stemOut}, stage widths ${widths} and depths ${depths} are ` +
          `torchvision's; ${epsNote}`
        : `stem ${stemOut}, widths ${widths}, depths ${depths} match no published ` +
          `${v2 ? "efficientnet_v2_s/m/l" : "efficientnet_b0..b7"}; ` +
          (n.eps || v2 || n.layout === "timm"
            ? epsNote
            : `assumed BatchNorm eps 1e-5 (b0-b4; b5-b7 use 1e-3)`)) +
        `; first-block stage strides ${stageStrides}` +
        (n.stageStrides
          ? " from config.json"
          : ` (${v2 ? "EfficientNetV2" : "torchvision's EfficientNet"} table)`) +
        `, ${n.act?.note ?? "SiLU activations"}, SE ${act} + sigmoid gate: not in the weights`,
    );
  }
  if (strideNote) notes.push(strideNote);
  // The layout's padding and residual rules (they need the final strides).
  rules = rules.map((r, i) => ({
    ...r,
    padding: (k: number) => n.dwPadding(i, k, r.stride),
    residual: n.residual?.(i, r.stride),
  }));
  notes.push(...(n.notes ?? []));
  const epsOverride = bnEpsOverride(config, where);
  if (epsOverride !== undefined) {
    eps = epsOverride;
    notes.push(`BatchNorm eps ${eps} from config.json`);
  }

  // Stem.
  if (sk !== stemShape[3] || sk % 2 !== 1) {
    throw new ModelLayoutError(
      `${where}: stem conv ${n.stem.conv} [${stemShape}] should be [C, ${inChannels}, k, k] ` +
        `with an odd k.`,
    );
  }
  e.set(n.stem.conv, stemShape);
  const stemBn = bnNames(n.stem.bn);
  expectBn(e, stemBn, stemOut);
  const stem = {
    weight: n.stem.conv,
    bn: stemBn,
    out: stemOut,
    in: inChannels,
    kernel: sk,
    stride: 2 as const,
    act: stemAct,
    padding: n.stemPadding(sk),
  };

  const blocks: MobileNetBlockSpec[] = [];
  let prev = stemOut;
  raws.forEach((r, i) => {
    const b = block(index, set, r, prev, rules[i], e, where);
    blocks.push(b);
    prev = b.outChannels;
  });

  const fp = n.final.conv;
  const fShape = requireShape(index, set, fp, where, 4);
  if (fShape[1] !== prev || fShape[2] !== 1 || fShape[3] !== 1) {
    throw new ModelLayoutError(
      `${where}: final conv ${fp} [${fShape}] should be [C, ${prev}, 1, 1].`,
    );
  }
  e.set(fp, fShape);
  const finalBn = bnNames(n.final.bn);
  expectBn(e, finalBn, fShape[0]);
  const final = {
    weight: fp,
    bn: finalBn,
    out: fShape[0],
    in: prev,
    kernel: 1,
    act: finalAct,
  };

  const head = n.head(final.out, e);
  notes.push(...head.notes);
  checkTensors(index, e, where, { what: `${variant ?? arch} (${lib})` });
  return {
    layout: n.layout,
    arch,
    variant,
    inChannels,
    stem,
    blocks,
    final,
    bnEps: eps,
    head,
    notes,
  };
}
