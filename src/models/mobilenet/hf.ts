/**
 * Hugging Face key layouts of the MobileNet family, turned into the
 * {@link Naming} that `layouts.ts` builds a spec from:
 *
 * - `MobileNetV2ForImageClassification` (modeling_mobilenet_v2.py):
 *   `mobilenet_v2.conv_stem.{first_conv, [expand_1x1], conv_3x3,
 *   reduce_1x1}` (the stem conv and the first, unexpanded block),
 *   `mobilenet_v2.layer.N.{expand_1x1, conv_3x3, reduce_1x1}`, each
 *   `.convolution` + `.normalization`, `mobilenet_v2.conv_1x1`, `classifier`.
 *   BatchNorm eps `layer_norm_eps` (default 0.001), `hidden_act` (default
 *   relu6), and `tf_padding` (default true): every convolution pads by
 *   TensorFlow's "same" rule, which differs from PyTorch's k/2 at stride 2
 *   on even inputs. `output_stride` < 32 (dilated) is refused.
 * - `EfficientNetForImageClassification` (modeling_efficientnet.py):
 *   `efficientnet.embeddings.{convolution, batchnorm}`,
 *   `efficientnet.encoder.blocks.N.{expansion.expand_conv/expand_bn,
 *   depthwise_conv.depthwise_conv/depthwise_norm, squeeze_excite.reduce/
 *   expand, projection.project_conv/project_bn}`, `encoder.top_conv/top_bn`,
 *   `classifier`. Its own padding: the stem is `ZeroPad2d((0, 1, 0, 1))` +
 *   a valid 3x3/2 conv; a stride-2 depthwise conv is `ZeroPad2d(k/2 - 1,
 *   k/2, k/2 - 1, k/2)` + valid (k/2 on every side for the blocks listed in
 *   `depthwise_padding`); stride 1 is PyTorch's "same" (k/2). Residual only
 *   on blocks after the first of a stage (stride 1). BatchNorm eps
 *   `batch_norm_eps` (default 0.001), `hidden_act` (default swish).
 */
import { ModelLayoutError } from "../../errors.ts";
import type { Activation } from "../../ops/activation.ts";
import type { Padding } from "../../ops/padding.ts";
import { expectHead, headSpec } from "../../nn/head.ts";
import {
  boolField,
  countIndexed,
  intField,
  intListField,
  positiveField,
  requireShape,
  stringField,
  type TensorIndex,
} from "../../weights/layout_check.ts";
import type { Naming, RawBlock } from "./layouts.ts";

/** HF `hidden_act` values the epilogues run exactly. */
const HF_ACTS: Record<string, Activation> = {
  relu6: "relu6",
  relu: "relu",
  silu: "silu",
  swish: "silu",
  hardswish: "hardswish",
};

function hfAct(
  config: Record<string, unknown>,
  fallback: string,
  where: string,
): { value: Activation; note: string } {
  const name = stringField(config, "hidden_act", where);
  const act = HF_ACTS[name ?? fallback];
  if (!act) {
    throw new ModelLayoutError(
      `${where}: config hidden_act ${JSON.stringify(name)} is not supported ` +
        `(${Object.keys(HF_ACTS).join(", ")}).`,
    );
  }
  return {
    value: act,
    note: name === undefined
      ? `activation ${fallback}: Hugging Face's default (config.json has no hidden_act)`
      : `activation ${name} from config.json hidden_act`,
  };
}

function hfEps(
  config: Record<string, unknown>,
  key: string,
  where: string,
): { value: number; note: string } {
  const v = positiveField(config, key, where);
  return v === undefined
    ? {
      value: 1e-3,
      note: `BatchNorm eps 0.001: Hugging Face's default (no ${key} in config.json)`,
    }
    : { value: v, note: `BatchNorm eps ${v} from config.json ${key}` };
}

