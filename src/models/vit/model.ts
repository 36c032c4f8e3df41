/**
 * Vision Transformer (ViT, DeiT) forward pass on the GPU, from the layout-free
 * {@link ViTSpec} of `src/weights/vit_layouts.ts`:
 *
 *   tokens = [cls, (dist,) patches @ W_patch + b] + pos       (pos resized to the grid)
 *   for each block:  x = x + proj(attention(qkv(LN1(x))))
 *                    x = x + fc2(GELU(fc1(LN2(x))))
 *   logits = mean over heads of head_k(LN(x)[token k])
 *
 * Every linear layer is one GEMM with its bias, GELU and residual add fused
 * into the epilogue; attention is one fused kernel per layer. Weights of any
 * float dtype are widened to f32 on load; Hugging Face's separate q, k, v
 * projections are concatenated into timm's fused [3D, D] layout so both run
 * the same kernels (and give identical logits for identical weights).
 */
import { Engine } from "../../gpu/engine.ts";
import { linear } from "../../ops/gemm.ts";
import { layerNorm } from "../../ops/layernorm.ts";
import { assembleTokens, patchify, takeTokens } from "../../ops/patch_embed.ts";
import type { Tensor } from "../../tensor.ts";
import { SafetensorsFile } from "../../weights/safetensors.ts";
import { detectViTLayout, prefixCount, type ViTSpec, vitSpec } from "./layouts.ts";
import { concatLast } from "../../ops/concat.ts";
import { meanTokens } from "../../ops/nhwc.ts";
import type { ModelFamily } from "../family.ts";
import { join } from "node:path";
import { ModelLayoutError } from "../../errors.ts";
import { checkId2labelKeys, findModelFiles, labelsFromConfig, type ModelFiles } from "../config.ts";
import type { ForwardOptions, ForwardResult, ModelPreprocess } from "../model.ts";
import { Classifier } from "../classifier.ts";
import { ClassifierHead } from "../../nn/head.ts";
import { TransformerBlock } from "../../nn/transformer.ts";
import {
  type LoadedLinear,
  type LoadedNorm,
  loadLinear,
  loadNorm,
  packLinear,
} from "../../nn/layers.ts";
import { positionTable } from "./posembed.ts";
import {
  assume,
  type PreprocessConfig,
  preprocessConfigFromModelDir,
  withoutAssumptions,
} from "../../data/preprocess.ts";

/**
 * The preprocessing of a ViT folder. When the folder gives no input size (no
 * processor file, no timm `pretrained_cfg`, no `image_size`), images are
 * resized to the resolution the position embeddings were trained for
 * (grid x patch), not to 224x224 (which would resample the embeddings).
 */
export function vitPipeline(files: ModelFiles, spec: ViTSpec): PreprocessConfig {
  const cfg = preprocessConfigFromModelDir(files.dir);
  const c = files.config;
  const saysInput = files.preprocessorConfig !== undefined || c.pretrained_cfg !== undefined ||
    c.image_size !== undefined;
  if (saysInput || cfg.resizeMode !== "exact") return cfg;
  const size: [number, number] = [spec.grid[0] * spec.patch[0], spec.grid[1] * spec.patch[1]];
  const out: PreprocessConfig = { ...withoutAssumptions(cfg, ["size"]), size };
  assume(
    out,
    `no image_size in ${files.dir}: assumed ${size[0]}x${size[1]}, the position-embedding grid ` +
      `(${spec.grid[0]}x${spec.grid[1]}) times the patch size`,
    ["size"],
  );
  return out;
}

/** The classifier: one (possibly MLP) head on the class token, or the mean of DeiT's two linear heads. */
type HeadWeights =
  | { kind: "single"; head: ClassifierHead }
  | { kind: "mean"; linear: LoadedLinear; host: Float32Array };

/** A loaded Vision Transformer (ViT or DeiT). */
export class ViTModel extends Classifier {
  /** "vit", or "deit" for distilled models (two prefix tokens). */
  readonly architecture: "vit" | "deit";
  /** The network's dimensions and tensor names. */
  readonly spec: ViTSpec;

