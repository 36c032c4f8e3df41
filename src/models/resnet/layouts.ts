/**
 * ResNet key layouts: turns the tensor names and shapes of a checkpoint (plus
 * its config.json, when there is one) into a {@link ResNetSpec}, the
 * layout-free description of the network that `src/models/resnet.ts` runs.
 *
 * Three layouts are understood:
 * - Hugging Face `ResNetForImageClassification` (`resnet.embedder.*`,
 *   `resnet.encoder.stages.S.layers.L.{shortcut,layer.i}.*`, `classifier.1.*`);
 * - torchvision / timm (`conv1`, `bn1`, `layerN.M.{convK,bnK,downsample.0/1}`,
 *   `fc`), basic or bottleneck blocks, any width and group count (ResNeXt);
 * - CIFAR ResNet-(6n+2) (`conv1` 3x3, `layerS.B.*`, `linear`) with the
 *   parameter-free option-A shortcut.
 *
 * Depths, channel counts and block types come from the names and shapes (or
 * the config), never from a table of known models. Each builder derives the
 * full set of tensors the network needs with their shapes and compares it
 * with what the file holds, so an incomplete or foreign checkpoint fails with
 * the missing, unexpected and mis-shaped tensors listed.
 */
import { ModelLayoutError } from "../../errors.ts";
import { expectHead, type HeadSpec, headSpec } from "../../nn/head.ts";
import { checkTimmModelArgs, type ModelArgRule, NONE, onlyValues } from "../timm_args.ts";
import {
  type BatchNormNames,
  bnNames,
  boolField,
  checkTensors,
  contiguous,
  expectBn,
  type Expected,
  indicesOf,
  intField,
  intListField,
  shapeOf,
  summarizeNames,
  type TensorIndex,
  timmArchitecture,
} from "../../weights/layout_check.ts";

export type { BatchNormNames, TensorIndex };

/** One convolution (+ BatchNorm, + ReLU after the optional residual add). */
export interface ConvSpec {
  /** Name of the weight tensor [O, I/groups, kh, kw]. */
  weight: string;
  /** Weight shape as stored. */
  shape: [number, number, number, number];
  /** Conv bias tensor, if the conv has one. */
  bias?: string;
  /** The BatchNorm that follows, folded into the weights at load time. */
  bn?: BatchNormNames;
  /** Stride (both directions). */
  stride: number;
  /** Zero padding (both directions). */
  padding: number;
  /** Channel groups (1 except ResNeXt). */
  groups: number;
  /** ReLU after the conv (after the residual add in a block's last conv). */
  relu: boolean;
}

/** How a block's input reaches its residual add. */
export type ShortcutSpec =
  | { kind: "identity" }
  | { kind: "conv"; conv: ConvSpec }
  /** CIFAR option A: `x[:, :, ::stride, ::stride]` zero-padded with channels before/after. */
  | { kind: "zeroPad"; stride: number; padBefore: number; padAfter: number };

/** One residual block: convs in order, the last one takes the shortcut as residual. */
export interface BlockSpec {
  /** Prefix of the block's tensors, for messages. */
  name: string;
  /** Input channels. */
  inChannels: number;
  /** Output channels. */
  outChannels: number;
  /** The block's spatial stride. */
  stride: number;
  /** The convolutions (2 for basic, 3 for bottleneck blocks). */
  convs: ConvSpec[];
  /** The shortcut branch. */
  shortcut: ShortcutSpec;
}

