/**
 * ConvNeXt key layouts: turns the tensor names and shapes of a checkpoint
 * (plus its config.json) into a {@link ConvNeXtSpec}.
 *
 * - Hugging Face `ConvNextForImageClassification` /
 *   `ConvNextV2ForImageClassification`: `convnext{,v2}.embeddings.*`,
 *   `.encoder.stages.S.{downsampling_layer.{0,1},layers.L.*}`,
 *   `.layernorm`, `classifier`;
 * - timm `convnext_*` / `convnextv2_*`: `stem.{0,1}`,
 *   `stages.S.{downsample.{0,1},blocks.L.*}`, `head.{norm,fc}` (or
 *   `norm_pre` + `head.fc` for `head_norm_first` models, and
 *   `head.pre_logits.fc` for an MLP head);
 * - torchvision `convnext_{tiny,small,base,large}`: `features.0.{0,1}`,
 *   `features.{2s+1}.L.{block.{0,2,3,5},layer_scale}`,
 *   `features.{2s}.{0,1}`, `classifier.{0,2}`.
 *
 * Depths, widths, kernel and MLP sizes come from shapes; what the weights do
 * not record (LayerNorm epsilons, the MLP activation) comes from the
 * library's definition for that layout, is stated in the spec's notes, and
 * can be overridden from config.json (`norm_eps`, `layer_norm_eps`,
 * `hidden_act` / `act_layer`). Every tensor is then checked: missing,
 * unexpected, mis-shaped and non-float tensors are refused in one message.
 */
import { ModelLayoutError } from "../../errors.ts";
import type { Activation } from "../../ops/activation.ts";
import { expectHead, type HeadSpec, headSpec } from "../../nn/head.ts";
import { checkTimmModelArgs, type ModelArgRule, onlyValues } from "../timm_args.ts";
import {
  checkTensors,
  configActivation,
  countIndexed,
  type Expected,
  expectNorm,
  hfArchitectures,
  intField,
  intListField,
  linearNames,
  normNames,
  positiveField,
  requireShape,
  stringField,
  summarizeNames,
  type TensorIndex,
  timmArchitecture,
  timmModelArgs,
} from "../../weights/layout_check.ts";
import type {
  ChannelNorm,
  ConvNames,
  ConvNeXtBlockSpec,
  ConvNeXtLayout,
  ConvNeXtSpec,
  ConvNeXtStageSpec,
} from "./spec.ts";

const HF_MODEL_TYPES = new Set(["convnext", "convnextv2"]);
const TORCHVISION_BLOCK = /^features\.1\.0\.block\.0\.weight$/;

/**
 * Which ConvNeXt layout a checkpoint uses, from config.json (HF
 * `model_type` / `architectures`, timm `architecture`) and, failing that,
 * the tensor names; undefined when it is not a ConvNeXt.
 */
export function detectConvNeXtLayout(
  names: readonly string[],
  config: Record<string, unknown> = {},
): ConvNeXtLayout | undefined {
  const archs = hfArchitectures(config);
  if (
    HF_MODEL_TYPES.has(String(config.model_type)) ||
    archs.some((a) => /^ConvNextV?2?(ForImageClassification|Model)$/.test(a)) ||
    names.some((n) => /^convnext(v2)?\.embeddings\./.test(n))
  ) {
    return "hf";
  }
  const tv = names.some((n) => TORCHVISION_BLOCK.test(n)) && names.includes("features.0.0.weight");
  if (tv) return "torchvision";
  if (/^convnext(v2)?_/.test(timmArchitecture(config))) return "timm";
  if (
    names.includes("stem.0.weight") &&
    names.some((n) => /^stages\.\d+\.blocks\.\d+\.conv_dw\.weight$/.test(n))
  ) {
    return "timm";
  }
  return undefined;
}

