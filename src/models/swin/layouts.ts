/**
 * Swin / Swin V2 key layouts: turns the tensor names and shapes of a
 * checkpoint (plus its config.json) into a {@link SwinSpec}.
 *
 * - torchvision `swin_{t,s,b}` / `swin_v2_{t,s,b}`: `features.0.{0,2}`
 *   (patch conv, LayerNorm), `features.{2s+1}.L.{norm1,attn.*,norm2,mlp.{0,3}}`,
 *   `features.{2s}.{reduction,norm}` (merging before stage s), `norm`, `head`;
 * - Hugging Face `SwinForImageClassification` / `Swinv2ForImageClassification`:
 *   `swin{,v2}.embeddings.{patch_embeddings.projection,norm}`,
 *   `.encoder.layers.S.blocks.L.{layernorm_before,attention.self.{query,key,value,...},
 *   attention.output.dense,layernorm_after,intermediate.dense,output.dense}`,
 *   `.encoder.layers.S.downsample.*` (merging after stage S), `.layernorm`, `classifier`;
 * - timm `swin_*` / `swinv2_*`: `patch_embed.{proj,norm}`,
 *   `layers.S.{downsample,blocks.L.{norm1,attn.*,norm2,mlp.{fc1,fc2}}}` (timm >= 0.9
 *   merges at the start of stage S >= 1, older timm at the end of stage S), `norm`,
 *   `head.fc` (or `head`).
 *
 * Widths, depths, heads, v1 window sizes and MLP widths come from shapes.
 * What the weights do not record comes from the library's definition for
 * the layout and is stated in the notes: the shift of odd blocks (half a
 * window), LayerNorm eps 1e-5 and exact GELU (config.json `layer_norm_eps`,
 * `hidden_act` override), the V2 window (torchvision's stored coordinate
 * table, else config `window_size` or the timm architecture name), and each
 * library's rule for windows at odd sizes.
 */
import { ModelLayoutError } from "../../errors.ts";
import type { Activation } from "../../ops/activation.ts";
import { expectHead, type HeadSpec, headSpec } from "../../nn/head.ts";
import { checkTimmModelArgs, type ModelArgRule, NONE, onlyValues } from "../timm_args.ts";
import {
  checkTensors,
  configActivation,
  countIndexed,
  type Expected,
  expectLinear,
  expectNorm,
  hfArchitectures,
  intField,
  type LinearNames,
  linearNames,
  type NormNames,
  normNames,
  positiveField,
  requireShape,
  stringField,
  summarizeNames,
  type TensorIndex,
  timmArchitecture,
  timmModelArgs,
} from "../../weights/layout_check.ts";
import type { SwinBlockSpec, SwinLayout, SwinSpec, SwinStageSpec, WindowRule } from "./spec.ts";

const HF_MODEL_TYPES = new Set(["swin", "swinv2"]);

/**
 * Which Swin layout a checkpoint uses, from config.json (HF `model_type` /
 * `architectures`, timm `architecture`) and, failing that, the tensor
 * names; undefined when it is not a Swin.
 */
export function detectSwinLayout(
  names: readonly string[],
  config: Record<string, unknown> = {},
): SwinLayout | undefined {
  const archs = hfArchitectures(config);
  if (
    HF_MODEL_TYPES.has(String(config.model_type)) ||
    archs.some((a) => /^Swin(v2)?(ForImageClassification|Model)$/.test(a)) ||
    names.some((n) => /^swin(v2)?\.embeddings\.patch_embeddings\./.test(n))
  ) {
    return "hf";
  }
  if (names.some((n) => /^features\.1\.0\.attn\.(qkv|proj)\.weight$/.test(n))) {
    return "torchvision";
  }
  if (/^swin(v2)?_/.test(timmArchitecture(config))) return "timm";
  if (names.some((n) => /^layers\.\d+\.blocks\.\d+\.attn\.qkv\.weight$/.test(n))) return "timm";
  return undefined;
}

