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
import type { TensorIndex } from "../resnet/layouts.ts";

export type { TensorIndex };

/** A linear layer's tensors (PyTorch layout: weight [out, in]). */
export interface LinearNames {
  /** Weight [out, in]. */
  weight: string;
  /** Bias [out], when the layer has one. */
  bias?: string;
}

/** A LayerNorm's tensors. */
export interface NormNames {
  /** gamma [D] */
  weight: string;
  /** beta [D] */
  bias: string;
}

/** One pre-norm transformer block. */
export interface ViTBlockSpec {
  /** LayerNorm before attention. */
  norm1: NormNames;
  /**
   * The q, k, v projections: one fused [3D, D] linear (timm) or three [D, D]
   * linears in q, k, v order (Hugging Face), concatenated at load time.
   */
  qkv: LinearNames[];
  /** Attention output projection [D, D]. */
  proj: LinearNames;
  /** LayerNorm before the MLP. */
  norm2: NormNames;
  /** MLP expansion [M, D] (followed by exact GELU). */
  fc1: LinearNames;
  /** MLP projection [D, M]. */
  fc2: LinearNames;
}

/** How position embeddings are resized to another token grid. */
export type PosEmbedResize = "bicubic" | "bicubic-antialias";

/** A Vision Transformer, independent of how its checkpoint names things. */
export interface ViTSpec {
  /** Which key layout the checkpoint uses. */
  layout: "hf-vit" | "hf-deit" | "timm";
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
  /** Prefix tokens [1, 1, D] in sequence order: class token, then distillation token. */
  prefixTokens: string[];
  /** Position embedding [1, N, D]. */
  posEmbed: string;
  /** True if the position embedding covers the prefix tokens too (N = prefix + grid). */
  posCoversPrefix: boolean;
  /** Resampling used when the input grid differs from `grid`. */
  posResize: PosEmbedResize;
  /** Patch-embedding conv: weight [D, C, ph, pw], bias [D]. */
  patchEmbed: LinearNames;
  /** The blocks, input first. */
  blocks: ViTBlockSpec[];
  /** Final LayerNorm. */
  norm: NormNames;
  /**
   * Classifier heads, each reading one prefix token (`token` = its index);
   * logits are their mean (one head: the class token; distilled DeiT: two).
   */
  classifiers: (LinearNames & { token: number })[];
  /** Number of classes. */
  numClasses: number;
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
  const hfArchs = Array.isArray(config.architectures) ? config.architectures.map(String) : [];
  const timmArch = typeof config.architecture === "string" ? config.architecture : "";
  if (config.model_type === "deit" || hfArchs.some((a) => a.startsWith("DeiT"))) return "hf-deit";
  if (config.model_type === "vit" || hfArchs.some((a) => a.startsWith("ViT"))) return "hf-vit";
  if (/^(vit|deit)_/.test(timmArch)) return "timm";
  if (names.some((n) => n.startsWith("deit.embeddings."))) return "hf-deit";
  if (names.some((n) => n.startsWith("vit.embeddings."))) return "hf-vit";
  if (names.includes("patch_embed.proj.weight") && names.some((n) => n.startsWith("blocks.0."))) {
    return "timm";
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
    case "timm":
      return timmSpec(index, config, where);
    default:
      throw new ModelLayoutError(
        `${where} is not a Vision Transformer layout this loader knows (Hugging Face vit.* / ` +
          `deit.*, or timm cls_token/pos_embed/patch_embed/blocks.N). Found: ${
            summarizeNames(index.names())
          }.`,
      );
  }
}

// ---------------------------------------------------------------------------
// Shared helpers

/** Expected tensors of a layout: name -> shape. */
type Expected = Map<string, number[]>;

/** First few names of a list, for messages. */
function summarizeNames(names: readonly string[], max = 8): string {
  if (names.length === 0) return "no tensors";
  const shown = names.slice(0, max).join(", ");
  return names.length > max ? `${shown}, ... (${names.length} tensors)` : shown;
}

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

/** Number of blocks: indices 0..n-1 of `prefix<i>.` must all be present. */
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
 * Compares the expected tensors with the file: every expected tensor present
 * with its shape, and nothing else (except ignorable ones).
 */