/** Builds the spec of a ConvNeXt checkpoint in the given (or detected) layout. */
export function convnextSpec(
  index: TensorIndex,
  config: Record<string, unknown> = {},
  where = "checkpoint",
  layout: ConvNeXtLayout | undefined = detectConvNeXtLayout(index.names(), config),
): ConvNeXtSpec {
  switch (layout) {
    case "hf":
      return build(index, config, where, hfNaming(index, config, where));
    case "timm":
      return build(index, config, where, timmNaming(index, config, where));
    case "torchvision":
      return build(index, config, where, torchvisionNaming(index, config, where));
    default:
      throw new ModelLayoutError(
        `${where} is not a ConvNeXt layout this loader knows (Hugging Face convnext.* / ` +
          `convnextv2.*, timm stem/stages.S.blocks/head.fc, torchvision features/classifier). ` +
          `Found: ${summarizeNames(index.names())}.`,
      );
  }
}

/** Block tensor prefixes and shape conventions of one layout. */
interface Naming {
  layout: ConvNeXtLayout;
  /** "ConvNeXt (Hugging Face)" etc., for messages. */
  what: string;
  version: 1 | 2;
  stemConv: string;
  stemNorm: string;
  /** Number of stages. */
  stages: number;
  /** Downsampling norm and conv prefixes of stage s (> 0). */
  downsample(s: number): { norm: string; conv: string };
  /** Prefix holding the numbered blocks of stage s (ends with "."). */
  blocksPrefix(s: number): string;
  /** Tensor prefixes of block l of stage s. */
  block(s: number, l: number): {
    name: string;
    dwconv: string;
    norm: string;
    fc1: string;
    fc2: string;
    grn: string;
    layerScale: string;
  };
  /** Shape of a layer-scale tensor over `dim` channels. */
  layerScaleShape(dim: number): number[];
  /** Shape of a GRN parameter over `hidden` features. */
  grnShape(hidden: number): number[];
  /** Whether the blocks have layer scale (undefined: decide by the first block's tensors). */
  layerScale?: boolean;
  /** Epsilon of the stem, block and downsampling LayerNorms. */
  eps: number;
  /** MLP activation. */
  act: Activation;
  /** The head over `features` pooled channels. */
  head(features: number): HeadSpec;
  /** timm head_norm_first: a LayerNorm before pooling. */
  normPre?: string;
  notes: string[];
}

/** config.json activation names (HF `hidden_act`, timm `act_layer`) the epilogues run exactly. */
const ACTS: Record<string, Activation> = {
  gelu: "gelu",
  relu: "relu",
  silu: "silu",
  swish: "silu",
};

/** The MLP activation named by config.json (`hidden_act` or `act_layer`), else `fallback`. */
function activationOf(
  value: string | undefined,
  key: string,
  fallback: Activation,
  where: string,
): Activation {
  return configActivation(value, key, ACTS, fallback, "ConvNeXt blocks", where);
}

/** `norm_eps` from config.json or timm's `model_args`. */
function normEpsOverride(config: Record<string, unknown>, where: string): number | undefined {
  const args = modelArgs(config);
  return positiveField(config, "norm_eps", where) ?? positiveField(args, "norm_eps", where);
}

const modelArgs = timmModelArgs;

