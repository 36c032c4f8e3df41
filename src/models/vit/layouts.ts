/**
 * Vision Transformer key layouts: turns the tensor names and shapes of a
 * checkpoint (plus its config.json) into a {@link ViTSpec}, the layout-free
 * description of the network that `src/models/vit.ts` runs.
 *
 * Layouts understood:
 * - Hugging Face `ViTForImageClassification` (`vit.embeddings.*`,
 *   `vit.encoder.layer.N.attention.attention.{query,key,value}`, ...,
 *   `vit.layernorm`, `classifier`);
 * - Hugging Face `DeiTForImageClassification` (`deit.*`, `classifier`) and
 *   `DeiTForImageClassificationWithTeacher` (`cls_classifier` +
 *   `distillation_classifier`, logits = their mean);
 * - timm `VisionTransformer` (`cls_token`, `pos_embed`, `patch_embed.proj`,
 *   `blocks.N.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}`, `norm`,
 *   `head`) and timm's distilled DeiT (`dist_token`, `head_dist`).
 *
 * Widths, depth, patch size, MLP size, class count and the trained token grid
 * come from tensor shapes; only the head count (which shapes cannot tell) and
 * the LayerNorm epsilon come from the config, with the library defaults
 * otherwise. The builder lists every tensor the network needs with its shape
 * and compares with the file, so an incomplete or foreign checkpoint fails
 * naming the missing, unexpected and mis-shaped tensors.
 */
import { ModelLayoutError } from "../../errors.ts";
import { expectHead, type HeadSpec, headSpec } from "../../nn/head.ts";
import type { TransformerBlockSpec } from "../../nn/transformer.ts";
import type { Activation } from "../../ops/gemm.ts";
import { checkTimmModelArgs, type ModelArgRule, NONE, onlyValues } from "../timm_args.ts";
import {
  checkTensors,
  type Expected,
  expectLinear,
  expectNorm,
  hfArchitectures,
  type LinearNames,
  linearNames,
  type NormNames,
  normNames,
  summarizeNames,
  type TensorIndex,
  timmArchitecture,
} from "../../weights/layout_check.ts";

export type { LinearNames, NormNames, TensorIndex };

/** One transformer block (the shared block of src/nn/transformer.ts). */
export type ViTBlockSpec = TransformerBlockSpec;

/** How position embeddings are resized to another token grid. */
export type PosEmbedResize = "bicubic" | "bicubic-antialias";

/** A Vision Transformer, independent of how its checkpoint names things. */
export interface ViTSpec {
  /** Which key layout the checkpoint uses. */
  layout: "hf-vit" | "hf-deit" | "hf-dinov2" | "hf-beit" | "timm" | "torchvision" | "pytorch";
  /** "vit", or "deit" when a distillation token is present. */
  architecture: "vit" | "deit";
  /** Model width D. */
  hidden: number;
  /** Attention heads. */
  heads: number;
  /** MLP hidden width. */
  mlp: number;
  /** Patch size [ph, pw] (the patch-embedding conv's kernel and stride). */
  patch: [number, number];
  /** Input channels. */
  channels: number;
  /** Token grid the position embeddings were trained for [gh, gw]. */
  grid: [number, number];
  /** LayerNorm epsilon. */
  eps: number;
  /**
   * Pre-norm blocks (`x + f(LN(x))`, ViT/timm/HF/torchvision) or post-norm
   * (`LN(x + f(x))`, `nn.TransformerEncoderLayer`'s default).
   */
  normFirst: boolean;
  /** Activation between the MLP's two linears. */
  mlpAct: Activation;
  /** Prefix tokens [1, 1, D] in sequence order: class token, then distillation token. */
  prefixTokens: string[];
  /**
   * Register tokens [1, count, D] (DINOv2 with registers): after the prefix
   * tokens, before the patches, with no position embedding.
   */
  registers?: { name: string; count: number };
  /** Position embedding [1, N, D]; "" when the model has none (BEiT's relative bias instead). */
  posEmbed: string;
  /**
   * How many of the leading prefix tokens (class, distillation, register
   * tokens, in sequence order) have a row in the position embedding, before
   * the grid rows: all of them (ViT), none (timm `no_embed_class`), or the
   * class token only (Hugging Face DINOv2 with registers).
   */
  posPrefixRows: number;
  /** Resampling used when the input grid differs from `grid`. */
  posResize: PosEmbedResize;
  /** Patch-embedding conv: weight [D, C, ph, pw], bias [D]. */
  patchEmbed: LinearNames;
  /** The blocks, input first. */
  blocks: ViTBlockSpec[];
  /** LayerNorms after the last block, in order (none, one, or the encoder's and the model's). */
  norms: NormNames[];
  /**
   * What the head reads: "tokens", each classifier one prefix token
   * (`token` = its index), logits their mean (one head: the class token;
   * distilled DeiT: two, each a single linear); "cls+patch-mean" (DINOv2),
   * one classifier on the class token concatenated with the mean of the
   * patch tokens (registers excluded), both after the final norm;
   * "patch-mean" (timm global_pool "avg"), one classifier (often with a
   * LayerNorm, timm's fc_norm) on the mean of the patch tokens.
   */
  pool: "tokens" | "cls+patch-mean" | "patch-mean";
  /** The classifiers (see `pool`). */
  classifiers: { head: HeadSpec; token: number }[];
  /** Number of classes. */
  numClasses: number;
  /** What was inferred or assumed, with its evidence (printed in the run header). */
  notes: string[];
}

/** The layouts {@link detectViTLayout} recognises. */
export type ViTLayout = ViTSpec["layout"];

/**
 * Which ViT layout a checkpoint uses, from config.json (HF `model_type` /
 * `architectures`, timm `architecture`) and, failing that, the tensor names.
 * Undefined when it does not look like a ViT.
 */
