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
import { linear, type PackedMatrix, prepareLinearWeight } from "../../ops/gemm.ts";
import { layerNorm } from "../../ops/layernorm.ts";
import { attention } from "../../ops/attention.ts";
import { assembleTokens, patchify, takeTokens } from "../../ops/patch_embed.ts";
import type { Tensor } from "../../tensor.ts";
import { SafetensorsFile } from "../../weights/safetensors.ts";
import { detectViTLayout, type LinearNames, type ViTSpec, vitSpec } from "./layouts.ts";
import type { ModelFamily } from "../family.ts";
import { ModelLayoutError } from "../../errors.ts";
import { findModelFiles, labelsFromConfig, type ModelFiles } from "../config.ts";
import type { ClassifierModel, ForwardOptions, ForwardResult, ModelPreprocess } from "../model.ts";
import { positionTable } from "./posembed.ts";
import { type PreprocessConfig, preprocessConfigFromModelDir } from "../../data/preprocess.ts";
import {
  predict as predictImages,
  type PredictInput,
  type Prediction,
  type PredictOptions,
} from "../../predict.ts";

/** GPU weights of one linear layer (weight packed once for the GEMM kernel). */
interface LinearWeights {
  weight: PackedMatrix;
  bias?: Tensor;
}

/** GPU weights of one LayerNorm. */
interface NormWeights {
  weight: Tensor;
  bias: Tensor;
}

/** GPU weights of one transformer block. */
interface BlockWeights {
  norm1: NormWeights;
  qkv: LinearWeights;
  proj: LinearWeights;
  norm2: NormWeights;
  fc1: LinearWeights;
  fc2: LinearWeights;
}

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
  const warnings = cfg.warnings.filter((w) => !w.startsWith("no image_size"));
  warnings.push(
    `no image_size in ${files.dir}: assumed ${size[0]}x${size[1]}, the position-embedding grid ` +
      `(${spec.grid[0]}x${spec.grid[1]}) times the patch size`,
  );
  return { ...cfg, size, warnings };
}

/** A loaded Vision Transformer (ViT or DeiT). */
export class ViTModel implements ClassifierModel {
  /** "vit", or "deit" for distilled models (two prefix tokens). */
  readonly architecture: "vit" | "deit";
  /** Number of classes. */
  readonly numClasses: number;
  /** The input size the position embeddings were trained for [H, W]. */
  readonly inputSize: [number, number];
  /** Class names, when the config has them. */
  readonly labels?: string[];
  /** config.json plus the inferred `vit` spec. */
  readonly config: Record<string, unknown>;
  /** Where the model was loaded from. */
  readonly path: string;
  /**
   * Preprocessing the checkpoint asks for: its `preprocessor_config.json`
   * (Hugging Face) or `pretrained_cfg` (timm), see `src/data/preprocess.ts`.
   */
  readonly preprocess?: ModelPreprocess;
  /** The network's dimensions and tensor names. */
  readonly spec: ViTSpec;

  #patch: LinearWeights;
  #prefix: Tensor;
  #blocks: BlockWeights[];
  #norm: NormWeights;
  #head: LinearWeights;
  #classifierHost: Float32Array;
  #posPrefix: Float32Array;
  #posGrid: Float32Array;
  #positions = new Map<string, Tensor>();
  #engine: Engine;
  #disposed = false;