function hfNaming(index: TensorIndex, config: Record<string, unknown>, where: string): Naming {
  const names = index.names();
  const notes: string[] = [];
  const v2 = config.model_type === "convnextv2" ||
    hfArchitectures(config).some((a) => a.startsWith("ConvNextV2")) ||
    (config.model_type === undefined && names.some((n) => n.startsWith("convnextv2.")));
  const p = v2 ? "convnextv2" : "convnext";
  const stages = countIndexed(names, `${p}.encoder.stages.`, where);
  const eps = normEpsOverride(config, where) ?? 1e-6;
  const finalEps = positiveField(config, "layer_norm_eps", where);
  if (finalEps === undefined) {
    notes.push(
      `final LayerNorm eps 1e-12: config.json has no layer_norm_eps (the ${
        v2 ? "ConvNextV2Config" : "ConvNextConfig"
      } default)`,
    );
  }
  const hiddenAct = stringField(config, "hidden_act", where);
  if (hiddenAct === undefined) notes.push("block activation GELU: config.json has no hidden_act");
  const lsInit = config.layer_scale_init_value;
  const layerScale = v2 ? false : typeof lsInit === "number" ? lsInit > 0 : undefined;
  const stage = (s: number) => `${p}.encoder.stages.${s}`;
  return {
    layout: "hf",
    what: `ConvNeXt${v2 ? " V2" : ""} (Hugging Face)`,
    version: v2 ? 2 : 1,
    stemConv: `${p}.embeddings.patch_embeddings`,
    stemNorm: `${p}.embeddings.layernorm`,
    stages,
    downsample: (s) => ({
      norm: `${stage(s)}.downsampling_layer.0`,
      conv: `${stage(s)}.downsampling_layer.1`,
    }),
    blocksPrefix: (s) => `${stage(s)}.layers.`,
    block: (s, l) => {
      const b = `${stage(s)}.layers.${l}`;
      return {
        name: b,
        dwconv: `${b}.dwconv`,
        norm: `${b}.layernorm`,
        fc1: `${b}.pwconv1`,
        fc2: `${b}.pwconv2`,
        grn: `${b}.grn`,
        layerScale: `${b}.layer_scale_parameter`,
      };
    },
    layerScaleShape: (d) => [d],
    grnShape: (h) => [1, 1, 1, h],
    layerScale,
    eps,
    act: activationOf(hiddenAct, "hidden_act", "gelu", where),
    head: (features) =>
      headSpec(index, "classifier", features, config, where, {
        norm: { ...normNames(`${p}.layernorm`), eps: finalEps ?? 1e-12 },
      }),
    notes,
  };
}

/**
 * timm ConvNeXt `model_args`: what this layout reads, what the tensors
 * settle, and the math-only options it runs at timm's defaults.
 */
const TIMM_CONVNEXT_ARGS: Record<string, ModelArgRule> = {
  dims: "read",
  depths: "read",
  norm_eps: "read",
  norm_layer: "read",
  act_layer: "read",
  patch_size: "weights",
  kernel_sizes: "weights",
  ls_init_value: "weights",
  head_init_scale: "weights",
  head_norm_first: "weights",
  head_hidden_size: "weights",
  conv_mlp: "weights",
  conv_bias: "weights",
  use_grn: "weights",
  stem_type: "weights",
  output_stride: onlyValues(32),
  global_pool: onlyValues("avg"),
};