/** Buffers some libraries save that the network recomputes (checked for nothing but presence). */
const BUFFER = /(\.relative_position_index|\.relative_coords_table|\.attn_mask)$/;

/** Where one layout keeps a block's tensors. */
interface BlockNames {
  norm1: string;
  norm2: string;
  /** Fused qkv prefix, or q/k/v prefixes. */
  qkv: string[];
  /** timm V2 separate q / v biases. */
  qvBias?: { q: string; v: string };
  proj: string;
  fc1: string;
  fc2: string;
  relativeTable: string;
  logitScale: string;
  cpb1: string;
  cpb2: string;
}

/** Tensor prefixes and conventions of one layout. */
interface Naming {
  layout: SwinLayout;
  what: string;
  version: 1 | 2;
  stemConv: string;
  stemNorm: string;
  stages: number;
  /** Prefix holding the numbered blocks of stage s (ends with "."). */
  blocksPrefix(s: number): string;
  block(s: number, l: number): BlockNames;
  /** The patch merging run before stage s (s >= 1). */
  merge(s: number): string;
  finalNorm: string;
  headPrefix: string;
  windowRule: WindowRule;
  padPixels: boolean;
  maskValue: number;
  /** The V2 window when the weights do not record it. */
  v2Window?: number;
  /** V2 pretrained window per stage (0: own window). */
  pretrainedWindows: number[];
  constructionGrid?: [number, number];
  fixedInput?: [number, number];
  eps: number;
  act: Activation;
  notes: string[];
}

/** Builds the spec of a Swin checkpoint in the given (or detected) layout. */
export function swinSpec(
  index: TensorIndex,
  config: Record<string, unknown> = {},
  where = "checkpoint",
  layout: SwinLayout | undefined = detectSwinLayout(index.names(), config),
): SwinSpec {
  switch (layout) {
    case "hf":
      return build(index, config, where, hfNaming(index, config, where));
    case "timm":
      return build(index, config, where, timmNaming(index, config, where));
    case "torchvision":
      return build(index, config, where, torchvisionNaming(index, config, where));
    default:
      throw new ModelLayoutError(
        `${where} is not a Swin layout this loader knows (torchvision features/norm/head, ` +
          `Hugging Face swin.* / swinv2.*, timm patch_embed/layers.S.blocks/head). ` +
          `Found: ${summarizeNames(index.names())}.`,
      );
  }
}

const ACTS: Record<string, Activation> = { gelu: "gelu", relu: "relu", silu: "silu" };

const activationOf = (value: string | undefined, key: string, where: string): Activation =>
  configActivation<Activation>(value, key, ACTS, "gelu", "Swin blocks", where);

const modelArgs = timmModelArgs;

/** LayerNorm eps: config.json's `layer_norm_eps` / `norm_eps`, else 1e-5 (every library's default). */
function epsOf(config: Record<string, unknown>, where: string, notes: string[]): number {
  const e = positiveField(config, "layer_norm_eps", where) ??
    positiveField(config, "norm_eps", where) ?? positiveField(modelArgs(config), "norm_eps", where);
  if (e !== undefined) return e;
  notes.push("LayerNorm eps 1e-5 (not recorded in the weights; every Swin library's default)");
  return 1e-5;
}

/** A number[] of `n` non-negative integers from config, or undefined. */
function windowList(v: unknown, n: number, key: string, where: string): number[] | undefined {
  if (v === undefined || v === null) return undefined;
  const list = typeof v === "number" ? new Array(n).fill(v) : v;
  if (
    !Array.isArray(list) || list.length !== n ||
    list.some((x) => !Number.isInteger(x) || x < 0)
  ) {
    throw new ModelLayoutError(
      `${where}: config ${key} ${JSON.stringify(v)} must be ${n} non-negative integers.`,
    );
  }
  return list;
}