export function detectViTLayout(
  names: readonly string[],
  config: Record<string, unknown> = {},
): ViTLayout | undefined {
  const hfArchs = hfArchitectures(config);
  const timmArch = timmArchitecture(config);
  if (config.model_type === "deit" || hfArchs.some((a) => a.startsWith("DeiT"))) return "hf-deit";
  if (config.model_type === "vit" || hfArchs.some((a) => a.startsWith("ViT"))) return "hf-vit";
  if (
    config.model_type === "beit" || hfArchs.some((a) => a.startsWith("Beit")) ||
    names.some((n) => n.startsWith("beit.embeddings."))
  ) {
    return "hf-beit";
  }
  if (
    config.model_type === "dinov2" || config.model_type === "dinov2_with_registers" ||
    hfArchs.some((a) => a.startsWith("Dinov2")) ||
    names.some((n) => /^dinov2(_with_registers)?\.embeddings\./.test(n))
  ) {
    return "hf-dinov2";
  }
  if (/^(vit|deit)_/.test(timmArch)) return "timm";
  if (names.some((n) => n.startsWith("deit.embeddings."))) return "hf-deit";
  if (names.some((n) => n.startsWith("vit.embeddings."))) return "hf-vit";
  if (names.includes("patch_embed.proj.weight") && names.some((n) => n.startsWith("blocks.0."))) {
    return "timm";
  }
  if (names.includes("conv_proj.weight") && names.includes("encoder.pos_embedding")) {
    return "torchvision";
  }
  if (names.some((n) => /^transformer\.layers\.\d+\.self_attn\.in_proj_weight$/.test(n))) {
    return "pytorch";
  }
  return undefined;
}

/** Builds the spec of a ViT checkpoint in the given (or detected) layout. */
export function vitSpec(
  index: TensorIndex,
  config: Record<string, unknown> = {},
  where = "checkpoint",
  layout: ViTLayout | undefined = detectViTLayout(index.names(), config),
): ViTSpec {
  switch (layout) {
    case "hf-vit":
    case "hf-deit":
      return hfSpec(index, config, where, layout);
    case "hf-dinov2":
      return dinov2Spec(index, config, where);
    case "hf-beit":
      return beitSpec(index, config, where);
    case "timm":
      return timmSpec(index, config, where);
    case "torchvision":
      return torchvisionSpec(index, config, where);
    case "pytorch":
      return pytorchSpec(index, config, where);
    default:
      throw new ModelLayoutError(
        `${where} is not a Vision Transformer layout this loader knows (Hugging Face vit.* / ` +
          `deit.*, timm cls_token/pos_embed/patch_embed/blocks.N, torchvision conv_proj/encoder, ` +
          `or nn.TransformerEncoder transformer.layers.N). Found: ${
            summarizeNames(index.names())
          }.`,
      );
  }
}

// ---------------------------------------------------------------------------
// Shared helpers

/** Shape of a tensor the layout cannot do without, or a layout error naming it. */
function requireShape(index: TensorIndex, names: Set<string>, name: string, where: string) {
  if (!names.has(name)) {
    throw new ModelLayoutError(
      `${where} has no tensor ${JSON.stringify(name)}, which this ViT layout needs. The ` +
        `checkpoint is incomplete or in another layout. Found: ${summarizeNames([...names])}.`,
    );
  }
  return index.info(name).shape;
}

/** Number of blocks `prefix<i>.`: at least one, numbered without gaps. */
function countBlocks(names: readonly string[], prefix: string, where: string): number {
  const re = new RegExp(`^${prefix.replaceAll(".", "\\.")}(\\d+)\\.`);
  const found = new Set<number>();
  for (const n of names) {
    const m = re.exec(n);
    if (m) found.add(Number(m[1]));
  }
  if (found.size === 0) {
    throw new ModelLayoutError(`${where} has no transformer blocks (${prefix}0.*).`);
  }
  const depth = Math.max(...found) + 1;
  const gaps = [...Array(depth).keys()].filter((i) => !found.has(i));
  if (gaps.length) {
    throw new ModelLayoutError(
      `${where} is missing transformer block(s) ${gaps.map((i) => prefix + i).join(", ")}.`,
    );
  }
  return depth;
}

function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/**
 * Splits the position-embedding rows that belong to patches into a grid:
 * the config's grid when it fits, else a square one.
 */
function patchGrid(
  patchRows: number,
  configGrid: [number, number] | undefined,
  where: string,
  posName: string,
): [number, number] {
  if (configGrid && configGrid[0] * configGrid[1] === patchRows) return configGrid;
  const side = Math.round(Math.sqrt(patchRows));
  if (side * side === patchRows && side > 0) return [side, side];
  throw new ModelLayoutError(
    `${where}: ${posName} has ${patchRows} patch positions, which is not a square grid and ` +
      `does not match the configured image/patch size. Set image_size in config.json.`,
  );
}

/**
 * Head count from the config, else head size 64 (true of every standard ViT
 * size), said in `notes`.
 */
function headsFor(
  hidden: number,
  configured: number | undefined,
  where: string,
  notes?: string[],
): number {
  const heads = configured ?? (hidden % 64 === 0 ? hidden / 64 : undefined);
  if (configured === undefined && heads !== undefined) {
    notes?.push(
      `attention heads: ${heads}, inferred from width ${hidden} at the standard head size 64 ` +
        `(set num_attention_heads or model_args.num_heads in config.json otherwise)`,
    );
  }
  if (!heads || !Number.isInteger(heads) || hidden % heads !== 0) {
    throw new ModelLayoutError(
      `${where}: cannot tell the number of attention heads for width ${hidden}` +
        (configured ? ` (config says ${configured}, which does not divide it)` : "") +
        `. Set num_attention_heads (Hugging Face) or model_args.num_heads (timm) in config.json.`,
    );
  }
  return heads;
}

/** Hugging Face's attention names (ViT, DeiT, DINOv2): separate q, k, v, then output.dense. */
function hfAttention(p: string, qkvBias: boolean): Pick<ViTBlockSpec, "qkv" | "proj"> {
  return {
    qkv: ["query", "key", "value"].map((n) =>
      linearNames(`${p}.attention.attention.${n}`, qkvBias)
    ),
    proj: linearNames(`${p}.attention.output.dense`, true),
  };
}

/** Whether HF's q/k/v projections have biases: config `qkv_bias`, else the first query's bias. */
function hfQkvBias(config: Record<string, unknown>, have: Set<string>, layerPrefix: string) {
  return typeof config.qkv_bias === "boolean"
    ? config.qkv_bias
    : have.has(`${layerPrefix}0.attention.attention.query.bias`);
}

/** Hugging Face's MLP runs exact (erf) GELU; a tanh or sigmoid approximation would be silently off. */
function requireExactGelu(config: Record<string, unknown>, where: string): void {
  const act = config.hidden_act ?? "gelu";
  if (act !== "gelu") {
    throw new ModelLayoutError(
      `${where}: hidden_act ${JSON.stringify(act)} is not supported (only "gelu", the exact GELU).`,
    );
  }
}