/** A block of (conv, BatchNorm) pairs under `prefix`, the optional first one skipped when absent. */
function rawBlock(
  index: TensorIndex,
  set: Set<string>,
  prefix: string,
  parts: [conv: string, bn: string, optional: boolean][],
  se: { reduce: string; expand: string } | undefined,
  where: string,
): RawBlock {
  const convs = parts
    .filter(([conv, , optional]) => !optional || set.has(`${prefix}.${conv}`))
    .map(([conv, bn]) => ({
      conv: `${prefix}.${conv}`,
      bn: `${prefix}.${bn}`,
      shape: requireShape(index, set, `${prefix}.${conv}`, where, 4),
    }));
  return {
    prefix,
    convs,
    se: se && { reduce: `${prefix}.${se.reduce}`, expand: `${prefix}.${se.expand}` },
  };
}

/** The classifier over the pooled features (HF: one `classifier` linear). */
function hfHead(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
): Naming["head"] {
  return (features, e) => {
    const head = headSpec(index, "classifier", features, config, where);
    expectHead(e, head);
    return head;
  };
}

/** Hugging Face `MobileNetV2ForImageClassification`. */
export function hfMobileNetV2Naming(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
): Naming {
  const names = index.names();
  const set = new Set(names);
  const outputStride = intField(config, "output_stride", where);
  if (outputStride !== undefined && outputStride !== 32) {
    throw new ModelLayoutError(
      `${where}: config output_stride ${outputStride}: the dilated MobileNetV2 (a segmentation ` +
        `backbone) is not supported; only output_stride 32 (the classifier) is.`,
    );
  }
  const tf = boolField(config, "tf_padding", where) ?? true;
  const cb = (p: string, optional = false): [string, string, boolean] => [
    `${p}.convolution.weight`,
    `${p}.normalization`,
    optional,
  ];
  const parts = [cb("expand_1x1", true), cb("conv_3x3"), cb("reduce_1x1")];
  const blocks = [rawBlock(index, set, "mobilenet_v2.conv_stem", parts, undefined, where)];
  const n = countIndexed(names, "mobilenet_v2.layer.", where);
  for (let i = 0; i < n; i++) {
    blocks.push(rawBlock(index, set, `mobilenet_v2.layer.${i}`, parts, undefined, where));
  }
  const padding = (k: number): Padding => (tf ? "same" : Math.floor(k / 2));
  const padNote = tf
    ? `TensorFlow "same" padding on every convolution (config.json tf_padding ` +
      `${config.tf_padding === undefined ? "absent: Hugging Face's default true" : "true"})`
    : "padding k/2 (config.json tf_padding false)";
  return {
    layout: "hf",
    arch: "mobilenet_v2",
    label: "Hugging Face",
    stem: {
      conv: "mobilenet_v2.conv_stem.first_conv.convolution.weight",
      bn: "mobilenet_v2.conv_stem.first_conv.normalization",
    },
    blocks,
    stageOf: blocks.map((_, i) => i),
    final: {
      conv: "mobilenet_v2.conv_1x1.convolution.weight",
      bn: "mobilenet_v2.conv_1x1.normalization",
    },
    v3Eps: 1e-3,
    eps: hfEps(config, "layer_norm_eps", where),
    act: hfAct(config, "relu6", where),
    stemPadding: padding,
    dwPadding: (_i, k) => padding(k),
    // The stem's block (conv_stem.conv_3x3 / reduce_1x1) never adds its input.
    residual: (i) => (i === 0 ? false : undefined),
    notes: [padNote],
    head: hfHead(index, config, where),
  };
}