function hfNaming(index: TensorIndex, config: Record<string, unknown>, where: string): Naming {
  const names = index.names();
  const v2 = config.model_type === "swinv2" ||
    hfArchitectures(config).some((a) => a.startsWith("Swinv2")) ||
    (config.model_type === undefined && names.some((n) => n.startsWith("swinv2.")));
  const p = v2 ? "swinv2" : "swin";
  const notes: string[] = [];
  if (names.includes(`${p}.embeddings.position_embeddings`)) {
    throw new ModelLayoutError(
      `${where}: use_absolute_embeddings (${p}.embeddings.position_embeddings) is not supported; ` +
        `published Swin checkpoints do not use it.`,
    );
  }
  const stages = countIndexed(names, `${p}.encoder.layers.`, where);
  const patch = requireShape(
    index,
    new Set(names),
    `${p}.embeddings.patch_embeddings.projection.weight`,
    where,
    4,
  )[2];
  const image = intField(config, "image_size", where);
  const window = intField(config, "window_size", where);
  // Swinv2Layer fixes each stage's window and shift from config image_size and window_size, and
  // the weights record neither: without them the checkpoint cannot be run exactly.
  if (v2 && (image === undefined || window === undefined)) {
    throw new ModelLayoutError(
      `${where}: a Hugging Face Swin V2 needs config.json's window_size and image_size (its ` +
        `windows and shifts are fixed from them and the weights do not record them); save the ` +
        `model with save_pretrained, or add them to config.json (e.g. 8 and 256 for ` +
        `swinv2-tiny-patch4-window8-256).`,
    );
  }
  const act = activationOf(stringField(config, "hidden_act", where), "hidden_act", where);
  if (config.hidden_act === undefined) {
    notes.push("MLP activation GELU: config.json has no hidden_act");
  }
  const pretrained = windowList(
    config.pretrained_window_sizes,
    stages,
    "pretrained_window_sizes",
    where,
  ) ?? new Array(stages).fill(0);
  const stage = (s: number) => `${p}.encoder.layers.${s}`;
  if (v2) {
    notes.push(
      "Hugging Face Swin V2: windows and shifts fixed for the grid config image_size " +
        `${image} / patch ${patch} (Swinv2Layer), shift mask added twice (-200) as ` +
        "Swinv2SelfAttention does",
    );
  } else {
    notes.push(
      "Hugging Face Swin: no shift in a stage whose smaller side is at most the window " +
        "(SwinLayer.set_shift_and_window_size); pixels padded to whole patches",
    );
  }
  return {
    layout: "hf",
    what: `Swin${v2 ? " V2" : ""} (Hugging Face)`,
    version: v2 ? 2 : 1,
    stemConv: `${p}.embeddings.patch_embeddings.projection`,
    stemNorm: `${p}.embeddings.norm`,
    stages,
    blocksPrefix: (s) => `${stage(s)}.blocks.`,
    block: (s, l) => {
      const b = `${stage(s)}.blocks.${l}`;
      const a = `${b}.attention.self`;
      return {
        norm1: `${b}.layernorm_before`,
        norm2: `${b}.layernorm_after`,
        qkv: [`${a}.query`, `${a}.key`, `${a}.value`],
        proj: `${b}.attention.output.dense`,
        fc1: `${b}.intermediate.dense`,
        fc2: `${b}.output.dense`,
        relativeTable: `${a}.relative_position_bias_table`,
        logitScale: `${a}.logit_scale`,
        cpb1: `${a}.continuous_position_bias_mlp.0`,
        cpb2: `${a}.continuous_position_bias_mlp.2`,
      };
    },
    merge: (s) => `${stage(s - 1)}.downsample`,
    finalNorm: `${p}.layernorm`,
    headPrefix: "classifier",
    windowRule: v2 ? "construction" : "hf",
    padPixels: true,
    maskValue: v2 ? -200 : -100,
    v2Window: window,
    pretrainedWindows: pretrained,
    constructionGrid: v2 ? [Math.floor(image! / patch), Math.floor(image! / patch)] : undefined,
    eps: epsOf(config, where, notes),
    act,
    notes,
  };
}