function checkTensors(
  index: TensorIndex,
  expected: Expected,
  where: string,
  ignorable: (name: string) => boolean,
): void {
  const names = index.names();
  const have = new Set(names);
  const missing = [...expected.keys()].filter((n) => !have.has(n));
  const unexpected = names.filter((n) => !expected.has(n) && !ignorable(n));
  const misShaped: string[] = [];
  for (const [n, shape] of expected) {
    if (!have.has(n)) continue;
    const got = index.info(n).shape;
    if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      misShaped.push(`${n} is [${got}], expected [${shape}]`);
    }
  }
  if (missing.length || unexpected.length || misShaped.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing: ${summarizeNames(missing)}`);
    if (unexpected.length) {
      parts.push(
        `unexpected (a ViT variant this loader does not support?): ${summarizeNames(unexpected)}`,
      );
    }
    if (misShaped.length) parts.push(`wrong shape: ${misShaped.slice(0, 8).join("; ")}`);
    throw new ModelLayoutError(
      `${where} does not match the Vision Transformer layout it appears to use — ` +
        `${parts.join(" — ")}. Check that the checkpoint is complete and its config.json ` +
        `describes it.`,
    );
  }
}

function expectLinear(e: Expected, l: LinearNames, out: number, inp: number): void {
  e.set(l.weight, [out, inp]);
  if (l.bias) e.set(l.bias, [out]);
}

function expectNorm(e: Expected, n: NormNames, d: number): void {
  e.set(n.weight, [d]);
  e.set(n.bias, [d]);
}

/**
 * A linear layer's names. `bias`: true / false when the layout says whether
 * it has one (a missing bias is then reported as missing), or a name set to
 * decide by presence.
 */
function linearNames(prefix: string, bias: boolean | Set<string>): LinearNames {
  const b = `${prefix}.bias`;
  const has = typeof bias === "boolean" ? bias : bias.has(b);
  return { weight: `${prefix}.weight`, bias: has ? b : undefined };
}

function normNames(prefix: string): NormNames {
  return { weight: `${prefix}.weight`, bias: `${prefix}.bias` };
}

/** Head count from the config, else head size 64 (true of the standard ViT sizes). */
function headsFor(hidden: number, configured: number | undefined, where: string): number {
  const heads = configured ?? (hidden % 64 === 0 ? hidden / 64 : undefined);
  if (!heads || !Number.isInteger(heads) || hidden % heads !== 0) {
    throw new ModelLayoutError(
      `${where}: cannot tell the number of attention heads for width ${hidden}` +
        (configured ? ` (config says ${configured}, which does not divide it)` : "") +
        `. Set num_attention_heads (Hugging Face) or model_args.num_heads (timm) in config.json.`,
    );
  }
  return heads;
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
  const posRows = gh * gw + (spec.posCoversPrefix ? spec.prefixTokens.length : 0);
  e.set(spec.posEmbed, [1, posRows, D]);
  e.set(spec.patchEmbed.weight, [D, C, ph, pw]);
  if (spec.patchEmbed.bias) e.set(spec.patchEmbed.bias, [D]);
  for (const b of spec.blocks) {
    expectNorm(e, b.norm1, D);
    if (b.qkv.length === 1) expectLinear(e, b.qkv[0], 3 * D, D);
    else for (const l of b.qkv) expectLinear(e, l, D, D);
    const qkvBiases = b.qkv.filter((l) => l.bias).length;
    if (qkvBiases !== 0 && qkvBiases !== b.qkv.length) {
      throw new ModelLayoutError(
        `${where}: ${b.qkv[0].weight} and its sibling q/k/v projections must all have a bias or ` +
          `none.`,
      );
    }
    expectLinear(e, b.proj, D, D);
    expectNorm(e, b.norm2, D);
    expectLinear(e, b.fc1, M, D);
    expectLinear(e, b.fc2, D, M);
  }
  expectNorm(e, spec.norm, D);
  for (const h of spec.classifiers) expectLinear(e, h, spec.numClasses, D);
  checkTensors(index, e, where, ignorable);
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
      { ...linearNames("cls_classifier", true), token: 0 },
      { ...linearNames("distillation_classifier", true), token: 1 },
    ];
    if (prefixTokens.length !== 2) {
      throw new ModelLayoutError(
        `${where} has a distillation classifier but no ${dist}; the checkpoint is incomplete.`,
      );
    }
  } else {
    classifiers = [{ ...linearNames("classifier", true), token: 0 }];
  }
  const numClasses = requireShape(index, have, classifiers[0].weight, where)[0];
  // The MLP runs exact (erf) GELU; a tanh or sigmoid approximation would be silently off.
  const act = config.hidden_act ?? "gelu";
  if (act !== "gelu") {
    throw new ModelLayoutError(
      `${where}: hidden_act ${JSON.stringify(act)} is not supported (only "gelu", the exact GELU).`,
    );
  }

  const qkvBias = typeof config.qkv_bias === "boolean"
    ? config.qkv_bias
    : have.has(`${layerPrefix}0.attention.attention.query.bias`);
  const blocks: ViTBlockSpec[] = [];
  for (let i = 0; i < depth; i++) {
    const p = `${layerPrefix}${i}`;
    blocks.push({
      norm1: normNames(`${p}.layernorm_before`),
      qkv: ["query", "key", "value"].map((n) =>
        linearNames(`${p}.attention.attention.${n}`, qkvBias)
      ),
      proj: linearNames(`${p}.attention.output.dense`, true),
      norm2: normNames(`${p}.layernorm_after`),
      fc1: linearNames(`${p}.intermediate.dense`, true),
      fc2: linearNames(`${p}.output.dense`, true),
    });
  }
  const spec: ViTSpec = {
    layout,
    architecture: layout === "hf-deit" || prefixTokens.length === 2 ? "deit" : "vit",
    hidden: D,
    heads: headsFor(D, num(config.num_attention_heads), where),
    mlp,
    patch,
    channels: patchW[1],
    grid,
    eps: num(config.layer_norm_eps) ?? 1e-12,
    prefixTokens,
    posEmbed,
    posCoversPrefix: true,
    posResize: "bicubic",
    patchEmbed: linearNames(`${emb}.patch_embeddings.projection`, have),
    blocks,
    norm: normNames(`${base}.layernorm`),
    classifiers,
    numClasses,
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

/** Head counts of timm's named ViT sizes (`vit_<size>_patch...`). */
const TIMM_HEADS: Record<string, number> = {
  tiny: 3,
  small: 6,
  medium: 8,
  base: 12,
  large: 16,
  huge: 16,
  giant: 16,
};

function timmSpec(index: TensorIndex, config: Record<string, unknown>, where: string): ViTSpec {
  const names = index.names();
  const have = new Set(names);
  const args = (config.model_args ?? {}) as Record<string, unknown>;
  const pretrained = (config.pretrained_cfg ?? {}) as Record<string, unknown>;
  const arch = typeof config.architecture === "string" ? config.architecture : "";

  const prefixTokens = ["cls_token", ...(have.has("dist_token") ? ["dist_token"] : [])];
  const D = requireShape(index, have, "cls_token", where)[2];
  const patchW = requireShape(index, have, "patch_embed.proj.weight", where);
  const posRows = requireShape(index, have, "pos_embed", where)[1];
  const depth = countBlocks(names, "blocks.", where);
  const mlp = requireShape(index, have, "blocks.0.mlp.fc1.weight", where)[0];
  const patch: [number, number] = [patchW[2], patchW[3]];

  // Grid from img_size (model_args) or pretrained input_size, when it fits.
  const img = num(args.img_size) ??
    (Array.isArray(pretrained.input_size) ? num(pretrained.input_size[1]) : undefined);
  const configGrid: [number, number] | undefined = img
    ? [Math.floor(img / patch[0]), Math.floor(img / patch[1])]
    : undefined;
  // no_embed_class models (DeiT III) keep no position rows for the prefix.
  const noEmbedClass = args.no_embed_class === true;
  const patchRows = noEmbedClass ? posRows : posRows - prefixTokens.length;
  const grid = patchGrid(patchRows, configGrid, where, "pos_embed");

  const sizeName = /^(?:vit|deit)_([a-z]+)_/.exec(arch)?.[1];
  const heads = headsFor(
    D,
    num(args.num_heads) ?? (sizeName ? TIMM_HEADS[sizeName] : undefined),
    where,
  );
  // timm hub configs carry global_pool at the top level, model_args may override it.
  const pool = args.global_pool ?? config.global_pool;
  if (pool !== undefined && pool !== "token") {
    throw new ModelLayoutError(
      `${where}: timm global_pool ${JSON.stringify(pool)} is not supported (only ` +
        `"token", the class-token classifier).`,
    );
  }

  const classifiers: ViTSpec["classifiers"] = [{ ...linearNames("head", true), token: 0 }];
  if (prefixTokens.length === 2) classifiers.push({ ...linearNames("head_dist", true), token: 1 });
  const numClasses = requireShape(index, have, "head.weight", where)[0];

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
    });
  }
  const spec: ViTSpec = {
    layout: "timm",
    architecture: prefixTokens.length === 2 ? "deit" : "vit",
    hidden: D,
    heads,
    mlp,
    patch,
    channels: patchW[1],
    grid,
    eps: num(args.norm_eps) ?? 1e-6,
    prefixTokens,
    posEmbed: "pos_embed",
    posCoversPrefix: !noEmbedClass,
    posResize: "bicubic-antialias",
    patchEmbed: linearNames("patch_embed.proj", have),
    blocks,
    norm: normNames("norm"),
    classifiers,
    numClasses,
  };
  return finish(index, spec, where, () => false);
}