/** Hugging Face `EfficientNetForImageClassification`. */
export function hfEfficientNetNaming(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
): Naming {
  const names = index.names();
  const set = new Set(names);
  const pooling = stringField(config, "pooling_type", where) ?? "mean";
  if (pooling !== "mean") {
    throw new ModelLayoutError(
      `${where}: config pooling_type ${JSON.stringify(pooling)} is not supported; only "mean" ` +
        `(the published checkpoints' average pooling) is.`,
    );
  }
  const p = "efficientnet.encoder.blocks";
  const n = countIndexed(names, `${p}.`, where);
  const blocks: RawBlock[] = [];
  for (let i = 0; i < n; i++) {
    blocks.push(rawBlock(
      index,
      set,
      `${p}.${i}`,
      [
        ["expansion.expand_conv.weight", "expansion.expand_bn", true],
        ["depthwise_conv.depthwise_conv.weight", "depthwise_conv.depthwise_norm", false],
        ["projection.project_conv.weight", "projection.project_bn", false],
      ],
      { reduce: "squeeze_excite.reduce", expand: "squeeze_excite.expand" },
      where,
    ));
  }
  // Stages: from config (num_block_repeats scaled by depth_coefficient, as HF builds them),
  // else where the width changes (every stage of B0-B7 changes it).
  const repeats = intListField(config, "num_block_repeats", where);
  const depth = positiveField(config, "depth_coefficient", where);
  const stageOf: number[] = [];
  let stageNote: string;
  if (repeats && depth !== undefined) {
    repeats.forEach((r, s) => {
      for (let j = 0; j < Math.ceil(depth * r); j++) stageOf.push(s);
    });
    if (stageOf.length !== n) {
      throw new ModelLayoutError(
        `${where}: config num_block_repeats ${JSON.stringify(repeats)} x depth_coefficient ` +
          `${depth} make ${stageOf.length} blocks, but the weights have ${n}.`,
      );
    }
    stageNote = "stages from config.json num_block_repeats and depth_coefficient";
  } else {
    let s = -1, prevOut = -1;
    for (const b of blocks) {
      const inC = b.convs[0].shape[1], out = b.convs.at(-1)!.shape[0];
      if (s < 0 || inC !== prevOut || inC !== out) s++;
      stageOf.push(s);
      prevOut = out;
    }
    stageNote = "stages where the block width changes (config.json has no num_block_repeats / " +
      "depth_coefficient)";
  }
  const first = (i: number) => i === 0 || stageOf[i - 1] !== stageOf[i];
  const strides = intListField(config, "strides", where);
  const noAdjust = new Set(
    Array.isArray(config.depthwise_padding) ? config.depthwise_padding.map(Number) : [],
  );
  return {
    layout: "hf",
    arch: "efficientnet",
    label: "Hugging Face",
    stem: {
      conv: "efficientnet.embeddings.convolution.weight",
      bn: "efficientnet.embeddings.batchnorm",
    },
    blocks,
    stageOf,
    final: { conv: "efficientnet.encoder.top_conv.weight", bn: "efficientnet.encoder.top_bn" },
    v3Eps: 1e-3,
    eps: hfEps(config, "batch_norm_eps", where),
    act: hfAct(config, "swish", where),
    stageStrides: strides,
    stemPadding: () => ({ top: 0, bottom: 1, left: 0, right: 1 }),
    dwPadding: (i, k, stride) => {
      const h = Math.floor(k / 2);
      return stride === 2 && !noAdjust.has(i)
        ? { top: h - 1, bottom: h, left: h - 1, right: h }
        : h;
    },
    residual: (i, stride) => stride === 1 && !first(i),
    notes: [
      stageNote,
      "padding as Hugging Face's EfficientNet: stem ZeroPad2d(0, 1, 0, 1) + valid conv; " +
      "stride-2 depthwise ZeroPad2d(k/2 - 1, k/2) per axis + valid" +
      (noAdjust.size
        ? ` (k/2 on both sides for blocks ${[...noAdjust]}, config depthwise_padding)`
        : "") +
      "; residual on the blocks after the first of each stage",
      "pooling: AvgPool2d(hidden_dim, ceil_mode=True) = the mean over the feature map",
    ],
    head: hfHead(index, config, where),
  };
}