/** timm's input size: pretrained_cfg input_size, model_args img_size, the architecture name, 224. */
function timmInputSize(config: Record<string, unknown>, arch: string, notes: string[]) {
  const cfg = config.pretrained_cfg as Record<string, unknown> | undefined;
  const size = cfg?.input_size;
  if (Array.isArray(size) && size.length === 3 && size.every(Number.isInteger)) {
    return [size[1], size[2]] as [number, number];
  }
  const img = modelArgs(config).img_size;
  if (Number.isInteger(img)) return [img, img] as [number, number];
  const m = /_(?:\d+to)?(\d+)$/.exec(arch); // "_256", or "_192to384" (fine-tuned at 384)
  if (m) return [Number(m[1]), Number(m[1])] as [number, number];
  notes.push("input 224x224: timm builds Swin for img_size 224 unless config.json says otherwise");
  return [224, 224] as [number, number];
}

/**
 * timm Swin / Swin V2 `model_args`: what this layout reads, what the tensors
 * settle, and the math-only options it runs at timm's defaults.
 */
const TIMM_SWIN_ARGS: Record<string, ModelArgRule> = {
  img_size: "read",
  window_size: "read",
  pretrained_window_sizes: "read",
  act_layer: "read",
  norm_eps: "read",
  embed_dim: "weights",
  depths: "weights",
  num_heads: "weights",
  head_dim: "weights",
  patch_size: "weights",
  mlp_ratio: "weights",
  qkv_bias: "weights",
  ape: "weights",
  patch_norm: "weights",
  // timm refuses other input sizes either way; this loader refuses them too.
  strict_img_size: onlyValues(true, false),
  always_partition: onlyValues(false),
  global_pool: onlyValues("avg"),
  norm_layer: onlyValues("layernorm"),
  embed_layer: NONE,
};