function timmNaming(index: TensorIndex, config: Record<string, unknown>, where: string): Naming {
  checkTimmModelArgs(config, TIMM_CONVNEXT_ARGS, "ConvNeXt", where);
  const names = index.names();
  const set = new Set(names);
  const arch = timmArchitecture(config);
  const args = modelArgs(config);
  const notes: string[] = [];
  if (/_rms|^test_convnext/.test(arch) || (set.has("stem.1.weight") && !set.has("stem.1.bias"))) {
    throw new ModelLayoutError(
      `${where}: timm ${arch || "ConvNeXt"} uses an RMSNorm/SimpleNorm (or test-model) variant ` +
        `that this loader does not run; only LayerNorm ConvNeXt / ConvNeXt V2 models are supported.`,
    );
  }
  const normLayer = stringField(args, "norm_layer", where);
  if (normLayer !== undefined && !/^layernorm(2d)?$/.test(normLayer)) {
    throw new ModelLayoutError(
      `${where}: model_args norm_layer ${
        JSON.stringify(normLayer)
      } is not supported (LayerNorm only).`,
    );
  }
  if (set.has("stem.2.weight") || set.has("stem.3.weight")) {
    throw new ModelLayoutError(
      `${where}: timm overlapping stem (stem_type "overlap*", the convnext_*_ols models: stem.0 ` +
        `and stem.2 are 3x3 stride-2 convs) is not supported; only the patchify stem ` +
        `(stem.0 conv + stem.1 LayerNorm) is.`,
    );
  }
  const v2 = /^convnextv2_/.test(arch) ||
    (!/^convnext_/.test(arch) && names.some((n) => n.includes(".mlp.grn.")));
  let eps = normEpsOverride(config, where);
  if (eps === undefined) {
    eps = /^convnext_xxlarge/.test(arch) ? 1e-5 : 1e-6;
    notes.push(
      `LayerNorm eps ${eps}: not recorded in the weights; timm's ` +
        (eps === 1e-5 ? `convnext_xxlarge definition (norm_eps=1e-5)` : `LayerNorm default`) +
        ` (set norm_eps in config.json to override)`,
    );
  }
  const actName = stringField(config, "act_layer", where) ?? stringField(args, "act_layer", where);
  if (actName === undefined) {
    notes.push("block activation GELU: timm's ConvNeXt default (act_layer not in config.json)");
  }
  const normPre = set.has("norm_pre.weight") ? "norm_pre" : undefined;
  const hasHidden = set.has("head.pre_logits.fc.weight");
  return {
    layout: "timm",
    what: `ConvNeXt${v2 ? " V2" : ""} (timm)`,
    version: v2 ? 2 : 1,
    stemConv: "stem.0",
    stemNorm: "stem.1",
    stages: countIndexed(names, "stages.", where),
    downsample: (s) => ({ norm: `stages.${s}.downsample.0`, conv: `stages.${s}.downsample.1` }),
    blocksPrefix: (s) => `stages.${s}.blocks.`,
    block: (s, l) => {
      const b = `stages.${s}.blocks.${l}`;
      return {
        name: b,
        dwconv: `${b}.conv_dw`,
        norm: `${b}.norm`,
        fc1: `${b}.mlp.fc1`,
        fc2: `${b}.mlp.fc2`,
        grn: `${b}.mlp.grn`,
        layerScale: `${b}.gamma`,
      };
    },
    layerScaleShape: (d) => [d],
    grnShape: (h) => [h],
    layerScale: v2 ? false : undefined,
    eps,
    act: activationOf(actName, "act_layer", "gelu", where),
    normPre,
    head: (features) => {
      const headNorm = normPre ? undefined : { ...normNames("head.norm"), eps: eps! };
      if (!hasHidden) {
        return headSpec(index, "head.fc", features, config, where, { norm: headNorm });
      }
      // NormMlpClassifierHead: norm -> pre_logits.fc -> act -> fc; ConvNeXt passes act_layer='gelu'.
      const hidden = requireShape(index, set, "head.pre_logits.fc.weight", where, 2)[0];
      const out = requireShape(index, set, "head.fc.weight", where, 2)[0];
      return {
        features,
        norm: headNorm,
        layers: [
          {
            linear: linearNames("head.pre_logits.fc", set),
            inFeatures: features,
            outFeatures: hidden,
            act: "gelu",
          },
          {
            linear: linearNames("head.fc", set),
            inFeatures: hidden,
            outFeatures: out,
            act: "none",
          },
        ],
        numClasses: out,
        notes: [
          `head: timm MLP head ${features} -> ${hidden} -> ${out} with GELU after ` +
          `head.pre_logits.fc (timm ConvNeXt's NormMlpClassifierHead act_layer)`,
        ],
      };
    },
    notes,
  };
}

function torchvisionNaming(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
): Naming {
  const names = index.names();
  const set = new Set(names);
  const children = countIndexed(names, "features.", where);
  if (children % 2 !== 0) {
    throw new ModelLayoutError(
      `${where}: torchvision ConvNeXt features.N has ${children} children; expected an even ` +
        `number (stem, then blocks and downsampling alternating, ending with blocks).`,
    );
  }
  const eps = normEpsOverride(config, where) ?? 1e-6;
  return {
    layout: "torchvision",
    what: "ConvNeXt (torchvision)",
    version: 1,
    stemConv: "features.0.0",
    stemNorm: "features.0.1",
    stages: children / 2,
    downsample: (s) => ({ norm: `features.${2 * s}.0`, conv: `features.${2 * s}.1` }),
    blocksPrefix: (s) => `features.${2 * s + 1}.`,
    block: (s, l) => {
      const b = `features.${2 * s + 1}.${l}`;
      return {
        name: b,
        dwconv: `${b}.block.0`,
        norm: `${b}.block.2`,
        fc1: `${b}.block.3`,
        fc2: `${b}.block.5`,
        grn: `${b}.block.grn`,
        layerScale: `${b}.layer_scale`,
      };
    },
    layerScaleShape: (d) => [d, 1, 1],
    grnShape: (h) => [h],
    layerScale: true,
    eps,
    act: activationOf(stringField(config, "act_layer", where), "act_layer", "gelu", where),
    head: (features) => {
      const out = requireShape(index, set, "classifier.2.weight", where, 2)[0];
      return {
        features,
        norm: { ...normNames("classifier.0"), eps },
        layers: [{
          linear: linearNames("classifier.2", set),
          inFeatures: features,
          outFeatures: out,
          act: "none",
        }],
        numClasses: out,
        notes: [],
      };
    },
    notes: [
      `LayerNorm eps ${eps} and GELU: torchvision's ConvNeXt definition (not recorded in the ` +
      `weights)`,
    ],
  };
}