/** A ResNet, independent of how its checkpoint names things. */
export interface ResNetSpec {
  /** Which key layout the checkpoint uses. */
  layout: "hf" | "torchvision" | "cifar";
  /** "basic" (two 3x3 convs) or "bottleneck" (1x1, 3x3, 1x1). */
  blockType: "basic" | "bottleneck";
  /** Input channels (3 for RGB). */
  inChannels: number;
  /** Stem convolutions (one conv + BN + ReLU in all supported layouts). */
  stem: ConvSpec[];
  /** Max-pool after the stem (ImageNet layouts), absent for CIFAR. */
  stemPool?: { kernel: number; stride: number; padding: number };
  /** Stages of blocks. */
  stages: BlockSpec[][];
  /** The classifier head (one linear, or an MLP) on the pooled features. */
  head: HeadSpec;
  /** What was inferred or assumed, with its evidence (printed in the run header). */
  notes: string[];
  /** BatchNorm epsilon. */
  bnEps: number;
  /** Blocks per stage. */
  depths: number[];
  /** Output channels per stage. */
  widths: number[];
}

/** The layouts {@link detectResNetLayout} can recognise. */
export type ResNetLayout = ResNetSpec["layout"];

const HF_PREFIX = "resnet.";

/**
 * Which ResNet layout a checkpoint uses, from config.json (HF `model_type` /
 * `architectures`, timm or CIFAR `architecture`) and, failing that, the tensor
 * names. Undefined when it does not look like a ResNet.
 */
export function detectResNetLayout(
  names: readonly string[],
  config: Record<string, unknown> = {},
): ResNetLayout | undefined {
  const set = new Set(names);
  const arch = typeof config.architecture === "string" ? config.architecture.toLowerCase() : "";
  const hfArchs = Array.isArray(config.architectures) ? config.architectures.map(String) : [];
  if (
    config.model_type === "resnet" || hfArchs.some((a) => a.startsWith("ResNet")) ||
    names.some((n) => n.startsWith("resnet.embedder."))
  ) {
    return "hf";
  }
  const torchStyle = set.has("conv1.weight") && names.some((n) => /^layer1\.0\./.test(n));
  if (arch.includes("cifar")) return "cifar";
  if (!torchStyle) {
    // A timm deep-stem ResNet still says it is one; let its builder explain what is unsupported.
    return /^(wide_)?res(net|next)/.test(arch) ? "torchvision" : undefined;
  }
  if (set.has("linear.weight") && !set.has("fc.weight")) return "cifar";
  return "torchvision";
}

/** Builds the spec of a ResNet checkpoint in the given (or detected) layout. */
export function resnetSpec(
  index: TensorIndex,
  config: Record<string, unknown> = {},
  where = "checkpoint",
  layout: ResNetLayout | undefined = detectResNetLayout(index.names(), config),
): ResNetSpec {
  switch (layout) {
    case "hf":
      return hfResNetSpec(index, config, where);
    case "torchvision":
      return torchvisionResNetSpec(index, config, where);
    case "cifar":
      return cifarResNetSpec(index, config, where);
    default:
      throw new ModelLayoutError(
        `${where} is not a ResNet layout this loader knows (Hugging Face resnet.*, torchvision/timm ` +
          `conv1/layerN/fc, or CIFAR conv1/layerN/linear). Found: ${
            summarizeNames(index.names())
          }.`,
      );
  }
}

// ---------------------------------------------------------------------------
// Shared helpers

function expectConv(expected: Expected, conv: ConvSpec): void {
  expected.set(conv.weight, conv.shape);
  if (conv.bias) expected.set(conv.bias, [conv.shape[0]]);
  if (conv.bn) expectBn(expected, conv.bn, conv.shape[0]);
}

/** Shape of a 4-D conv weight or a layout error naming it. */
function convShape(
  index: TensorIndex,
  names: Set<string>,
  name: string,
  where: string,
): [number, number, number, number] {
  const s = shapeOf(index, names, name);
  if (!s) {
    throw new ModelLayoutError(
      `${where}: tensor "${name}" is missing. Found: ${summarizeNames([...names])}.`,
    );
  }
  if (s.length !== 4) {
    throw new ModelLayoutError(
      `${where}: tensor "${name}" should be a 4-D conv weight [out, in, kh, kw] but has shape [${s}].`,
    );
  }
  return s as [number, number, number, number];
}