/** Fills in the shapes every layout shares and runs the check. */
function finish(
  index: TensorIndex,
  spec: ViTSpec,
  where: string,
  ignorable: (name: string) => boolean,
): ViTSpec {
  const { hidden: D, mlp: M, channels: C, patch: [ph, pw], grid: [gh, gw] } = spec;
  const e: Expected = new Map();
  for (const t of spec.prefixTokens) e.set(t, [1, 1, D]);
  if (spec.registers) e.set(spec.registers.name, [1, spec.registers.count, D]);
  const posRows = gh * gw + spec.posPrefixRows;
  if (spec.posEmbed) e.set(spec.posEmbed, [1, posRows, D]);
  e.set(spec.patchEmbed.weight, [D, C, ph, pw]);
  if (spec.patchEmbed.bias) e.set(spec.patchEmbed.bias, [D]);
  for (const b of spec.blocks) {
    expectNorm(e, b.norm1, D);
    if (b.qkv.length === 1) expectLinear(e, b.qkv[0], 3 * D, D);
    else for (const l of b.qkv) expectLinear(e, l, D, D);
    const qkvBiases = b.qkv.filter((l) => l.bias).length;
    // BEiT's key has no bias while its query and value do; elsewhere all or none.
    if (spec.layout !== "hf-beit" && qkvBiases !== 0 && qkvBiases !== b.qkv.length) {
      throw new ModelLayoutError(
        `${where}: ${b.qkv[0].weight} and its sibling q/k/v projections must all have a bias or ` +
          `none.`,
      );
    }
    expectLinear(e, b.proj, D, D);
    expectNorm(e, b.norm2, D);
    expectLinear(e, b.fc1, M, D);
    expectLinear(e, b.fc2, D, M);
    for (const ls of [b.layerScale1, b.layerScale2]) if (ls) e.set(ls, [D]);
    const rel = b.relativePositionBias;
    if (rel) e.set(rel.table, [(2 * rel.window[0] - 1) * (2 * rel.window[1] - 1) + 3, spec.heads]);
  }
  for (const n of spec.norms) expectNorm(e, n, D);
  for (const c of spec.classifiers) {
    expectHead(e, c.head);
    if (spec.classifiers.length > 1 && c.head.layers.length > 1) {
      throw new ModelLayoutError(
        `${where}: a distilled model's heads must each be a single linear layer.`,
      );
    }
  }
  checkTensors(index, e, where, { what: `Vision Transformer (${spec.layout})`, ignorable });
  for (const c of spec.classifiers) spec.notes.push(...c.head.notes);
  return spec;
}

// ---------------------------------------------------------------------------
// Hugging Face ViT / DeiT

function hfSpec(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
  layout: "hf-vit" | "hf-deit",
): ViTSpec {
  const names = index.names();
  const have = new Set(names);
  const notes: string[] = [];
  const base = layout === "hf-deit" ? "deit" : "vit";
  const emb = `${base}.embeddings`;
  const cls = `${emb}.cls_token`;
  const dist = `${emb}.distillation_token`;
  const prefixTokens = have.has(dist) ? [cls, dist] : [cls];
  const D = requireShape(index, have, cls, where)[2];
  const patchW = requireShape(index, have, `${emb}.patch_embeddings.projection.weight`, where);
  const posEmbed = `${emb}.position_embeddings`;
  const posRows = requireShape(index, have, posEmbed, where)[1];
  const layerPrefix = `${base}.encoder.layer.`;
  const depth = countBlocks(names, layerPrefix, where);
  const mlp = requireShape(index, have, `${layerPrefix}0.intermediate.dense.weight`, where)[0];

  const patch: [number, number] = [patchW[2], patchW[3]];
  const imageSize = num(config.image_size);
  const configPatch = num(config.patch_size);
  const configGrid: [number, number] | undefined = imageSize && configPatch
    ? [Math.floor(imageSize / configPatch), Math.floor(imageSize / configPatch)]
    : undefined;
  const grid = patchGrid(posRows - prefixTokens.length, configGrid, where, posEmbed);

  // Classifier heads: DeiT with teacher has two, averaged; plain models one.
  let classifiers: ViTSpec["classifiers"];
  if (have.has("cls_classifier.weight") || have.has("distillation_classifier.weight")) {
    classifiers = [
      { head: headSpec(index, "cls_classifier", D, config, where), token: 0 },
      { head: headSpec(index, "distillation_classifier", D, config, where), token: 1 },
    ];
    if (prefixTokens.length !== 2) {
      throw new ModelLayoutError(
        `${where} has a distillation classifier but no ${dist}; the checkpoint is incomplete.`,
      );
    }
  } else {
    classifiers = [{ head: headSpec(index, "classifier", D, config, where), token: 0 }];
  }
  const numClasses = classifiers[0].head.numClasses;
  // The MLP runs exact (erf) GELU; a tanh or sigmoid approximation would be silently off.
  requireExactGelu(config, where);

  const qkvBias = hfQkvBias(config, have, layerPrefix);
  const blocks: ViTBlockSpec[] = [];
  for (let i = 0; i < depth; i++) {
    const p = `${layerPrefix}${i}`;
    blocks.push({
      norm1: normNames(`${p}.layernorm_before`),
      ...hfAttention(p, qkvBias),
      norm2: normNames(`${p}.layernorm_after`),
      fc1: linearNames(`${p}.intermediate.dense`, true),
      fc2: linearNames(`${p}.output.dense`, true),
    });
  }
  const spec: ViTSpec = {
    layout,
    architecture: layout === "hf-deit" || prefixTokens.length === 2 ? "deit" : "vit",
    hidden: D,
    heads: headsFor(D, num(config.num_attention_heads), where, notes),
    mlp,
    patch,
    channels: patchW[1],
    grid,
    eps: num(config.layer_norm_eps) ?? 1e-12,
    normFirst: true,
    mlpAct: "gelu",
    prefixTokens,
    posEmbed,
    posPrefixRows: prefixTokens.length,
    posResize: "bicubic",
    patchEmbed: linearNames(`${emb}.patch_embeddings.projection`, have),
    blocks,
    norms: [normNames(`${base}.layernorm`)],
    pool: "tokens",
    classifiers,
    numClasses,
    notes,
  };
  // The mask token only exists for masked-image-modelling, the pooler (tanh dense on the class
  // token) only in ViTModel checkpoints; the image-classification heads never read either.
  return finish(
    index,
    spec,
    where,
    (n) => n === `${emb}.mask_token` || n.startsWith(`${base}.pooler.dense.`),
  );
}