/** A conv's names, its bias decided by `hasBias`. */
function convNames(prefix: string, hasBias: boolean): ConvNames {
  return { weight: `${prefix}.weight`, bias: hasBias ? `${prefix}.bias` : undefined };
}

function build(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
  n: Naming,
): ConvNeXtSpec {
  const names = index.names();
  const set = new Set(names);
  const notes = [...n.notes];
  const e: Expected = new Map();
  const norm = (prefix: string, dim: number): ChannelNorm => {
    const nn = { ...normNames(prefix), eps: n.eps };
    expectNorm(e, nn, dim);
    return nn;
  };

  // Stem: a non-overlapping patch x patch conv.
  const stemShape = requireShape(index, set, `${n.stemConv}.weight`, where, 4);
  const [dim0, inChannels, ph, pw] = stemShape;
  if (ph !== pw) {
    throw new ModelLayoutError(
      `${where}: stem conv ${n.stemConv}.weight [${stemShape}] has a non-square kernel; only a ` +
        `square patchify stem is supported.`,
    );
  }
  const stemConv = convNames(n.stemConv, set.has(`${n.stemConv}.bias`));
  e.set(stemConv.weight, stemShape);
  if (stemConv.bias) e.set(stemConv.bias, [dim0]);
  const stem = { conv: stemConv, patch: ph, dim: dim0, norm: norm(n.stemNorm, dim0) };

  if (n.stages < 1) {
    throw new ModelLayoutError(`${where}: no stages found in the ${n.what} layout.`);
  }
  // Bias / layer-scale presence: decided once from the first block, then expected everywhere.
  const first = n.block(0, 0);
  const dwBias = set.has(`${first.dwconv}.bias`);
  const fcBias = set.has(`${first.fc1}.bias`);
  const layerScale = n.layerScale ?? set.has(`${first.layerScale}`);
  if (n.layerScale === undefined && n.version === 1) {
    notes.push(
      layerScale
        ? "layer scale: present (found on the first block)"
        : "layer scale: none (the first block has none)",
    );
  }
  const fc1Shape = requireShape(index, set, `${first.fc1}.weight`, where);
  const convMlp = fc1Shape.length === 4;
  if (convMlp) notes.push("MLP stored as 1x1 convolutions (timm conv_mlp); run as linear layers");

  const stages: ConvNeXtStageSpec[] = [];
  let prev = dim0;
  for (let s = 0; s < n.stages; s++) {
    let downsample: ConvNeXtStageSpec["downsample"];
    let dim = prev;
    if (s > 0) {
      const ds = n.downsample(s);
      const shape = requireShape(index, set, `${ds.conv}.weight`, where, 4);
      const [out, inp, kh, kw] = shape;
      if (inp !== prev || kh !== kw) {
        throw new ModelLayoutError(
          `${where}: downsampling conv ${ds.conv}.weight [${shape}] should be [out, ${prev}, k, k].`,
        );
      }
      const conv = convNames(ds.conv, set.has(`${ds.conv}.bias`));
      e.set(conv.weight, shape);
      if (conv.bias) e.set(conv.bias, [out]);
      downsample = { norm: norm(ds.norm, prev), conv, kernel: kh, inChannels: prev };
      dim = out;
    }
    const count = countIndexed(names, n.blocksPrefix(s), where);
    if (count === 0) {
      throw new ModelLayoutError(
        `${where}: stage ${s} has no blocks (${n.blocksPrefix(s)}N.*); the checkpoint is ` +
          `incomplete or not a ${n.what}.`,
      );
    }
    const blocks: ConvNeXtBlockSpec[] = [];
    for (let l = 0; l < count; l++) {
      const b = n.block(s, l);
      const dw = requireShape(index, set, `${b.dwconv}.weight`, where, 4);
      const k = dw[2];
      if (dw[0] !== dim || dw[1] !== 1 || dw[3] !== k || k % 2 !== 1) {
        throw new ModelLayoutError(
          `${where}: depthwise conv ${b.dwconv}.weight [${dw}] should be [${dim}, 1, k, k] ` +
            `with an odd k.`,
        );
      }
      const hidden = requireShape(index, set, `${b.fc1}.weight`, where)[0];
      const dwconv = convNames(b.dwconv, dwBias);
      e.set(dwconv.weight, [dim, 1, k, k]);
      if (dwconv.bias) e.set(dwconv.bias, [dim]);
      const fc1 = linearNames(b.fc1, fcBias);
      const fc2 = linearNames(b.fc2, fcBias);
      const tail = convMlp ? [1, 1] : [];
      e.set(fc1.weight, [hidden, dim, ...tail]);
      if (fc1.bias) e.set(fc1.bias, [hidden]);
      e.set(fc2.weight, [dim, hidden, ...tail]);
      if (fc2.bias) e.set(fc2.bias, [dim]);
      const block: ConvNeXtBlockSpec = {
        name: b.name,
        dim,
        hidden,
        kernel: k,
        dwconv,
        norm: norm(b.norm, dim),
        fc1,
        fc2,
      };
      if (n.version === 2) {
        block.grn = { weight: `${b.grn}.weight`, bias: `${b.grn}.bias`, eps: 1e-6 };
        e.set(block.grn.weight, n.grnShape(hidden));
        e.set(block.grn.bias, n.grnShape(hidden));
      }
      if (layerScale) {
        block.layerScale = b.layerScale;
        e.set(b.layerScale, n.layerScaleShape(dim));
      }
      blocks.push(block);
    }
    stages.push({ downsample, dim, blocks });
    prev = dim;
  }

  const normPre = n.normPre ? norm(n.normPre, prev) : undefined;
  const head = n.head(prev);
  expectHead(e, head);
  notes.push(...head.notes);

  const widths = stages.map((s) => s.dim);
  const depths = stages.map((s) => s.blocks.length);
  checkConfigAgrees(config, where, { widths, depths, inChannels, patch: ph, stages: n.stages });
  checkTensors(index, e, where, { what: n.what });
  return {
    layout: n.layout,
    version: n.version,
    inChannels,
    stem,
    stages,
    normPre,
    act: n.act,
    head,
    depths,
    widths,
    notes,
  };
}