function bnEpsFrom(config: Record<string, unknown>): number {
  for (const k of ["batch_norm_eps", "bn_eps", "norm_eps"]) {
    const v = config[k];
    if (typeof v === "number" && v > 0) return v;
  }
  return 1e-5;
}

// ---------------------------------------------------------------------------
// Hugging Face ResNetForImageClassification

function hfResNetSpec(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
): ResNetSpec {
  const all = index.names();
  const names = new Set(all);
  const stagesFound = indicesOf(all, /^resnet\.encoder\.stages\.(\d+)\./);
  const cfgDepths = intListField(config, "depths", where);
  const depths = cfgDepths ?? stagesFound.map((s) => {
    const layers = indicesOf(
      all,
      new RegExp(`^resnet\\.encoder\\.stages\\.${s}\\.layers\\.(\\d+)\\.`),
    );
    return contiguous(layers, 0, `layers of stage ${s}`, where);
  });
  if (!cfgDepths) contiguous(stagesFound, 0, "stages", where);
  if (!depths.length) {
    throw new ModelLayoutError(
      `${where}: no resnet.encoder.stages.* tensors found. Found: ${summarizeNames(all)}.`,
    );
  }
  const act = config.hidden_act ?? "relu";
  if (act !== "relu") {
    throw new ModelLayoutError(
      `${where}: hidden_act "${act}" is not supported (only relu).`,
    );
  }
  const stemW = `${HF_PREFIX}embedder.embedder.convolution.weight`;
  const stemShape = convShape(index, names, stemW, where);
  const embedding = intField(config, "embedding_size", where) ?? stemShape[0];
  const inChannels = intField(config, "num_channels", where) ?? stemShape[1];
  const isBottleneck = config.layer_type !== undefined
    ? config.layer_type === "bottleneck"
    : names.has(`${HF_PREFIX}encoder.stages.0.layers.0.layer.2.convolution.weight`);
  if (
    config.layer_type !== undefined && !["basic", "bottleneck"].includes(String(config.layer_type))
  ) {
    throw new ModelLayoutError(
      `${where}: layer_type "${config.layer_type}" is not supported (basic or bottleneck).`,
    );
  }
  const lastConv = isBottleneck ? 2 : 1;
  const widths = intListField(config, "hidden_sizes", where) ??
    depths.map((_, s) =>
      convShape(
        index,
        names,
        `${HF_PREFIX}encoder.stages.${s}.layers.0.layer.${lastConv}.convolution.weight`,
        where,
      )[0]
    );
  if (widths.length !== depths.length) {
    throw new ModelLayoutError(
      `${where}: config has ${depths.length} depths but ${widths.length} hidden_sizes.`,
    );
  }
  const downsampleFirst = boolField(config, "downsample_in_first_stage", where) ?? false;
  const downsampleInBottleneck = boolField(config, "downsample_in_bottleneck", where) ?? false;

  const k = stemShape[2];
  const stem: ConvSpec = {
    weight: stemW,
    shape: [embedding, inChannels, k, k],
    bn: bnNames(`${HF_PREFIX}embedder.embedder.normalization`),
    stride: 2,
    padding: Math.floor(k / 2),
    groups: 1,
    relu: true,
  };
  const hfConv = (
    prefix: string,
    shape: [number, number, number, number],
    stride: number,
    relu: boolean,
  ): ConvSpec => ({
    weight: `${prefix}.convolution.weight`,
    shape,
    bn: bnNames(`${prefix}.normalization`),
    stride,
    padding: Math.floor(shape[2] / 2),
    groups: 1,
    relu,
  });

  const stages: BlockSpec[][] = [];
  let inC = embedding;
  depths.forEach((depth, s) => {
    const out = widths[s];
    const stageStride = s === 0 ? (downsampleFirst ? 2 : 1) : 2;
    const blocks: BlockSpec[] = [];
    for (let b = 0; b < depth; b++) {
      const p = `${HF_PREFIX}encoder.stages.${s}.layers.${b}`;
      const blockIn = b === 0 ? inC : out;
      const stride = b === 0 ? stageStride : 1;
      let convs: ConvSpec[];
      if (isBottleneck) {
        // HF's reduction is fixed at 4 in code; read the actual width from the weights.
        const midShape = shapeOf(index, names, `${p}.layer.0.convolution.weight`);
        const mid = midShape?.length === 4 ? midShape[0] : Math.floor(out / 4);
        convs = [
          hfConv(`${p}.layer.0`, [mid, blockIn, 1, 1], downsampleInBottleneck ? stride : 1, true),
          hfConv(`${p}.layer.1`, [mid, mid, 3, 3], downsampleInBottleneck ? 1 : stride, true),
          hfConv(`${p}.layer.2`, [out, mid, 1, 1], 1, true),
        ];
      } else {
        convs = [
          hfConv(`${p}.layer.0`, [out, blockIn, 3, 3], stride, true),
          hfConv(`${p}.layer.1`, [out, out, 3, 3], 1, true),
        ];
      }
      const shortcut: ShortcutSpec = blockIn !== out || stride !== 1
        ? { kind: "conv", conv: hfConv(`${p}.shortcut`, [out, blockIn, 1, 1], stride, false) }
        : { kind: "identity" };
      blocks.push({ name: p, inChannels: blockIn, outChannels: out, stride, convs, shortcut });
    }
    stages.push(blocks);
    inC = out;
  });

  const head = headSpec(index, "classifier.1", widths[widths.length - 1], config, where);
  const spec: ResNetSpec = {
    layout: "hf",
    blockType: isBottleneck ? "bottleneck" : "basic",
    inChannels,
    stem: [stem],
    stemPool: { kernel: 3, stride: 2, padding: 1 },
    stages,
    head,
    bnEps: bnEpsFrom(config),
    depths,
    widths,
    notes: [...head.notes],
  };
  checkTensors(index, expectedOf(spec), where, { what: `ResNet (${spec.layout})` });
  return spec;
}