// ---------------------------------------------------------------------------
// timm VisionTransformer (and its distilled DeiT)

/**
 * Width and head count of timm's named ViT sizes (`vit_<size>_patch...`).
 * A name only says the heads at its own width: `vit_base_patch16_plus_240`
 * is 896 wide with 14 heads, `vit_giant_patch14_dinov2` 1536 with 24.
 */
const TIMM_HEADS: Record<string, { width: number; heads: number }> = {
  tiny: { width: 192, heads: 3 },
  small: { width: 384, heads: 6 },
  medium: { width: 512, heads: 8 },
  base: { width: 768, heads: 12 },
  large: { width: 1024, heads: 16 },
  huge: { width: 1280, heads: 16 },
  giant: { width: 1408, heads: 16 },
  gigantic: { width: 1664, heads: 16 },
  so400m: { width: 1152, heads: 16 },
  giantopt: { width: 1536, heads: 16 },
};

/**
 * timm ViTs whose MLP runs `act_layer='gelu_tanh'` by their architecture
 * function (the SigLIP 2 ports; their tensors are a plain ViT's).
 */
const TIMM_GELU_TANH =
  /^vit_(?:base_patch32_siglip(?:_gap)?_256|large_patch16_siglip(?:_gap)?_512|so400m_patch16_siglip(?:_gap)?_\d+|giantopt_patch16_siglip(?:_gap)?_\d+)$/;

/**
 * The MLP activation of a timm ViT: model_args `act_layer` (gelu or
 * gelu_tanh; others refused), else the architecture name, else timm's
 * default exact GELU.
 */
function timmVitActivation(
  args: Record<string, unknown>,
  arch: string,
  where: string,
  notes: string[],
): Activation {
  const act = args.act_layer;
  if (act !== undefined) {
    const name = String(act).toLowerCase();
    if (name === "gelu") return "gelu";
    if (name === "gelu_tanh") return "gelu_tanh";
    throw new ModelLayoutError(
      `${where}: config.json model_args.act_layer ${JSON.stringify(act)} is not supported ` +
        `("gelu" or "gelu_tanh").`,
    );
  }
  if (TIMM_GELU_TANH.test(arch)) {
    notes.push(
      `MLP activation tanh-approximated GELU: timm's ${arch} sets act_layer 'gelu_tanh' ` +
        `(set model_args.act_layer in config.json otherwise)`,
    );
    return "gelu_tanh";
  }
  return "gelu";
}

/**
 * timm VisionTransformer `model_args`: what this layout reads, what the
 * tensors settle, and the math-only options it runs at timm's defaults.
 */
const TIMM_VIT_ARGS: Record<string, ModelArgRule> = {
  img_size: "read",
  num_heads: "read",
  qkv_bias: "read",
  no_embed_class: "read",
  global_pool: "read",
  norm_eps: "read",
  patch_size: "weights",
  embed_dim: "weights",
  depth: "weights",
  mlp_ratio: "weights",
  class_token: "weights",
  reg_tokens: "weights",
  init_values: "weights",
  fc_norm: "weights",
  pre_norm: "weights",
  final_norm: "weights",
  qk_norm: "weights",
  proj_bias: "weights",
  // Only how other input sizes are handled (position rows resampled as timm does); any value.
  dynamic_img_size: onlyValues(true, false),
  dynamic_img_pad: onlyValues(false),
  act_layer: "read",
  norm_layer: onlyValues("layernorm"),
  pos_embed: onlyValues("learn"),
  embed_layer: NONE,
  block_fn: NONE,
  mlp_layer: NONE,
};