function timmNaming(index: TensorIndex, config: Record<string, unknown>, where: string): Naming {
  checkTimmModelArgs(config, TIMM_SWIN_ARGS, "Swin", where);
  const names = index.names();
  const set = new Set(names);
  // "swin_base_patch4_window12_384.ms_in22k_ft_in1k": the pretrained tag says nothing of the shape.
  const arch = timmArchitecture(config).split(".")[0];
  const args = modelArgs(config);
  const notes: string[] = [];
  const v2 = /^swinv2_/.test(arch) || names.some((n) => /\.attn\.logit_scale$/.test(n));
  if (/^swinv2_cr_/.test(arch) || names.some((n) => /\.attn\.meta_mlp\./.test(n))) {
    throw new ModelLayoutError(
      `${where}: timm swinv2_cr (Christoph Reich's Swin V2, attn.meta_mlp) is not supported; ` +
        `only timm swin_* and swinv2_* are.`,
    );
  }
  const stages = countIndexed(names, "layers.", where);
  const patchShape = requireShape(index, set, "patch_embed.proj.weight", where, 4);
  const patch = patchShape[2];
  const input = timmInputSize(config, arch, notes);
  // timm >= 0.9 merges at the start of stages 1.., older timm at the end of stages ..S-2.
  const mergeAtEnd = names.some((n) => n.startsWith("layers.0.downsample."));
  // timm's names say the window: "window8", or "window12to24_192to384" (fine-tuned with window 24
  // from a model pretrained at 192 with window 12, whose per-stage pretrained windows are
  // min(12, the 192 grid of the stage): timm's pretrained_window_sizes for those models).
  const fromName = /window(\d+)(?:to(\d+))?/.exec(arch);
  const fromPretrain = /_(\d+)to\d+$/.exec(arch);
  const window = intField(args, "window_size", where) ??
    (fromName ? Number(fromName[2] ?? fromName[1]) : undefined);
  let pretrained = windowList(
    args.pretrained_window_sizes,
    stages,
    "model_args.pretrained_window_sizes",
    where,
  );
  if (!pretrained && v2 && fromName?.[2] && fromPretrain) {
    const w = Number(fromName[1]), grid = Math.floor(Number(fromPretrain[1]) / patch);
    pretrained = Array.from({ length: stages }, (_, s) => Math.min(w, Math.floor(grid / 2 ** s)));
    notes.push(
      `pretrained windows ${pretrained} and window ${window}: from the timm name ${arch} ` +
        `(set model_args.pretrained_window_sizes / window_size to override)`,
    );
  }
  pretrained ??= new Array(stages).fill(0);
  notes.push(
    `timm Swin: built for ${input[0]}x${input[1]} inputs (window and shift per stage from that ` +
      "grid, as timm does); other input sizes are refused as timm refuses them",
  );
  const actName = stringField(config, "act_layer", where) ?? stringField(args, "act_layer", where);
  return {
    layout: "timm",
    what: `Swin${v2 ? " V2" : ""} (timm)`,
    version: v2 ? 2 : 1,
    stemConv: "patch_embed.proj",
    stemNorm: "patch_embed.norm",
    stages,
    blocksPrefix: (s) => `layers.${s}.blocks.`,
    block: (s, l) => {
      const b = `layers.${s}.blocks.${l}`;
      return {
        norm1: `${b}.norm1`,
        norm2: `${b}.norm2`,
        qkv: [`${b}.attn.qkv`],
        qvBias: v2 ? { q: `${b}.attn.q_bias`, v: `${b}.attn.v_bias` } : undefined,
        proj: `${b}.attn.proj`,
        fc1: `${b}.mlp.fc1`,
        fc2: `${b}.mlp.fc2`,
        relativeTable: `${b}.attn.relative_position_bias_table`,
        logitScale: `${b}.attn.logit_scale`,
        cpb1: `${b}.attn.cpb_mlp.0`,
        cpb2: `${b}.attn.cpb_mlp.2`,
      };
    },
    merge: (s) => mergeAtEnd ? `layers.${s - 1}.downsample` : `layers.${s}.downsample`,
    finalNorm: "norm",
    headPrefix: set.has("head.fc.weight") ? "head.fc" : "head",
    windowRule: "construction",
    padPixels: false,
    maskValue: -100,
    v2Window: window,
    pretrainedWindows: pretrained,
    constructionGrid: [Math.floor(input[0] / patch), Math.floor(input[1] / patch)],
    fixedInput: input,
    eps: epsOf(config, where, notes),
    act: activationOf(actName, "act_layer", where),
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
      `${where}: torchvision Swin features.N has ${children} children; expected an even number ` +
        `(patch embedding, then blocks and patch merging alternating, ending with blocks).`,
    );
  }
  const v2 = names.some((n) => /\.attn\.logit_scale$/.test(n));
  const notes: string[] = [];
  // torchvision saves V2's coordinate table [1, 2w-1, 2w-1, 2]: the window is recorded.
  let window = intField(config, "window_size", where);
  const table = "features.1.0.attn.relative_coords_table";
  if (window === undefined && set.has(table)) {
    const s = index.info(table).shape;
    if (s.length === 4 && s[1] % 2 === 1) {
      window = (s[1] + 1) / 2;
      notes.push(`window ${window}: from ${table} [${s}]`);
    }
  }
  return {
    layout: "torchvision",
    what: `Swin${v2 ? " V2" : ""} (torchvision)`,
    version: v2 ? 2 : 1,
    stemConv: "features.0.0",
    stemNorm: "features.0.2",
    stages: children / 2,
    blocksPrefix: (s) => `features.${2 * s + 1}.`,
    block: (s, l) => {
      const b = `features.${2 * s + 1}.${l}`;
      return {
        norm1: `${b}.norm1`,
        norm2: `${b}.norm2`,
        qkv: [`${b}.attn.qkv`],
        proj: `${b}.attn.proj`,
        fc1: `${b}.mlp.0`,
        fc2: `${b}.mlp.3`,
        relativeTable: `${b}.attn.relative_position_bias_table`,
        logitScale: `${b}.attn.logit_scale`,
        cpb1: `${b}.attn.cpb_mlp.0`,
        cpb2: `${b}.attn.cpb_mlp.2`,
      };
    },
    merge: (s) => `features.${2 * s}`,
    finalNorm: "norm",
    headPrefix: "head",
    windowRule: "torchvision",
    padPixels: false,
    maskValue: -100,
    v2Window: window,
    pretrainedWindows: new Array(children / 2).fill(0),
    eps: epsOf(config, where, notes),
    act: activationOf(stringField(config, "act_layer", where), "act_layer", where),
    notes,
  };
}