/** Refuses a config.json whose sizes contradict the weights (they do not belong together). */
function checkConfigAgrees(
  config: Record<string, unknown>,
  where: string,
  found: { widths: number[]; depths: number[]; inChannels: number; patch: number; stages: number },
): void {
  const said: [string, unknown, unknown][] = [
    ["hidden_sizes", intListField(config, "hidden_sizes", where), found.widths],
    ["depths", intListField(config, "depths", where), found.depths],
    ["num_channels", intField(config, "num_channels", where), found.inChannels],
    ["patch_size", intField(config, "patch_size", where), found.patch],
    ["num_stages", intField(config, "num_stages", where), found.stages],
    ["model_args.dims", intListField(modelArgs(config), "dims", where), found.widths],
    ["model_args.depths", intListField(modelArgs(config), "depths", where), found.depths],
  ];
  const bad = said.filter(([, c, w]) => c !== undefined && JSON.stringify(c) !== JSON.stringify(w));
  if (bad.length) {
    throw new ModelLayoutError(
      `${where}: config.json disagrees with the weights: ${
        bad.map(([k, c, w]) => `${k} ${JSON.stringify(c)} vs ${JSON.stringify(w)} in the weights`)
          .join("; ")
      }. Check that config.json belongs to these weights.`,
    );
  }
}