  private constructor(
    engine: Engine,
    spec: ViTSpec,
    files: ModelFiles,
    weights: {
      patch: LinearWeights;
      prefix: Tensor;
      blocks: BlockWeights[];
      norm: NormWeights;
      head: LinearWeights;
      classifierHost: Float32Array;
      posPrefix: Float32Array;
      posGrid: Float32Array;
      preprocess?: ModelPreprocess;
    },
  ) {
    this.#engine = engine;
    this.spec = spec;
    this.architecture = spec.architecture;
    this.numClasses = spec.numClasses;
    this.inputSize = [spec.grid[0] * spec.patch[0], spec.grid[1] * spec.patch[1]];
    this.path = files.dir;
    this.config = { ...files.config, vit: { ...spec, blocks: spec.blocks.length } };
    this.labels = labelsFromConfig(files.config, spec.numClasses);
    this.#patch = weights.patch;
    this.#prefix = weights.prefix;
    this.#blocks = weights.blocks;
    this.#norm = weights.norm;
    this.#head = weights.head;
    this.#classifierHost = weights.classifierHost;
    this.#posPrefix = weights.posPrefix;
    this.#posGrid = weights.posGrid;
    this.preprocess = weights.preprocess;
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
    const D = spec.hidden;
    const read = (name: string) => file.readF32(name);
    const upload = (data: Float32Array, shape: number[], label: string) =>
      engine.upload(data, shape, label, true);
    // A linear weight [N, K], packed into the GEMM's panel layout; the raw copy is freed.
    const uploadLinear = (data: Float32Array, shape: [number, number], label: string) => {
      const raw = upload(data, shape, label);
      const packed = prepareLinearWeight(engine, raw);
      engine.submit();
      raw.release();
      return packed;
    };
    const linearW = async (l: LinearNames): Promise<LinearWeights> => {
      const shape = file.info(l.weight).shape;
      return {
        weight: uploadLinear(
          await read(l.weight),
          [shape[0], shape.slice(1).reduce((a, b) => a * b)],
          l.weight,
        ),
        bias: l.bias ? upload(await read(l.bias), [shape[0]], l.bias) : undefined,
      };
    };
    const normW = async (n: { weight: string; bias: string }): Promise<NormWeights> => ({
      weight: upload(await read(n.weight), [D], n.weight),
      bias: upload(await read(n.bias), [D], n.bias),
    });
    // q, k, v as one [3D, D] linear.
    const qkvW = async (parts: LinearNames[]): Promise<LinearWeights> => {
      if (parts.length === 1) return linearW(parts[0]);
      const w = new Float32Array(3 * D * D);
      const hasBias = Boolean(parts[0].bias);
      const b = hasBias ? new Float32Array(3 * D) : undefined;
      for (let i = 0; i < 3; i++) {
        w.set(await read(parts[i].weight), i * D * D);
        if (b) b.set(await read(parts[i].bias!), i * D);
      }
      const label = parts[0].weight.replace(/query\.weight$/, "qkv.weight");
      return {
        weight: uploadLinear(w, [3 * D, D], label),
        bias: b ? upload(b, [3 * D], label.replace(/weight$/, "bias")) : undefined,
      };
    };

    const patch = await linearW(spec.patchEmbed);
    const P = spec.prefixTokens.length;
    const prefixHost = new Float32Array(P * D);
    for (let i = 0; i < P; i++) prefixHost.set(await read(spec.prefixTokens[i]), i * D);
    const prefix = upload(prefixHost, [P, D], "prefix-tokens");

    const pos = await read(spec.posEmbed);
    const posPrefix = new Float32Array(P * D);
    if (spec.posCoversPrefix) posPrefix.set(pos.subarray(0, P * D));
    const posGrid = pos.slice(spec.posCoversPrefix ? P * D : 0);

    const blocks: BlockWeights[] = [];
    for (const b of spec.blocks) {
      blocks.push({
        norm1: await normW(b.norm1),
        qkv: await qkvW(b.qkv),
        proj: await linearW(b.proj),
        norm2: await normW(b.norm2),
        fc1: await linearW(b.fc1),
        fc2: await linearW(b.fc2),
      });
    }
    const norm = await normW(spec.norm);

    // Heads read consecutive prefix tokens; logits = mean of the heads, so
    // one linear over the concatenated tokens with weights [W_0/n | W_1/n | ...]
    // and bias sum(b_k)/n computes it in one GEMM (n = 1 or 2: exact scaling).
    const heads = spec.classifiers;
    const C = spec.numClasses;
    heads.forEach((h, k) => {
      if (h.token !== k) {
        throw new ModelLayoutError(`${files.weights}: head ${k} reads token ${h.token}`);
      }
    });
    const n = heads.length;
    const headW = new Float32Array(C * n * D);
    const headB = new Float32Array(C);
    let classifierHost: Float32Array = new Float32Array(0);
    for (let k = 0; k < n; k++) {
      const w = await read(heads[k].weight);
      if (k === 0) classifierHost = w;
      for (let c = 0; c < C; c++) {
        for (let d = 0; d < D; d++) headW[c * n * D + k * D + d] = w[c * D + d] / n;
      }
      if (heads[k].bias) {
        const b = await read(heads[k].bias!);
        for (let c = 0; c < C; c++) headB[c] += b[c] / n;
      }
    }
    const head = {
      weight: uploadLinear(headW, [C, n * D], heads.map((h) => h.weight).join("+")),
      bias: upload(headB, [C], "classifier-bias"),
    };
    return new ViTModel(engine, spec, files, {
      patch,
      prefix,
      blocks,
      norm,
      head,
      classifierHost,
      posPrefix,
      posGrid,
      preprocess,
    });
  }