// ---------------------------------------------------------------------------
// torchvision / timm and CIFAR (same block naming)

function torchvisionResNetSpec(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
): ResNetSpec {
  const all = index.names();
  if (all.some((n) => /^conv1\.\d+\.weight$/.test(n))) {
    throw new ModelLayoutError(
      `${where}: a deep-stem ResNet (timm resnet*c / resnet*d / resnet*s: conv1.0, conv1.3, ...) ` +
        `is not supported; only the single-conv stem (conv1.weight) is.`,
    );
  }
  if (all.some((n) => /\.downsample\.2\.weight$/.test(n))) {
    throw new ModelLayoutError(
      `${where}: average-pool downsampling (timm resnet*d: downsample.1 conv + downsample.2 bn) ` +
        `is not supported; only the 1x1-conv downsample (downsample.0/1) is.`,
    );
  }
  const arch = timmArchitecture(config).split(".")[0];
  if (ANTI_ALIASED.test(arch)) {
    throw new ModelLayoutError(
      `${where}: timm ${arch} is an anti-aliased ResNet (aa_layer: every stride-2 step is a ` +
        `stride-1 conv or max-pool followed by an average / blur pool). Its weights are those ` +
        `of a plain ResNet, but its math is not, and this loader does not run it.`,
    );
  }
  checkTimmModelArgs(config, TIMM_RESNET_ARGS, "ResNet", where);
  // torchvision's replace_stride_with_dilation (and an output_stride below 32) turn stage strides
  // into dilations: the same tensors, other math.
  const dilated = config.replace_stride_with_dilation;
  if (
    (Array.isArray(dilated) && dilated.some(Boolean)) ||
    (config.output_stride !== undefined && config.output_stride !== 32)
  ) {
    throw new ModelLayoutError(
      `${where}: config.json ${
        dilated !== undefined
          ? `replace_stride_with_dilation ${JSON.stringify(dilated)}`
          : `output_stride ${JSON.stringify(config.output_stride)}`
      } makes stages dilated instead of strided; this loader runs only the strided ResNet.`,
    );
  }
  const pool = config.global_pool;
  if (pool !== undefined && pool !== "avg") {
    throw new ModelLayoutError(
      `${where}: config.json global_pool ${JSON.stringify(pool)}: only "avg" (the mean of the ` +
        `final feature map) is run.`,
    );
  }
  const pc = config.pretrained_cfg as Record<string, unknown> | undefined;
  const headName = typeof pc?.classifier === "string" ? pc.classifier : "fc";
  return torchStyleSpec(index, config, where, "torchvision", headName);
}