  #patch: LoadedLinear;
  #prefix: Tensor;
  #blocks: TransformerBlock[];
  #norms: LoadedNorm[];
  #head: HeadWeights;
  #posPrefix: Float32Array;
  #posGrid: Float32Array;
  #positions = new Map<string, Tensor>();
  #engine: Engine;

  private constructor(
    engine: Engine,
    spec: ViTSpec,
    files: ModelFiles,
    weights: {
      patch: LoadedLinear;
      prefix: Tensor;
      blocks: TransformerBlock[];
      norms: LoadedNorm[];
      head: HeadWeights;
      posPrefix: Float32Array;
      posGrid: Float32Array;
      preprocess?: ModelPreprocess;
    },
  ) {
    super({
      path: files.dir,
      numClasses: spec.numClasses,
      inputSize: [spec.grid[0] * spec.patch[0], spec.grid[1] * spec.patch[1]],
      inChannels: spec.channels,
      labels: labelsFromConfig(files.config, spec.numClasses, join(files.dir, "config.json")),
      config: { ...files.config, vit: { ...spec, blocks: spec.blocks.length } },
      preprocess: weights.preprocess,
      notes: spec.notes,
    });
    this.#engine = engine;
    this.spec = spec;
    this.architecture = spec.architecture;
    this.#patch = weights.patch;
    this.#prefix = weights.prefix;
    this.#blocks = weights.blocks;
    this.#norms = weights.norms;
    this.#head = weights.head;
    this.#posPrefix = weights.posPrefix;
    this.#posGrid = weights.posGrid;
  }

  /**
   * Loads a ViT / DeiT checkpoint (folder or `.safetensors` file) onto the
   * GPU. Throws {@link ModelLayoutError} when the tensors do not form a
   * supported Vision Transformer.
   */
  static async load(
    path: string | ModelFiles,
    engine?: Engine,
    preprocess?: ModelPreprocess,
  ): Promise<ViTModel> {
    const files = typeof path === "string" ? findModelFiles(path) : path;
    engine ??= await Engine.create();
    const file = await SafetensorsFile.open(files.weights);
    try {
      return await ViTModel.fromFile(
        engine,
        file,
        files,
        preprocess ?? vitPipeline(files, vitSpec(file, files.config, files.weights)),
      );
    } finally {
      file.close();
    }
  }

  /**
   * Builds the model from an open weights file (e.g. one made in memory with
   * `SafetensorsFile.fromBytes`); `files` gives its config and names it in
   * messages. The caller closes `file`.
   */
  static async fromFile(
    engine: Engine,
    file: SafetensorsFile,
    files: ModelFiles,
    preprocess?: ModelPreprocess,
  ): Promise<ViTModel> {
    const spec = vitSpec(file, files.config, files.weights);
    // Before any upload: a bad id2label is refused without GPU buffers to release.
    checkId2labelKeys(files.config, spec.numClasses, join(files.dir, "config.json"));
    const D = spec.hidden;
    const read = (name: string) => file.readF32(name);
    const upload = (data: Float32Array, shape: number[], label: string) =>
      engine.upload(data, shape, label, true);

    const patch = await loadLinear(engine, file, spec.patchEmbed);
    // Prefix tokens, then registers: the rows before the patches.
    const named = spec.prefixTokens.length;
    const P = prefixCount(spec);
    const prefixHost = new Float32Array(P * D);
    for (let i = 0; i < named; i++) prefixHost.set(await read(spec.prefixTokens[i]), i * D);
    if (spec.registers) prefixHost.set(await read(spec.registers.name), named * D);
    const prefix = upload(prefixHost, [P, D], "prefix-tokens");

    // Prefix tokens without a position row (registers, no_embed_class) get zeros.
    // No absolute position embedding (BEiT): zeros.
    const pos = spec.posEmbed
      ? await read(spec.posEmbed)
      : new Float32Array((spec.posPrefixRows + spec.grid[0] * spec.grid[1]) * D);
    const posPrefix = new Float32Array(P * D);
    posPrefix.set(pos.subarray(0, spec.posPrefixRows * D));
    const posGrid = pos.slice(spec.posPrefixRows * D);

    const blocks: TransformerBlock[] = [];
    for (const b of spec.blocks) {
      blocks.push(await TransformerBlock.load(engine, file, b, D, spec.heads));
    }
    const norms: LoadedNorm[] = [];
    for (const n of spec.norms) norms.push(await loadNorm(engine, file, n, D));

    const heads = spec.classifiers;
    heads.forEach((h, k) => {
      if (h.token !== k) {
        throw new ModelLayoutError(`${files.weights}: head ${k} reads token ${h.token}`);
      }
    });
    let head: HeadWeights;
    if (heads.length === 1) {
      head = { kind: "single", head: await ClassifierHead.load(engine, file, heads[0].head) };
    } else {
      // Heads read consecutive prefix tokens; logits = mean of the heads, so
      // one linear over the concatenated tokens with weights [W_0/n | W_1/n | ...]
      // and bias sum(b_k)/n computes it in one GEMM (n = 2: exact scaling).
      const C = spec.numClasses;
      const n = heads.length;
      const headW = new Float32Array(C * n * D);
      const headB = new Float32Array(C);
      let host: Float32Array = new Float32Array(0);
      for (let k = 0; k < n; k++) {
        const lin = heads[k].head.layers[0].linear;
        const w = await read(lin.weight);
        if (k === 0) host = w;
        for (let c = 0; c < C; c++) {
          for (let d = 0; d < D; d++) headW[c * n * D + k * D + d] = w[c * D + d] / n;
        }
        if (lin.bias) {
          const b = await read(lin.bias);
          for (let c = 0; c < C; c++) headB[c] += b[c] / n;
        }
      }
      head = {
        kind: "mean",
        linear: packLinear(
          engine,
          headW,
          [C, n * D],
          heads.map((h) => h.head.layers[0].linear.weight).join("+"),
          headB,
        ),
        host,
      };
    }
    return new ViTModel(engine, spec, files, {
      patch,
      prefix,
      blocks,
      norms,
      head,
      posPrefix,
      posGrid,
      preprocess,
    });
  }