  /**
   * Host copy of the class-token classifier weight [C, D] (for a distilled
   * DeiT: `cls_classifier`, the head on the class token).
   */
  classifierWeight(): Float32Array {
    return this.#classifierHost.slice();
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
   * Records the forward pass of `pixels` [B, C, H, W] (normalized). Any H, W
   * of at least one patch works: the position embeddings are resized
   * bicubically when the token grid differs from the trained one. Returns
   * logits [B, classes]; with `features` the class token after the final
   * LayerNorm [B, D]; with `attention` the head-mean attention probabilities
   * of every layer [B, L, T, T]; with `clsAttentionHeads` the last layer's
   * class-token attention row of every head [B, heads, T].
   */
  forward(engine: Engine, pixels: Tensor, opts: ForwardOptions = {}): ForwardResult {
    if (this.#disposed) throw new Error("ViTModel.forward after dispose()");
    const { spec } = this;
    if (pixels.shape.length !== 4 || pixels.shape[1] !== spec.channels) {
      throw new ModelLayoutError(
        `${this.path}: expected pixels [B, ${spec.channels}, H, W], got [${pixels.shape}]`,
      );
    }
    const [B, , H, W] = pixels.shape;
    const [ph, pw] = spec.patch;
    const gh = Math.floor(H / ph), gw = Math.floor(W / pw);
    if (gh < 1 || gw < 1) {
      throw new ModelLayoutError(
        `${this.path}: input ${H}x${W} is smaller than one ${ph}x${pw} patch.`,
      );
    }
    const D = spec.hidden;
    const P = spec.prefixTokens.length;
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
    this.#blocks.forEach((blk, layer) => {
      const h1 = layerNorm(engine, x, blk.norm1.weight, blk.norm1.bias, spec.eps);
      const qkv = linear(engine, h1, blk.qkv.weight, { bias: blk.qkv.bias });
      h1.release();
      const o = attention(engine, qkv, {
        heads: spec.heads,
        headMeanProbs: attn ? { into: attn, layer } : undefined,
        clsHeadProbs: layer === L - 1 ? clsHeads : undefined,
      });
      qkv.release();
      const x2 = linear(engine, o, blk.proj.weight, { bias: blk.proj.bias, residual: x });
      o.release();
      x.release();
      const h2 = layerNorm(engine, x2, blk.norm2.weight, blk.norm2.bias, spec.eps);
      const m = linear(engine, h2, blk.fc1.weight, { bias: blk.fc1.bias, act: "gelu" });
      h2.release();
      x = linear(engine, m, blk.fc2.weight, { bias: blk.fc2.bias, residual: x2 });
      m.release();
      x2.release();
    });

    // LayerNorm is per token, so normalizing only the prefix tokens the
    // heads read gives the same numbers as normalizing the whole sequence.
    const prefix = takeTokens(engine, x, 0, P);
    x.release();
    // [B, D] for one prefix token so that `normed` itself can be the features.
    const normed = layerNorm(
      engine,
      P === 1 ? prefix.reshape([B, D]) : prefix,
      this.#norm.weight,
      this.#norm.bias,
      spec.eps,
    );
    prefix.release();
    const logits = linear(engine, normed.reshape([B, P * D]), this.#head.weight, {
      bias: this.#head.bias,
    });
    let features: Tensor | undefined;
    if (opts.features) {
      features = P === 1
        ? normed
        : takeTokens(engine, normed, 0, 1, engine.empty([B, D], "f32", "cls-features"));
    }
    if (features !== normed) normed.release();
    return { logits, features, attention: attn, clsAttentionHeads: clsHeads };
  }

  /**
   * Top-k classes of images (paths or decoded), with this model's own
   * preprocessing; see {@link predict}.
   */
  predict(inputs: readonly PredictInput[], opts?: PredictOptions): Promise<Prediction[]> {
    return predictImages(this, inputs, opts);
  }

  /** Frees the GPU weights. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const all: ({ release(): void } | undefined)[] = [
      this.#patch.weight,
      this.#patch.bias,
      this.#prefix,
      this.#norm.weight,
      this.#norm.bias,
      this.#head.weight,
      this.#head.bias,
      ...this.#positions.values(),
    ];
    for (const b of this.#blocks) {
      for (const l of [b.qkv, b.proj, b.fc1, b.fc2, b.norm1, b.norm2]) all.push(l.weight, l.bias);
    }
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
  summary: "ViT/DeiT (Hugging Face, timm)",
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