function timmSpec(index: TensorIndex, config: Record<string, unknown>, where: string): ViTSpec {
  checkTimmModelArgs(config, TIMM_VIT_ARGS, "VisionTransformer", where);
  const names = index.names();
  const have = new Set(names);
  const args = (config.model_args ?? {}) as Record<string, unknown>;
  const pretrained = (config.pretrained_cfg ?? {}) as Record<string, unknown>;
  const arch = (typeof config.architecture === "string" ? config.architecture : "").split(".")[0];
  const notes: string[] = [];
  if (/_rpn_/.test(arch)) {
    throw new ModelLayoutError(
      `${where}: timm ${arch} uses residual post-norm blocks (block_fn=ResPostBlock: ` +
        `x + norm(attn(x))) under the same tensor names as the pre-norm blocks; this loader ` +
        `runs only pre-norm timm ViTs.`,
    );
  }

  // Sequence: [cls] [dist] [reg x R] patches (timm's _pos_embed order).
  const prefixTokens = ["cls_token", "dist_token"].filter((n) => have.has(n));
  const registers = have.has("reg_token")
    ? { name: "reg_token", count: index.info("reg_token").shape[1] }
    : undefined;
  const patchW = requireShape(index, have, "patch_embed.proj.weight", where);
  const D = patchW[0];
  const posRows = requireShape(index, have, "pos_embed", where)[1];
  const depth = countBlocks(names, "blocks.", where);
  const mlp = requireShape(index, have, "blocks.0.mlp.fc1.weight", where)[0];
  const patch: [number, number] = [patchW[2], patchW[3]];
  const P = prefixTokens.length + (registers?.count ?? 0);

  // Grid from img_size (model_args) or pretrained input_size, when it fits.
  const img = num(args.img_size) ??
    (Array.isArray(pretrained.input_size) ? num(pretrained.input_size[1]) : undefined);
  const configGrid: [number, number] | undefined = img
    ? [Math.floor(img / patch[0]), Math.floor(img / patch[1])]
    : undefined;
  // no_embed_class models (DeiT III, DINOv2 with registers) keep no position rows for the
  // prefix. model_args says; otherwise the row count does: a grid plus the prefix, or a grid.
  let noEmbedClass: boolean;
  if (typeof args.no_embed_class === "boolean") noEmbedClass = args.no_embed_class;
  else {
    const fits = (rows: number) =>
      configGrid ? configGrid[0] * configGrid[1] === rows : Number.isInteger(Math.sqrt(rows));
    noEmbedClass = P > 0 && fits(posRows) && !fits(posRows - P);
    if (noEmbedClass) {
      notes.push(
        `pos_embed has ${posRows} rows, a patch grid without the ${P} prefix token(s): ` +
          `no_embed_class (set model_args.no_embed_class otherwise)`,
      );
    }
  }
  const grid = patchGrid(noEmbedClass ? posRows : posRows - P, configGrid, where, "pos_embed");

  const named = TIMM_HEADS[/^(?:vit|deit)\d*_([a-z0-9]+)_/.exec(arch)?.[1] ?? ""];
  const heads = headsFor(
    D,
    num(args.num_heads) ?? (named?.width === D ? named.heads : undefined),
    where,
    notes,
  );
  // timm hub configs carry global_pool at the top level, model_args may override it. A
  // checkpoint with fc_norm (and no final norm) was built with global_pool "avg".
  const configured = args.global_pool ?? config.global_pool;
  const pool = configured ?? (have.has("fc_norm.weight") || !prefixTokens.length ? "avg" : "token");
  if (configured === undefined && pool === "avg") {
    notes.push(
      `head pools the patch tokens (timm global_pool "avg"): ${
        prefixTokens.length ? "fc_norm is present" : "there is no class token"
      }; set global_pool in config.json otherwise`,
    );
  }
  if (configured === undefined && pool === "token") {
    // A global_pool "avg" model built with fc_norm=False holds the same tensors: say what was assumed.
    notes.push(
      `head on the class token (timm global_pool "token", its default): a class token and no ` +
        `fc_norm; set global_pool in config.json otherwise`,
    );
  }
  if (pool !== "token" && pool !== "avg") {
    throw new ModelLayoutError(
      `${where}: timm global_pool ${JSON.stringify(pool)} is not supported ("token", the ` +
        `class-token classifier, or "avg", the mean of the patch tokens).`,
    );
  }
  if (pool === "token" && !prefixTokens.length) {
    throw new ModelLayoutError(`${where}: global_pool "token" needs a cls_token; there is none.`);
  }
  const eps = num(args.norm_eps) ?? 1e-6;
  const fcNorm = have.has("fc_norm.weight") ? { ...normNames("fc_norm"), eps } : undefined;
  const classifiers: ViTSpec["classifiers"] = [
    { head: headSpec(index, "head", D, config, where, { norm: fcNorm }), token: 0 },
  ];
  if (prefixTokens.includes("dist_token")) {
    classifiers.push({ head: headSpec(index, "head_dist", D, config, where), token: 1 });
  }
  const numClasses = classifiers[0].head.numClasses;

  const qkvBias = typeof args.qkv_bias === "boolean"
    ? args.qkv_bias
    : have.has("blocks.0.attn.qkv.bias");
  const blocks: ViTBlockSpec[] = [];
  for (let i = 0; i < depth; i++) {
    const p = `blocks.${i}`;
    blocks.push({
      norm1: normNames(`${p}.norm1`),
      qkv: [linearNames(`${p}.attn.qkv`, qkvBias)],
      proj: linearNames(`${p}.attn.proj`, true),
      norm2: normNames(`${p}.norm2`),
      fc1: linearNames(`${p}.mlp.fc1`, true),
      fc2: linearNames(`${p}.mlp.fc2`, true),
      // Layer scales (DeiT III, DINOv2, ...): ls1.gamma / ls2.gamma.
      layerScale1: have.has(`${p}.ls1.gamma`) ? `${p}.ls1.gamma` : undefined,
      layerScale2: have.has(`${p}.ls2.gamma`) ? `${p}.ls2.gamma` : undefined,
    });
  }
  const spec: ViTSpec = {
    layout: "timm",
    architecture: prefixTokens.includes("dist_token") ? "deit" : "vit",
    hidden: D,
    heads,
    mlp,
    patch,
    channels: patchW[1],
    grid,
    eps,
    normFirst: true,
    mlpAct: timmVitActivation(args, arch, where, notes),
    prefixTokens,
    registers,
    posEmbed: "pos_embed",
    posPrefixRows: noEmbedClass ? 0 : P,
    posResize: "bicubic-antialias",
    patchEmbed: linearNames("patch_embed.proj", have),
    blocks,
    // With fc_norm the final norm is an Identity (no tensors).
    norms: have.has("norm.weight") ? [normNames("norm")] : [],
    pool: pool === "avg" ? "patch-mean" : "tokens",
    classifiers,
    numClasses,
    notes,
  };
  return finish(index, spec, where, () => false);
}

// ---------------------------------------------------------------------------
// torchvision VisionTransformer

/** Width, depth and heads of torchvision's named ViTs (vit_b/l/h_*): a state dict omits the heads. */
const TORCHVISION_VITS: { name: string; hidden: number; depth: number; heads: number }[] = [
  { name: "vit_b", hidden: 768, depth: 12, heads: 12 },
  { name: "vit_l", hidden: 1024, depth: 24, heads: 16 },
  { name: "vit_h", hidden: 1280, depth: 32, heads: 16 },
];

/**
 * Attention heads of an `nn.MultiheadAttention` state dict, which does not
 * record them: config.json's `num_attention_heads` (Hugging Face's name) or
 * `num_heads`; else, for torchvision's layout, the named model its width and
 * depth identify; else a refusal that says what to set.
 */
function mhaHeads(
  config: Record<string, unknown>,
  D: number,
  depth: number,
  layout: "torchvision" | "pytorch",
  where: string,
  notes: string[],
): number {
  const configured = num(config.num_attention_heads) ?? num(config.num_heads) ??
    num(config.nhead);
  if (configured !== undefined) {
    if (!Number.isInteger(configured) || configured < 1 || D % configured !== 0) {
      throw new ModelLayoutError(
        `${where}: config.json says ${configured} attention heads, which does not divide the ` +
          `width ${D}.`,
      );
    }
    return configured;
  }
  const named = layout === "torchvision"
    ? TORCHVISION_VITS.find((v) => v.hidden === D && v.depth === depth)
    : undefined;
  if (named) {
    notes.push(
      `attention heads: ${named.heads}, inferred: width ${D} and ${depth} layers are torchvision's ` +
        `${named.name}_* configuration (set num_attention_heads in config.json otherwise)`,
    );
    return named.heads;
  }
  throw new ModelLayoutError(
    `${where}: an nn.MultiheadAttention state dict does not record the number of attention ` +
      `heads (width ${D}, ${depth} layers). Put it in a config.json beside the weights, e.g. ` +
      `{"num_attention_heads": ${D % 64 === 0 ? D / 64 : "H"}}.`,
  );
}

/** Checks a config.json activation name; the MLP kernels fuse relu and exact gelu. */
function mlpActivation(
  config: Record<string, unknown>,
  fallback: Activation,
  where: string,
): Activation {
  const act = config.hidden_act ?? config.activation ?? fallback;
  if (act !== "gelu" && act !== "relu") {
    throw new ModelLayoutError(
      `${where}: activation ${JSON.stringify(act)} is not supported (relu, or gelu: the exact ` +
        `erf GELU).`,
    );
  }
  return act;
}