  /**
   * Host copy of the class-token classifier weight [C, D] (for a distilled
   * DeiT: `cls_classifier`, the head on the class token; for an MLP head its
   * first layer).
   */
  classifierWeight(): Float32Array {
    return this.#head.kind === "single" ? this.#head.head.firstWeight() : this.#head.host.slice();
  }

  /** Tokens before the patches and the patch grid of an `h` x `w` input (for attention rollout). */
  tokenGrid(h: number, w: number): { prefix: number; grid: [number, number] } {
    const [ph, pw] = this.spec.patch;
    return { prefix: prefixCount(this.spec), grid: [Math.floor(h / ph), Math.floor(w / pw)] };
  }

  /** Largest tensor of one image, in bytes: qkv, the MLP, or the attention maps of every layer. */
  activationBytesPerImage(h: number, w: number): number {
    const { patch, hidden: D, mlp: M } = this.spec;
    const T = prefixCount(this.spec) + Math.floor(h / patch[0]) * Math.floor(w / patch[1]);
    return 4 * Math.max(T * 3 * D, T * M, T * T * this.spec.blocks.length);
  }

  /**
   * Attention cost grows with the square of the token count: an input much
   * larger than the trained one (`--size 1024` on a 32-pixel ViT) is named
   * with its tokens and its cost per image before the run.
   */
  inputSizeWarnings(size: [number, number]): string[] {
    const { patch, hidden: D, mlp: M, grid, heads } = this.spec;
    const L = this.spec.blocks.length;
    const P = prefixCount(this.spec);
    const tokens = (h: number, w: number) =>
      P + Math.floor(h / patch[0]) * Math.floor(w / patch[1]);
    // Multiply-adds x 2 per image: q/k/v/proj and the MLP (linear in T), QK^T and AV (T^2).
    const flops = (t: number) => L * (2 * t * D * (4 * D + 2 * M) + 4 * t * t * D);
    const t = tokens(size[0], size[1]);
    const t0 = P + grid[0] * grid[1];
    const ratio = flops(t) / flops(t0);
    if (ratio < 16) return [];
    const fmt = (x: number, unit: string) =>
      x >= 1e12
        ? `${(x / 1e12).toFixed(1)} T${unit}`
        : x >= 1e9
        ? `${(x / 1e9).toFixed(1)} G${unit}`
        : `${(x / 1e6).toFixed(1)} M${unit}`;
    return [
      `input ${size[0]}x${size[1]} gives ${t} tokens per image (the model was trained on ` +
      `${grid[0] * patch[0]}x${grid[1] * patch[1]}: ${t0} tokens); attention grows with ` +
      `tokens^2: about ${fmt(flops(t), "FLOP")} and ${
        fmt(4 * t * t * heads, "B")
      } of attention scores per image per layer, ${
        Math.round(ratio)
      }x the trained size's cost; check --size / --crop`,
    ];
  }