/**
 * timm's anti-aliased ResNets (resnetaa*, resnetblur*, seresnextaa*): the
 * same tensors as a plain ResNet, other downsampling.
 */
const ANTI_ALIASED = /^(?:se|eca)?res(?:net|next)(?:aa|blur)\d/;

/**
 * timm ResNet `model_args`: the shape options are settled by the weights; the
 * options that change the math without changing a tensor run only at timm's
 * defaults.
 */
const TIMM_RESNET_ARGS: Record<string, ModelArgRule> = {
  block: "weights",
  layers: "weights",
  channels: "weights",
  cardinality: "weights",
  base_width: "weights",
  stem_width: "weights",
  stem_type: "weights",
  replace_stem_pool: "weights",
  block_reduce_first: "weights",
  down_kernel_size: "weights",
  avg_down: "weights",
  output_stride: onlyValues(32),
  global_pool: onlyValues("avg"),
  act_layer: onlyValues("relu"),
  norm_layer: onlyValues("batchnorm", "batchnorm2d"),
  aa_layer: NONE,
  block_args: NONE,
};

function cifarResNetSpec(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
): ResNetSpec {
  if (config.shortcut !== undefined && !["A", "B"].includes(String(config.shortcut))) {
    throw new ModelLayoutError(
      `${where}: config.json shortcut "${config.shortcut}" is not supported (A or B).`,
    );
  }
  const head = index.names().includes("linear.weight") ? "linear" : "fc";
  return torchStyleSpec(index, config, where, "cifar", head);
}

/**
 * torchvision, timm and CIFAR checkpoints share `conv1`, `bn1`,
 * `layerN.M.{conv1,bn1,conv2,bn2[,conv3,bn3]}`; they differ in the stem
 * (7x7 stride 2 + max-pool vs 3x3 stride 1), the shortcut and the head name.
 */