function build(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
  n: Naming,
): SwinSpec {
  const names = index.names();
  const set = new Set(names);
  const e: Expected = new Map();
  const notes = [...n.notes];
  const stemShape = requireShape(index, set, `${n.stemConv}.weight`, where, 4);
  const [embed, inChannels, patch, patchW] = stemShape;
  if (patch !== patchW) {
    throw new ModelLayoutError(
      `${where}: ${n.stemConv}.weight [${stemShape}] has a non-square patch; not supported.`,
    );
  }
  const stem = {
    conv: linearNames(n.stemConv, true),
    patch,
    dim: embed,
    norm: normNames(n.stemNorm),
  };
  e.set(stem.conv.weight, stemShape);
  e.set(stem.conv.bias!, [embed]);
  expectNorm(e, stem.norm, embed);

  const stages: SwinStageSpec[] = [];
  let dim = embed;
  const depths: number[] = [], widths: number[] = [];
  for (let s = 0; s < n.stages; s++) {
    let merge: SwinStageSpec["merge"];
    if (s > 0) {
      const m = n.merge(s);
      const red = requireShape(index, set, `${m}.reduction.weight`, where, 2);
      if (red[1] !== 4 * dim) {
        throw new ModelLayoutError(
          `${where}: ${m}.reduction.weight [${red}] should read the 4 x ${dim} merged channels.`,
        );
      }
      merge = { norm: normNames(`${m}.norm`), reduction: `${m}.reduction.weight`, inDim: dim };
      e.set(merge.reduction, red);
      expectNorm(e, merge.norm, n.version === 1 ? 4 * dim : red[0]);
      dim = red[0];
    }
    const depth = countIndexed(names, n.blocksPrefix(s), where);
    const blocks: SwinBlockSpec[] = [];
    let heads = 0, window = 0;
    for (let l = 0; l < depth; l++) {
      const b = n.block(s, l);
      const blk = blockSpec(index, set, e, b, dim, l, n, s, where);
      blocks.push(blk.spec);
      if (l === 0) [heads, window] = [blk.spec.heads, blk.window];
      else if (blk.spec.heads !== heads || blk.window !== window) {
        throw new ModelLayoutError(
          `${where}: block ${b.norm1.replace(/\.[^.]+$/, "")} has ${blk.spec.heads} heads / ` +
            `window ${blk.window}, unlike the stage's first block (${heads} / ${window}).`,
        );
      }
    }
    stages.push({ merge, dim, heads, window, blocks });
    depths.push(depth);
    widths.push(dim);
  }
  const finalNorm = normNames(n.finalNorm);
  expectNorm(e, finalNorm, dim);
  const head: HeadSpec = headSpec(index, n.headPrefix, dim, config, where);
  expectHead(e, head);
  checkTensors(index, e, where, {
    what: n.what,
    ignorable: (name) => BUFFER.test(name) || name.endsWith(".mask_token"),
  });
  notes.push(
    "shifted windows on odd blocks (shift = window / 2), as every Swin library builds them",
  );
  return {
    layout: n.layout,
    version: n.version,
    inChannels,
    stem,
    padPixels: n.padPixels,
    mergeNormFirst: n.version === 1,
    stages,
    finalNorm,
    eps: n.eps,
    act: n.act,
    windowRule: n.windowRule,
    constructionGrid: n.constructionGrid,
    fixedInput: n.fixedInput,
    maskValue: n.maskValue,
    head,
    depths,
    widths,
    notes: [...notes, ...head.notes],
  };
}