function torchvisionSpec(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
): ViTSpec {
  const names = index.names();
  const have = new Set(names);
  const patchW = requireShape(index, have, "conv_proj.weight", where);
  const D = requireShape(index, have, "class_token", where)[2];
  const posRows = requireShape(index, have, "encoder.pos_embedding", where)[1];
  const prefix = "encoder.layers.encoder_layer_";
  const depth = countBlocks(names, prefix, where);
  // torchvision >= 0.13 names the MLP like nn.Sequential (mlp.0, mlp.3); older files linear_1/2.
  const legacy = have.has(`${prefix}0.mlp.linear_1.weight`);
  const fc1 = legacy ? "mlp.linear_1" : "mlp.0";
  const fc2 = legacy ? "mlp.linear_2" : "mlp.3";
  const mlp = requireShape(index, have, `${prefix}0.${fc1}.weight`, where)[0];
  const patch: [number, number] = [patchW[2], patchW[3]];
  const img = num(config.image_size);
  const grid = patchGrid(
    posRows - 1,
    img ? [Math.floor(img / patch[0]), Math.floor(img / patch[1])] : undefined,
    where,
    "encoder.pos_embedding",
  );
  const notes: string[] = [];
  const heads = mhaHeads(config, D, depth, "torchvision", where, notes);
  const blocks: ViTBlockSpec[] = [];
  for (let i = 0; i < depth; i++) {
    const p = `${prefix}${i}`;
    blocks.push({
      norm1: normNames(`${p}.ln_1`),
      qkv: [{
        weight: `${p}.self_attention.in_proj_weight`,
        bias: `${p}.self_attention.in_proj_bias`,
      }],
      proj: linearNames(`${p}.self_attention.out_proj`, true),
      norm2: normNames(`${p}.ln_2`),
      fc1: linearNames(`${p}.${fc1}`, true),
      fc2: linearNames(`${p}.${fc2}`, true),
    });
  }
  // heads.head, or heads.pre_logits (Linear) + Tanh + heads.head with representation_size.
  const classifier = have.has("heads.pre_logits.weight")
    ? tanhPreLogitsHead(index, D, config, where)
    : headSpec(index, "heads.head", D, config, where);
  const spec: ViTSpec = {
    layout: "torchvision",
    architecture: "vit",
    hidden: D,
    heads,
    mlp,
    patch,
    channels: patchW[1],
    grid,
    eps: num(config.layer_norm_eps) ?? 1e-6,
    normFirst: true,
    mlpAct: mlpActivation(config, "gelu", where),
    prefixTokens: ["class_token"],
    posEmbed: "encoder.pos_embedding",
    posPrefixRows: 1,
    posResize: "bicubic",
    patchEmbed: linearNames("conv_proj", have),
    blocks,
    norms: [normNames("encoder.ln")],
    pool: "tokens",
    classifiers: [{ head: classifier, token: 0 }],
    numClasses: classifier.numClasses,
    notes,
  };
  return finish(index, spec, where, () => false);
}

/** torchvision's `representation_size` head: pre_logits Linear, Tanh, head Linear (in the code). */
function tanhPreLogitsHead(
  index: TensorIndex,
  D: number,
  config: Record<string, unknown>,
  where: string,
): HeadSpec {
  const pre = headSpec(index, "heads.pre_logits", D, config, where);
  const out = headSpec(index, "heads.head", pre.numClasses, config, where);
  return {
    features: D,
    layers: [{ ...pre.layers[0], act: "tanh" }, ...out.layers],
    numClasses: out.numClasses,
    notes: [
      `head: heads.pre_logits -> tanh -> heads.head (torchvision's representation_size head)`,
    ],
  };
}

// ---------------------------------------------------------------------------
// A ViT written with nn.TransformerEncoder

/**
 * A user's ViT over `nn.TransformerEncoder`: a patch embedding
 * (`patch_embed.proj` conv, with `cls_token` / `pos_embed` under
 * `patch_embed.` or at the top level), `transformer.layers.N.{self_attn
 * (in_proj_weight, out_proj), linear1, linear2, norm1, norm2}`, optionally
 * `transformer.norm`, a final `norm`, and a `head` (Linear or Sequential) on
 * the class token. What the state dict cannot say follows PyTorch's
 * defaults, stated in the notes and overridable from config.json:
 * post-norm (`norm_first`), LayerNorm eps 1e-5 (`layer_norm_eps`); the MLP
 * activation is a ViT's GELU (`hidden_act`; PyTorch's layer defaults to
 * ReLU, but a Vision Transformer built on it almost always passes
 * activation="gelu"); the head count must be given.
 */
