/**
 * Penultimate features of a dataset and their 2-D projections.
 *
 * Features (ResNet: the global-average-pooled last stage; ViT: the class
 * token after the final LayerNorm) come from the forward pass's `features`
 * tap. {@link FeatureCollector} keeps them on the GPU, copying each batch
 * into a few large buffers (no readback per batch, as the evaluation loop
 * requires), together with the predicted class from a GPU argmax, and reads
 * everything back once at the end. An evaluation loop that already runs the
 * forward pass can feed it directly (ask the forward for `features`), so the
 * embedding costs no second pass over the data; {@link collectFeatures} is
 * the stand-alone pass (decoding in loader workers ahead of the GPU).
 *
 * Projections: PCA (GPU covariance, pca.ts), UMAP (umap-js, umap.ts) and
 * t-SNE (tsne.ts). UMAP and t-SNE first reduce the features to 50
 * dimensions with the same GPU PCA (the usual practice: it removes noise
 * dimensions and makes the exact neighbour search 15x cheaper at D = 768)
 * and share one exact k-NN search. All are seeded.
 */
import type { Engine } from "../gpu/engine.ts";
import type { ClassifierModel } from "../models/model.ts";
import type { Tensor } from "../tensor.ts";
import { ModelLayoutError } from "../errors.ts";
import type { DatasetItem } from "../data/datasets.ts";
import type { PreprocessConfig } from "../data/preprocess.ts";
import { loadBatches, type LoaderPool } from "../data/loader.ts";
import type { EmbeddingInput, EmbeddingPoint } from "../report/types.ts";
import { argmaxRows } from "./gradcam.ts";
import { modelPipeline } from "../models/pipeline.ts";
import { exactKnn } from "./knn.ts";
import { pca } from "./pca.ts";
import { tsne } from "./tsne.ts";
import { umap } from "./umap.ts";

/** Features of a set of samples, on the host. */
export interface FeatureSet {
  /** Features [rows, dims] row-major. */
  features: Float32Array;
  /** Number of samples. */
  rows: number;
  /** Feature width. */
  dims: number;
  /** Predicted class per sample. */
  preds: Int32Array;
  /** True class per sample (-1 when unknown). */
  labels: Int32Array;
  /** Image path per sample ("" when unknown). */
  paths: string[];
  /** Images that could not be read or decoded. */
  failed: { path: string; reason: string }[];
}

/** Bytes per GPU chunk of collected features. */
const CHUNK_BYTES = 64 * 1024 * 1024;

/**
 * Accumulates per-batch features and predictions on the GPU; one readback
 * in {@link FeatureCollector.finish}.
 */
export class FeatureCollector {
  #chunks: Tensor[] = [];
  #preds: Tensor[] = [];
  #rowsPerChunk = 0;
  #dims = 0;
  #rows = 0;
  #labels: number[] = [];
  #paths: string[] = [];
  /** Images the caller reports as failed. */
  failed: { path: string; reason: string }[] = [];

  /**
   * A collector on `engine`; `chunkBytes` is the size of each GPU buffer the
   * features are copied into (default 64 MiB; another is added when full).
   */
  constructor(
    /** The engine the batches run on. */
    readonly engine: Engine,
    /** Bytes per GPU chunk. */
    readonly chunkBytes: number = CHUNK_BYTES,
  ) {}

  /** Samples added so far. */
  get rows(): number {
    return this.#rows;
  }