function torchStyleSpec(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
  layout: "torchvision" | "cifar",
  headName: string,
): ResNetSpec {
  const all = index.names();
  const names = new Set(all);
  const stageIdx = indicesOf(all, /^layer(\d+)\./);
  const numStages = contiguous(stageIdx, 1, "stages (layerN)", where);
  if (!numStages) {
    throw new ModelLayoutError(
      `${where}: no layerN.* tensors found. Found: ${summarizeNames(all)}.`,
    );
  }
  const depths = stageIdx.map((s) =>
    contiguous(
      indicesOf(all, new RegExp(`^layer${s}\\.(\\d+)\\.`)),
      0,
      `blocks of layer${s}`,
      where,
    )
  );
  const cfgDepth = config.depth;
  if (layout === "cifar" && typeof cfgDepth === "number") {
    const implied = 2 + 2 * depths.reduce((a, b) => a + b, 0);
    if (implied !== cfgDepth) {
      throw new ModelLayoutError(
        `${where}: config.json says depth ${cfgDepth} but the weights hold ${depths.join("+")} ` +
          `blocks (depth ${implied}).`,
      );
    }
  }
  const isBottleneck = names.has("layer1.0.conv3.weight");
  const stemShape = convShape(index, names, "conv1.weight", where);
  const [stemC, inChannels, k] = stemShape;
  const stemChoice = stemOf(config, layout, k, where);
  const stem: ConvSpec = {
    weight: "conv1.weight",
    shape: stemShape,
    bias: names.has("conv1.bias") ? "conv1.bias" : undefined,
    bn: bnNames("bn1"),
    stride: stemChoice.stride,
    padding: Math.floor(k / 2),
    groups: 1,
    relu: true,
  };
  const conv = (
    prefix: string,
    bn: string,
    shape: [number, number, number, number],
    stride: number,
    groups: number,
    relu: boolean,
  ): ConvSpec => ({
    weight: `${prefix}.weight`,
    shape,
    bn: bnNames(bn),
    stride,
    padding: Math.floor(shape[2] / 2),
    groups,
    relu,
  });

  const stages: BlockSpec[][] = [];
  const widths: number[] = [];
  let inC = stemC;
  depths.forEach((depth, s) => {
    const L = `layer${s + 1}`;
    const stageStride = s === 0 ? 1 : 2;
    // Stage width = output channels of its first block's last conv.
    const out =
      convShape(index, names, `${L}.0.${isBottleneck ? "conv3" : "conv2"}.weight`, where)[0];
    widths.push(out);
    const blocks: BlockSpec[] = [];
    for (let b = 0; b < depth; b++) {
      const p = `${L}.${b}`;
      const blockIn = b === 0 ? inC : out;
      const stride = b === 0 ? stageStride : 1;
      let convs: ConvSpec[];
      if (isBottleneck) {
        // Width (wide_resnet, ResNeXt) and groups come from the weights.
        const mid = convShape(index, names, `${p}.conv1.weight`, where)[0];
        const c2 = convShape(index, names, `${p}.conv2.weight`, where);
        const groups = c2[1] > 0 && mid % c2[1] === 0 ? mid / c2[1] : 1;
        convs = [
          conv(`${p}.conv1`, `${p}.bn1`, [mid, blockIn, 1, 1], 1, 1, true),
          // torchvision "V1.5": the stride sits on the 3x3 conv.
          conv(`${p}.conv2`, `${p}.bn2`, [mid, mid / groups, 3, 3], stride, groups, true),
          conv(`${p}.conv3`, `${p}.bn3`, [out, mid, 1, 1], 1, 1, true),
        ];
      } else {
        convs = [
          conv(`${p}.conv1`, `${p}.bn1`, [out, blockIn, 3, 3], stride, 1, true),
          conv(`${p}.conv2`, `${p}.bn2`, [out, out, 3, 3], 1, 1, true),
        ];
      }
      let shortcut: ShortcutSpec = { kind: "identity" };
      if (blockIn !== out || stride !== 1) {
        const scName = names.has(`${p}.downsample.0.weight`)
          ? [`${p}.downsample.0`, `${p}.downsample.1`]
          : names.has(`${p}.shortcut.0.weight`)
          ? [`${p}.shortcut.0`, `${p}.shortcut.1`]
          : undefined;
        if (scName) {
          shortcut = {
            kind: "conv",
            conv: conv(scName[0], scName[1], [out, blockIn, 1, 1], stride, 1, false),
          };
        } else if (layout === "cifar" && config.shortcut !== "B") {
          // Option A: subsample, then zero channels planes/4 on each side.
          const pad = Math.floor(out / 4);
          if (blockIn + 2 * pad !== out) {
            throw new ModelLayoutError(
              `${where}: ${p} goes from ${blockIn} to ${out} channels; the option-A shortcut pads ` +
                `${pad} channels on each side, which only fits ${out - 2 * pad} input channels.`,
            );
          }
          shortcut = { kind: "zeroPad", stride, padBefore: pad, padAfter: pad };
        } else {
          // Let the tensor check report the missing projection.
          shortcut = {
            kind: "conv",
            conv: conv(
              `${p}.downsample.0`,
              `${p}.downsample.1`,
              [out, blockIn, 1, 1],
              stride,
              1,
              false,
            ),
          };
        }
      }
      blocks.push({ name: p, inChannels: blockIn, outChannels: out, stride, convs, shortcut });
    }
    stages.push(blocks);
    inC = out;
  });

  const head = headSpec(index, headName, inC, config, where);
  const cfgClasses = config.num_classes;
  if (typeof cfgClasses === "number" && cfgClasses !== head.numClasses) {
    throw new ModelLayoutError(
      `${where}: config.json says num_classes ${cfgClasses} but the head's last layer has ` +
        `${head.numClasses} rows.`,
    );
  }
  const spec: ResNetSpec = {
    layout,
    blockType: isBottleneck ? "bottleneck" : "basic",
    inChannels,
    stem: [stem],
    stemPool: stemChoice.maxPool ? { kernel: 3, stride: 2, padding: 1 } : undefined,
    stages,
    head,
    bnEps: bnEpsFrom(config),
    depths,
    widths,
    notes: [...stemChoice.notes, ...head.notes],
  };
  checkTensors(index, expectedOf(spec), where, { what: `ResNet (${spec.layout})` });
  return spec;
}