  /** Position table [P + gh * gw, D] on the GPU for a token grid, resized once per grid. */
  #positionsFor(gh: number, gw: number): Tensor {
    const key = `${gh}x${gw}`;
    let t = this.#positions.get(key);
    if (!t) {
      const { grid, hidden: D, posResize } = this.spec;
      const table = positionTable(this.#posPrefix, this.#posGrid, grid, [gh, gw], D, posResize);
      t = this.#engine.upload(table, [table.length / D, D], `position-embedding-${key}`, true);
      this.#positions.set(key, t);
    }
    return t;
  }

  /**
   * The forward pass of `pixels` [B, C, H, W] (normalized). Any H, W of at
   * least one patch works: the position embeddings are resized bicubically
   * when the token grid differs from the trained one. Returns logits
   * [B, classes]; with `features` the class token after the final
   * LayerNorm(s) [B, D] (the head's input); with `attention` the head-mean
   * attention probabilities of every layer [B, L, T, T]; with
   * `clsAttentionHeads` the last layer's class-token attention row of every
   * head [B, heads, T].
   */
  protected forwardBatch(engine: Engine, pixels: Tensor, opts: ForwardOptions): ForwardResult {
    const { spec } = this;
    const [B, , H, W] = pixels.shape;
    const [ph, pw] = spec.patch;
    const gh = Math.floor(H / ph), gw = Math.floor(W / pw);
    if (gh < 1 || gw < 1) {
      throw new ModelLayoutError(
        `${this.path}: input ${H}x${W} is smaller than one ${ph}x${pw} patch.`,
      );
    }
    // A relative-position bias is resized to the grid (as Hugging Face's BEiT does); an absolute
    // position embedding beside it would need BEiT's own interpolation rule, which is not run.
    const window = this.#blocks[0]?.biasWindow;
    if (window && spec.posEmbed && (window[0] !== gh || window[1] !== gw)) {
      throw new ModelLayoutError(
        `${this.path}: a ${H}x${W} input gives a ${gh}x${gw} patch grid, but this model's ` +
          `absolute position embeddings and relative position bias are for ` +
          `${window[0]}x${window[1]}; resize images to ${window[0] * ph}x${window[1] * pw} ` +
          `(--size ${window[0] * ph},${window[1] * pw}).`,
      );
    }
    const D = spec.hidden;
    const P = prefixCount(spec);
    const T = P + gh * gw;
    const L = spec.blocks.length;

    const patches = patchify(engine, pixels, spec.patch);
    const emb = linear(engine, patches, this.#patch.weight, { bias: this.#patch.bias });
    patches.release();
    let x = assembleTokens(engine, emb, this.#prefix, this.#positionsFor(gh, gw));
    emb.release();

    const attn = opts.attention ? engine.empty([B, L, T, T], "f32", "attention-maps") : undefined;
    const clsHeads = opts.clsAttentionHeads
      ? engine.empty([B, spec.heads, T], "f32", "cls-attention-heads")
      : undefined;
    const block = {
      dim: D,
      heads: spec.heads,
      eps: spec.eps,
      normFirst: spec.normFirst,
      mlpAct: spec.mlpAct,
      grid: [gh, gw] as [number, number],
    };
    this.#blocks.forEach((blk, layer) => {
      x = blk.forward(engine, x, block, {
        headMean: attn ? { into: attn, layer } : undefined,
        clsHeads: layer === L - 1 ? clsHeads : undefined,
      });
    });

    const { head, features } = this.#pool(engine, x, B, P, gh * gw);
    x.release();
    const logits = this.#head.kind === "single"
      ? this.#head.head.forward(engine, head)
      : linear(engine, head.reshape([B, head.size / B]), this.#head.linear.weight, {
        bias: this.#head.linear.bias,
      });
    if (features !== head) head.release();
    if (!opts.features) features.release();
    return {
      logits,
      features: opts.features ? features : undefined,
      attention: attn,
      clsAttentionHeads: clsHeads,
    };
  }

  /**
   * The classifier's input from the encoder output `x` [B, P + N, D] after
   * the final norm(s): the prefix tokens (one per head), the mean of the
   * patch tokens (timm "avg"), or DINOv2's [class token | mean of the patch
   * tokens]; and the `features` tap, the class token or the pooled vector
   * (the whole head input). `x` is not released.
   */
  #pool(
    engine: Engine,
    x: Tensor,
    B: number,
    P: number,
    N: number,
  ): { head: Tensor; features: Tensor } {
    const D = this.spec.hidden;
    const normAll = (t: Tensor) => {
      let y = t;
      for (const n of this.#norms) {
        const next = layerNorm(engine, y, n.weight, n.bias, this.spec.eps);
        if (y !== t) y.release();
        y = next;
      }
      return y;
    };
    if (this.spec.pool === "patch-mean") {
      // timm global_pool "avg": the mean of the patch tokens; the head applies fc_norm.
      const xn = normAll(x);
      const patches = takeTokens(engine, xn, P, N);
      if (xn !== x) xn.release();
      const mean = meanTokens(engine, patches);
      patches.release();
      return { head: mean, features: mean };
    }
    if (this.spec.pool === "cls+patch-mean") {
      const xn = normAll(x);
      const cls = takeTokens(engine, xn, 0, 1, engine.empty([B, D], "f32", "cls-token"));
      const patches = takeTokens(engine, xn, P, N);
      if (xn !== x) xn.release();
      const mean = meanTokens(engine, patches);
      patches.release();
      const head = concatLast(engine, cls, mean);
      cls.release();
      mean.release();
      return { head, features: head };
    }
    // LayerNorm is per token, so normalizing only the prefix tokens the
    // heads read gives the same numbers as normalizing the whole sequence.
    // A [B, D] head input for one prefix token, so that it can be the features itself. (The
    // buffer is owned by the tensor takeTokens returns, not by a reshaped view of it.)
    const named = this.spec.prefixTokens.length;
    const prefix = named === 1
      ? takeTokens(engine, x, 0, 1, engine.empty([B, D], "f32", "cls-token"))
      : takeTokens(engine, x, 0, named);
    const head = normAll(prefix);
    if (head !== prefix) prefix.release();
    const features = named === 1
      ? head
      : takeTokens(engine, head, 0, 1, engine.empty([B, D], "f32", "cls-features"));
    return { head, features };
  }

  /** Frees the GPU weights. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    const all: ({ release(): void } | undefined)[] = [
      this.#patch.weight,
      this.#patch.bias,
      this.#prefix,
      ...this.#positions.values(),
    ];
    for (const n of this.#norms) all.push(n.weight, n.bias);
    if (this.#head.kind === "single") all.push(this.#head.head);
    else all.push(this.#head.linear.weight, this.#head.linear.bias);
    for (const b of this.#blocks) b.release();
    for (const t of all) t?.release();
    this.#positions.clear();
  }
}

/**
 * Loads a Vision Transformer checkpoint: Hugging Face ViT / DeiT (with or
 * without teacher) or timm VisionTransformer, F32 / F16 / BF16 weights.
 * `preprocess` overrides the pipeline found in the folder.
 */
export function loadViT(
  path: string | ModelFiles,
  engine?: Engine,
  preprocess?: ModelPreprocess,
): Promise<ViTModel> {
  return ViTModel.load(path, engine, preprocess);
}

/** The Vision Transformer family: Hugging Face ViT / DeiT and timm VisionTransformer. */
export const vitFamily: ModelFamily = {
  name: "vit",
  summary:
    "ViT/DeiT/DINOv2/BEiT (Hugging Face, timm, torchvision, nn.TransformerEncoder; MLP heads)",
  explain: { gradcam: false, rollout: true },
  detect(names, config) {
    const layout = detectViTLayout(names, config);
    return layout ? { layout } : undefined;
  },
  pipeline(files, index) {
    return vitPipeline(files, vitSpec(index, files.config, files.weights));
  },
  load(files, engine, preprocess) {
    return loadViT(files, engine, preprocess);
  },
};