function pytorchSpec(
  index: TensorIndex,
  config: Record<string, unknown>,
  where: string,
): ViTSpec {
  const names = index.names();
  const have = new Set(names);
  const under = (n: string) => have.has(`patch_embed.${n}`) ? `patch_embed.${n}` : n;
  const clsName = under("cls_token");
  const posName = under("pos_embed");
  const projBase = have.has("patch_embed.proj.weight") ? "patch_embed.proj" : "patch_embed";
  const patchW = requireShape(index, have, `${projBase}.weight`, where);
  const D = requireShape(index, have, clsName, where)[2];
  const posRows = requireShape(index, have, posName, where)[1];
  const prefix = "transformer.layers.";
  const depth = countBlocks(names, prefix, where);
  const mlp = requireShape(index, have, `${prefix}0.linear1.weight`, where)[0];
  const patch: [number, number] = [patchW[2], patchW[3]];
  const img = num(config.image_size);
  const configGrid: [number, number] | undefined = img
    ? [Math.floor(img / patch[0]), Math.floor(img / patch[1])]
    : undefined;
  // pos_embed covers the class token when it has one row more than a grid.
  const coversPrefix = !(configGrid && configGrid[0] * configGrid[1] === posRows) &&
    !Number.isInteger(Math.sqrt(posRows));
  const grid = patchGrid(coversPrefix ? posRows - 1 : posRows, configGrid, where, posName);
  const notes: string[] = [];
  const heads = mhaHeads(config, D, depth, "pytorch", where, notes);
  const normFirst = typeof config.norm_first === "boolean" ? config.norm_first : false;
  const mlpAct = mlpActivation(config, "gelu", where);
  const eps = num(config.layer_norm_eps) ?? 1e-5;
  const unsaid = [
    // Structural defaults follow PyTorch; the activation follows the ViT convention (see notes).
    config.norm_first === undefined ? "post-norm blocks (norm_first=False)" : "",
    config.hidden_act === undefined && config.activation === undefined
      ? "GELU in the MLP (a Vision Transformer's activation, activation='gelu'; " +
        'nn.TransformerEncoderLayer\'s own default is ReLU: set hidden_act "relu" if the ' +
        "layers were built without activation='gelu')"
      : "",
    config.layer_norm_eps === undefined ? "LayerNorm eps 1e-5" : "",
  ].filter(Boolean);
  if (unsaid.length) {
    notes.push(
      `nn.TransformerEncoderLayer: not recorded in the weights, assumed: ` +
        `${unsaid.join(", ")}; config.json norm_first / hidden_act / layer_norm_eps override`,
    );
  }
  // How the head pools is not in the weights either: a model with a class token reads it.
  const pool = config.pool ?? config.global_pool ?? "cls";
  if (pool !== "cls" && pool !== "token") {
    throw new ModelLayoutError(
      `${where}: config.json pool ${JSON.stringify(pool)} is not supported for this layout ` +
        `(only "cls": the head reads the class token).`,
    );
  }
  notes.push(
    `head reads the class token after the final norm${
      config.pool === undefined && config.global_pool === undefined
        ? " (assumed; config.json pool)"
        : ""
    }; ${posName} has ${posRows} rows: ${
      coversPrefix ? "the class token's position and" : "no class-token position, only"
    } a ${grid[0]}x${grid[1]} patch grid`,
  );
  const blocks: ViTBlockSpec[] = [];
  for (let i = 0; i < depth; i++) {
    const p = `${prefix}${i}`;
    blocks.push({
      norm1: normNames(`${p}.norm1`),
      qkv: [{
        weight: `${p}.self_attn.in_proj_weight`,
        bias: have.has(`${p}.self_attn.in_proj_bias`) ? `${p}.self_attn.in_proj_bias` : undefined,
      }],
      proj: linearNames(`${p}.self_attn.out_proj`, have),
      norm2: normNames(`${p}.norm2`),
      fc1: linearNames(`${p}.linear1`, have),
      fc2: linearNames(`${p}.linear2`, have),
    });
  }
  const norms = ["transformer.norm", "norm"].filter((n) => have.has(`${n}.weight`)).map(normNames);
  const headName = have.has("head.weight") || names.some((n) => n.startsWith("head."))
    ? "head"
    : "fc";
  const head = headSpec(index, headName, D, config, where);
  const spec: ViTSpec = {
    layout: "pytorch",
    architecture: "vit",
    hidden: D,
    heads,
    mlp,
    patch,
    channels: patchW[1],
    grid,
    eps,
    normFirst,
    mlpAct,
    prefixTokens: [clsName],
    posEmbed: posName,
    posPrefixRows: coversPrefix ? 1 : 0,
    posResize: "bicubic",
    patchEmbed: linearNames(projBase, have),
    blocks,
    norms,
    pool: "tokens",
    classifiers: [{ head, token: 0 }],
    numClasses: head.numClasses,
    notes,
  };
  return finish(index, spec, where, () => false);
}

// ---------------------------------------------------------------------------
// Hugging Face DINOv2 (with or without registers)

/**
 * `Dinov2ForImageClassification` / `Dinov2WithRegistersForImageClassification`:
 * pre-norm blocks with layer scales (`layer_scale{1,2}.lambda1`), register
 * tokens after the class token (no position embedding), a final layernorm
 * over every token, and a classifier on concat(class token, mean of the
 * patch tokens). The position grid is resized bicubically as the library
 * does: without antialias for DINOv2, with it for the registers variant.
 */
function dinov2Spec(index: TensorIndex, config: Record<string, unknown>, where: string): ViTSpec {
  const names = index.names();
  const have = new Set(names);
  const notes: string[] = [];
  const base = have.has("dinov2_with_registers.embeddings.cls_token") ||
      config.model_type === "dinov2_with_registers"
    ? "dinov2_with_registers"
    : "dinov2";
  const emb = `${base}.embeddings`;
  const cls = `${emb}.cls_token`;
  const D = requireShape(index, have, cls, where)[2];
  const patchW = requireShape(index, have, `${emb}.patch_embeddings.projection.weight`, where);
  const posEmbed = `${emb}.position_embeddings`;
  const posRows = requireShape(index, have, posEmbed, where)[1];
  const layerPrefix = `${base}.encoder.layer.`;
  const depth = countBlocks(names, layerPrefix, where);
  if (have.has(`${layerPrefix}0.mlp.weights_in.weight`)) {
    throw new ModelLayoutError(
      `${where}: a DINOv2 with a SwiGLU MLP (mlp.weights_in / weights_out, the giant models) is ` +
        `not supported; its gated MLP has no kernel here.`,
    );
  }
  const mlp = requireShape(index, have, `${layerPrefix}0.mlp.fc1.weight`, where)[0];
  const patch: [number, number] = [patchW[2], patchW[3]];
  const imageSize = num(config.image_size);
  const configPatch = num(config.patch_size);
  const configGrid: [number, number] | undefined = imageSize && configPatch
    ? [Math.floor(imageSize / configPatch), Math.floor(imageSize / configPatch)]
    : undefined;
  const grid = patchGrid(posRows - 1, configGrid, where, posEmbed);
  const regName = `${emb}.register_tokens`;
  const registers = have.has(regName)
    ? { name: regName, count: index.info(regName).shape[1] }
    : undefined;
  requireExactGelu(config, where);
  const qkvBias = hfQkvBias(config, have, layerPrefix);
  const blocks: ViTBlockSpec[] = [];
  for (let i = 0; i < depth; i++) {
    const p = `${layerPrefix}${i}`;
    blocks.push({
      norm1: normNames(`${p}.norm1`),
      ...hfAttention(p, qkvBias),
      norm2: normNames(`${p}.norm2`),
      fc1: linearNames(`${p}.mlp.fc1`, true),
      fc2: linearNames(`${p}.mlp.fc2`, true),
      layerScale1: `${p}.layer_scale1.lambda1`,
      layerScale2: `${p}.layer_scale2.lambda1`,
    });
  }
  const head = headSpec(index, "classifier", 2 * D, config, where);
  const spec: ViTSpec = {
    layout: "hf-dinov2",
    architecture: "vit",
    hidden: D,
    heads: headsFor(D, num(config.num_attention_heads), where, notes),
    mlp,
    patch,
    channels: patchW[1],
    grid,
    eps: num(config.layer_norm_eps) ?? 1e-6,
    normFirst: true,
    mlpAct: "gelu",
    prefixTokens: [cls],
    registers,
    posEmbed,
    posPrefixRows: 1,
    posResize: registers ? "bicubic-antialias" : "bicubic",
    patchEmbed: linearNames(`${emb}.patch_embeddings.projection`, have),
    blocks,
    norms: [normNames(`${base}.layernorm`)],
    pool: "cls+patch-mean",
    classifiers: [{ head, token: 0 }],
    numClasses: head.numClasses,
    notes,
  };
  // The mask token is only used in pre-training.
  return finish(index, spec, where, (n) => n === `${emb}.mask_token`);
}