function blockSpec(
  index: TensorIndex,
  set: ReadonlySet<string>,
  e: Expected,
  b: BlockNames,
  dim: number,
  l: number,
  n: Naming,
  s: number,
  where: string,
): { spec: SwinBlockSpec; window: number } {
  const name = b.norm1.replace(/\.[^.]+$/, "");
  const norm1: NormNames = normNames(b.norm1), norm2: NormNames = normNames(b.norm2);
  expectNorm(e, norm1, dim);
  expectNorm(e, norm2, dim);
  let qkv: LinearNames[];
  if (b.qkv.length === 1) {
    qkv = [linearNames(b.qkv[0], n.version === 2 && n.layout === "timm" ? false : set)];
    expectLinear(e, qkv[0], 3 * dim, dim);
  } else {
    qkv = b.qkv.map((p) => linearNames(p, set));
    for (const q of qkv) expectLinear(e, q, dim, dim);
  }
  const qvBias = b.qvBias && set.has(b.qvBias.q) ? b.qvBias : undefined;
  if (qvBias) {
    e.set(qvBias.q, [dim]);
    e.set(qvBias.v, [dim]);
  }
  const proj = linearNames(b.proj, true);
  expectLinear(e, proj, dim, dim);
  const hiddenShape = requireShape(index, set, `${b.fc1}.weight`, where, 2);
  const hidden = hiddenShape[0];
  const fc1 = linearNames(b.fc1, true), fc2 = linearNames(b.fc2, true);
  expectLinear(e, fc1, hidden, dim);
  expectLinear(e, fc2, dim, hidden);
  let heads: number, window: number;
  const spec: Partial<SwinBlockSpec> = {};
  if (n.version === 1) {
    const t = requireShape(index, set, `${b.relativeTable}`, where, 2);
    heads = t[1];
    window = (Math.sqrt(t[0]) + 1) / 2;
    if (!Number.isInteger(window)) {
      throw new ModelLayoutError(
        `${where}: ${b.relativeTable} [${t}] is not [(2w-1)^2, heads] for a square window w.`,
      );
    }
    e.set(b.relativeTable, t);
    spec.relativeTable = b.relativeTable;
  } else {
    const ls = requireShape(index, set, b.logitScale, where);
    heads = ls[0];
    e.set(b.logitScale, [heads, 1, 1]);
    const c1 = requireShape(index, set, `${b.cpb1}.weight`, where, 2);
    e.set(`${b.cpb1}.weight`, [c1[0], 2]);
    e.set(`${b.cpb1}.bias`, [c1[0]]);
    e.set(`${b.cpb2}.weight`, [heads, c1[0]]);
    if (n.v2Window === undefined) {
      throw new ModelLayoutError(
        `${where}: the Swin V2 window size is not recorded in these weights; set window_size in ` +
          `config.json (or name the timm architecture, e.g. swinv2_tiny_window8_256).`,
      );
    }
    window = n.v2Window;
    spec.logitScale = b.logitScale;
    spec.cpb = {
      fc1: linearNames(b.cpb1, true),
      fc2: `${b.cpb2}.weight`,
      pretrainedWindow: n.pretrainedWindows[s] ?? 0,
    };
  }
  if (!Number.isInteger(heads) || heads < 1 || dim % heads !== 0) {
    throw new ModelLayoutError(`${where}: ${name} has ${heads} heads for width ${dim}.`);
  }
  return {
    spec: {
      name,
      dim,
      heads,
      hidden,
      norm1,
      norm2,
      qkv,
      qvBias,
      zeroKeyBias: n.version === 2,
      proj,
      fc1,
      fc2,
      shifted: l % 2 === 1,
      ...spec,
    },
    window,
  };
}