  /**
   * Records copies of a batch's `features` [B, D] and the argmax of its
   * `logits` [B, C] (GPU work in the current encoder; nothing is awaited).
   */
  add(features: Tensor, logits: Tensor, labels?: ArrayLike<number>, paths?: string[]): void {
    const [B, D] = features.shape;
    if (features.shape.length !== 2 || logits.shape[0] !== B) {
      throw new RangeError(
        `FeatureCollector.add: features [${features.shape}], logits [${logits.shape}]`,
      );
    }
    if (this.#dims === 0) {
      this.#dims = D;
      this.#rowsPerChunk = Math.max(1, Math.floor(this.chunkBytes / (4 * D)));
    } else if (D !== this.#dims) {
      throw new RangeError(
        `FeatureCollector.add: ${D}-wide features after ${this.#dims}-wide ones`,
      );
    }
    const pred = argmaxRows(this.engine, logits);
    let done = 0;
    while (done < B) {
      const chunk = Math.floor(this.#rows / this.#rowsPerChunk);
      const row = this.#rows % this.#rowsPerChunk;
      if (chunk === this.#chunks.length) {
        this.#chunks.push(this.engine.empty([this.#rowsPerChunk, D], "f32", "collected features"));
        this.#preds.push(this.engine.empty([this.#rowsPerChunk], "u32", "collected preds"));
      }
      const n = Math.min(B - done, this.#rowsPerChunk - row);
      this.engine.copy(features, this.#chunks[chunk], n * D * 4, done * D * 4, row * D * 4);
      this.engine.copy(pred, this.#preds[chunk], n * 4, done * 4, row * 4);
      done += n;
      this.#rows += n;
    }
    pred.release();
    for (let i = 0; i < B; i++) {
      this.#labels.push(labels?.[i] ?? -1);
      this.#paths.push(paths?.[i] ?? "");
    }
  }

  /** Reads everything back (one readback) and frees the GPU buffers. */
  async finish(): Promise<FeatureSet> {
    const D = this.#dims, N = this.#rows;
    const features = new Float32Array(N * D);
    const preds = new Int32Array(N);
    if (N > 0) {
      const all = await this.engine.read(...this.#chunks, ...this.#preds);
      const k = this.#chunks.length;
      for (let c = 0; c < k; c++) {
        const start = c * this.#rowsPerChunk;
        const n = Math.min(this.#rowsPerChunk, N - start);
        features.set((all[c] as Float32Array).subarray(0, n * D), start * D);
        preds.set(
          new Int32Array((all[k + c] as Uint32Array).buffer, all[k + c].byteOffset, n),
          start,
        );
      }
    }
    for (const t of [...this.#chunks, ...this.#preds]) t.release();
    this.#chunks = [];
    this.#preds = [];
    return {
      features,
      rows: N,
      dims: D,
      preds,
      labels: Int32Array.from(this.#labels),
      paths: this.#paths,
      failed: this.failed,
    };
  }
}

/** Options of {@link collectFeatures}. */
export interface CollectOptions {
  /** Images per forward pass (default 32). */
  batchSize?: number;
  /** Preprocessing (default: the model folder's pipeline). */
  pipeline?: PreprocessConfig;
  /** Loader workers decoding ahead of the GPU (default: the loader's, min(2, cores); 0 = this thread). */
  workers?: number;
  /** Loader workers to reuse (see data/loader.ts). */
  pool?: LoaderPool;
  /** Called after each batch with the number of samples done. */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Runs the model over dataset items (file paths or CIFAR records, labels
 * already in model class indices) and collects the penultimate features.
 * Images are decoded and preprocessed ahead of the GPU by the data loader;
 * unreadable ones are skipped and listed in `failed`.
 */
export async function collectFeatures(
  engine: Engine,
  model: ClassifierModel,
  items: readonly DatasetItem[],
  opts: CollectOptions = {},
): Promise<FeatureSet> {
  const cfg = opts.pipeline ?? modelPipeline(model);
  const collector = new FeatureCollector(engine);
  let done = 0;
  for await (
    const batch of loadBatches([...items], {
      preprocess: cfg,
      batchSize: Math.max(1, opts.batchSize ?? 32),
      workers: opts.workers,
      pool: opts.pool,
    })
  ) {
    collector.failed.push(...batch.failed.map((f) => ({ path: f.path, reason: f.reason })));
    done += batch.items.length + batch.failed.length;
    if (batch.items.length > 0) {
      const x = engine.upload(batch.pixels, batch.shape, "pixels");
      const out = model.forward(engine, x, { features: true });
      if (!out.features) {
        throw new ModelLayoutError(`${model.path}: the model returned no features`);
      }
      collector.add(
        out.features,
        out.logits,
        batch.items.map((i) => i.label ?? -1),
        batch.items.map((i) => i.path),
      );
      out.features.release();
      out.logits.release();
      x.release();
      // Submit before the next batch's upload can reuse these pooled buffers.
      engine.submit();
    }
    opts.onProgress?.(done, items.length);
  }
  return await collector.finish();
}

/** Projection methods. */
export type ProjectionMethod = "pca" | "umap" | "tsne";

/** Options of {@link projectEmbeddings}. */
export interface ProjectEmbeddingsOptions {
  /** "pca" (default), "umap" or "tsne". */
  method?: ProjectionMethod;
  /** Seed (default 0). */
  seed?: number;
  /** PCA dimensions before UMAP / t-SNE (default 50; 0 = none). */
  pcaDims?: number;
  /** t-SNE perplexity (default 30). */
  perplexity?: number;
  /** t-SNE iterations (default 1000). */
  iterations?: number;
  /** UMAP neighbours (default 15). */
  nNeighbors?: number;
  /** UMAP minimum distance (default 0.1). */
  minDist?: number;
}

/** A 2-D projection. */
export interface Projection {
  /** Method used. */
  method: ProjectionMethod;
  /** Coordinates [N, 2] row-major. */
  coords: Float32Array;
  /** What was done, for logs and reports (e.g. explained variance, KL). */
  details: Record<string, number | string>;
}

/**
 * Projects features [rows, dims] to 2-D. Same inputs and seed give the same
 * coordinates.
 */
export async function projectEmbeddings(
  engine: Engine,
  set: Pick<FeatureSet, "features" | "rows" | "dims">,
  opts: ProjectEmbeddingsOptions = {},
): Promise<Projection> {
  const method = opts.method ?? "pca";
  const seed = opts.seed ?? 0;
  const { rows, dims } = set;
  if (rows < 4) throw new RangeError(`an embedding needs at least 4 samples, got ${rows}`);
  if (method === "pca") {
    const r = await pca(engine, set.features, rows, dims, { components: 2, seed });
    return {
      method,
      coords: r.coords,
      details: {
        explained_variance_ratio_1: r.explainedVarianceRatio[0],
        explained_variance_ratio_2: r.explainedVarianceRatio[1],
        iterations: r.iterations,
      },
    };
  }
  const target = opts.pcaDims ?? 50;
  let x: Float32Array = set.features, d = dims;
  const details: Record<string, number | string> = {};
  if (target > 0 && dims > target && rows > target) {
    const r = await pca(engine, set.features, rows, dims, { components: target, seed });
    x = r.coords;
    d = target;
    details.pca_dims = target;
    details.pca_variance_kept = r.explainedVarianceRatio.reduce((a, b) => a + b, 0);
  }
  if (method === "tsne") {
    const perplexity = Math.min(opts.perplexity ?? 30, (rows - 1) / 3);
    const knn = exactKnn(x, rows, d, Math.floor(3 * perplexity));
    const r = tsne(x, rows, d, { perplexity, iterations: opts.iterations, seed, knn });
    return { method, coords: r.coords, details: { ...details, perplexity, kl: r.kl } };
  }
  if (method === "umap") {
    const nNeighbors = Math.min(opts.nNeighbors ?? 15, rows - 1);
    const coords = umap(x, rows, d, { nNeighbors, minDist: opts.minDist, seed });
    return { method, coords, details: { ...details, n_neighbors: nNeighbors } };
  }
  throw new RangeError(`unknown projection "${method}" (pca, umap or tsne)`);
}

/** Points for the report's scatter plot and CSV (report/scatter.ts, report/csv.ts). */
export function embeddingInput(set: FeatureSet, projection: Projection): EmbeddingInput {
  const points: EmbeddingPoint[] = [];
  for (let i = 0; i < set.rows; i++) {
    points.push({
      x: projection.coords[2 * i],
      y: projection.coords[2 * i + 1],
      label: set.labels[i] >= 0 ? set.labels[i] : undefined,
      pred: set.preds[i],
      path: set.paths[i] || undefined,
    });
  }
  return { method: projection.method, points };
}