/** Tokens before the patches: prefix tokens, then registers. */
export function prefixCount(spec: ViTSpec): number {
  return spec.prefixTokens.length + (spec.registers?.count ?? 0);
}

// ---------------------------------------------------------------------------
// Hugging Face BEiT

/**
 * `BeitForImageClassification`: pre-norm blocks (`layernorm_before/after`)
 * with layer scales (`lambda_1/2`), a query and value bias but none on the
 * key, a relative-position bias per layer (or one shared, `encoder.
 * relative_position_bias`) added to the attention scores, optional absolute
 * position embeddings, and the head on the pooler's LayerNorm of the mean
 * patch token (`use_mean_pooling`; otherwise `beit.layernorm` and the class
 * token). The relative bias is built for the trained patch grid, so inputs
 * must have that grid (as in the library without `interpolate_pos_encoding`).
 */
function beitSpec(index: TensorIndex, config: Record<string, unknown>, where: string): ViTSpec {
  const names = index.names();
  const have = new Set(names);
  const notes: string[] = [];
  const emb = "beit.embeddings";
  const cls = `${emb}.cls_token`;
  const D = requireShape(index, have, cls, where)[2];
  const patchW = requireShape(index, have, `${emb}.patch_embeddings.projection.weight`, where);
  const patch: [number, number] = [patchW[2], patchW[3]];
  const layerPrefix = "beit.encoder.layer.";
  const depth = countBlocks(names, layerPrefix, where);
  const mlp = requireShape(index, have, `${layerPrefix}0.intermediate.dense.weight`, where)[0];
  requireExactGelu(config, where);
  const heads = headsFor(D, num(config.num_attention_heads), where, notes);
  const posEmbed = `${emb}.position_embeddings`;
  const shared = "beit.encoder.relative_position_bias.relative_position_bias_table";
  const tableOf = (i: number) =>
    have.has(shared)
      ? shared
      : `${layerPrefix}${i}.attention.attention.relative_position_bias.relative_position_bias_table`;
  // The window (trained patch grid): config image_size / patch_size, else the table's size.
  const imageSize = num(config.image_size);
  let window: [number, number] | undefined = imageSize
    ? [Math.floor(imageSize / patch[0]), Math.floor(imageSize / patch[1])]
    : undefined;
  if (have.has(tableOf(0)) && !window) {
    // (2w - 1)^2 + 3 rows for a square window w.
    const rows = index.info(tableOf(0)).shape[0];
    const side = (Math.sqrt(rows - 3) + 1) / 2;
    if (!Number.isInteger(side)) {
      throw new ModelLayoutError(
        `${where}: ${tableOf(0)} has ${rows} rows, not a square window's; set image_size in ` +
          `config.json.`,
      );
    }
    window = [side, side];
    notes.push(`relative position bias window ${side}x${side}, from its table's ${rows} rows`);
  }
  const hasPos = have.has(posEmbed);
  const grid: [number, number] = hasPos
    ? patchGrid(index.info(posEmbed).shape[1] - 1, window, where, posEmbed)
    : window ?? (() => {
      throw new ModelLayoutError(
        `${where}: BEiT without position embeddings or a relative position table: set ` +
          `image_size in config.json.`,
      );
    })();
  const blocks: ViTBlockSpec[] = [];
  for (let i = 0; i < depth; i++) {
    const p = `${layerPrefix}${i}`;
    blocks.push({
      norm1: normNames(`${p}.layernorm_before`),
      qkv: [
        linearNames(`${p}.attention.attention.query`, true),
        linearNames(`${p}.attention.attention.key`, false),
        linearNames(`${p}.attention.attention.value`, true),
      ],
      proj: linearNames(`${p}.attention.output.dense`, true),
      norm2: normNames(`${p}.layernorm_after`),
      fc1: linearNames(`${p}.intermediate.dense`, true),
      fc2: linearNames(`${p}.output.dense`, true),
      layerScale1: have.has(`${p}.lambda_1`) ? `${p}.lambda_1` : undefined,
      layerScale2: have.has(`${p}.lambda_2`) ? `${p}.lambda_2` : undefined,
      relativePositionBias: have.has(tableOf(i)) ? { table: tableOf(i), window: grid } : undefined,
    });
  }
  // use_mean_pooling (the default): pooler LayerNorm over the mean patch token.
  const meanPool = have.has("beit.pooler.layernorm.weight");
  const eps = num(config.layer_norm_eps) ?? 1e-12;
  const head = headSpec(index, "classifier", D, config, where, {
    norm: meanPool ? { ...normNames("beit.pooler.layernorm"), eps } : undefined,
  });
  const spec: ViTSpec = {
    layout: "hf-beit",
    architecture: "vit",
    hidden: D,
    heads,
    mlp,
    patch,
    channels: patchW[1],
    grid,
    eps,
    normFirst: true,
    mlpAct: "gelu",
    prefixTokens: [cls],
    // Without absolute position embeddings the table is a zero one (positions come from the bias).
    posEmbed: hasPos ? posEmbed : "",
    posPrefixRows: hasPos ? 1 : 0,
    posResize: "bicubic",
    patchEmbed: linearNames(`${emb}.patch_embeddings.projection`, have),
    blocks,
    norms: meanPool ? [] : [normNames("beit.layernorm")],
    pool: meanPool ? "patch-mean" : "tokens",
    classifiers: [{ head, token: 0 }],
    numClasses: head.numClasses,
    notes,
  };
  // The mask token is for pre-training; old checkpoints also store the index buffers.
  return finish(
    index,
    spec,
    where,
    (n) => n === `${emb}.mask_token` || n.endsWith("relative_position_index"),
  );
}