/**
 * The stem of a torchvision-named ResNet: its stride and whether a max-pool
 * follows are not recorded in the weights. config.json's `stem_stride` and
 * `stem_max_pool` say; otherwise the conv1 kernel is the evidence: 7x7 is
 * torchvision's ImageNet stem (stride 2 + 3x3/2 max-pool), 3x3 the CIFAR
 * adaptation (`conv1 = Conv2d(3, C, 3, 1, 1)`, `maxpool = Identity()`: stride
 * 1, no pool). Any other kernel is refused unless config.json says.
 */
function stemOf(
  config: Record<string, unknown>,
  layout: "torchvision" | "cifar",
  k: number,
  where: string,
): { stride: number; maxPool: boolean; notes: string[] } {
  const stride = intField(config, "stem_stride", where);
  const maxPool = boolField(config, "stem_max_pool", where);
  let inferred: { stride: number; maxPool: boolean; why: string } | undefined;
  if (layout === "cifar") {
    inferred = { stride: 1, maxPool: false, why: "CIFAR ResNet layout (linear head)" };
  } else if (k === 7) {
    inferred = { stride: 2, maxPool: true, why: "conv1 is 7x7: torchvision's ImageNet stem" };
  } else if (k === 3) {
    inferred = {
      stride: 1,
      maxPool: false,
      why: "conv1 is 3x3: the CIFAR adaptation of a torchvision ResNet (conv1 = Conv2d(3, C, 3, " +
        "1, 1), maxpool = Identity())",
    };
  }
  if (!inferred && (stride === undefined || maxPool === undefined)) {
    throw new ModelLayoutError(
      `${where}: conv1 is ${k}x${k}, and its stride and whether a max-pool follows are not ` +
        `recorded in the weights. Set "stem_stride" (e.g. 1 or 2) and "stem_max_pool" (true or ` +
        `false) in config.json.`,
    );
  }
  const s = stride ?? inferred!.stride;
  const p = maxPool ?? inferred!.maxPool;
  const said = `stem: conv1 stride ${s}, ${p ? "3x3/2 max-pool" : "no max-pool"}`;
  let note: string;
  if (stride !== undefined && maxPool !== undefined) note = `${said} (config.json)`;
  else if (stride === undefined && maxPool === undefined) {
    note = `${said}, inferred: ${inferred!.why}; config.json stem_stride / stem_max_pool override`;
  } else note = `${said} (config.json in part; the rest inferred: ${inferred!.why})`;
  return { stride: s, maxPool: p, notes: [note] };
}

/** Every tensor a spec reads, with its shape. */
export function expectedOf(spec: ResNetSpec): Expected {
  const expected: Expected = new Map();
  for (const c of spec.stem) expectConv(expected, c);
  for (const stage of spec.stages) {
    for (const block of stage) {
      for (const c of block.convs) expectConv(expected, c);
      if (block.shortcut.kind === "conv") expectConv(expected, block.shortcut.conv);
    }
  }
  expectHead(expected, spec.head);
  return expected;
}
