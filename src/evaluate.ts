/**
 * One evaluation, end to end: images on disk -> decode + preprocess (loader
 * workers) -> model forward on the GPU -> metric state and top-k on the GPU
 * -> one readback at the end -> metrics finished in float64 -> outputs.
 *
 * Per batch there is one upload, one command encoder and no readback: the
 * metric state and the top-k predictions stay on the GPU until the data
 * ends. The loader prepares the next batches in workers while the GPU works.
 */
import { DataError, MetricsInputError, NonFiniteValuesError, UsageError } from "./errors.ts";
import { Engine } from "./gpu/engine.ts";
import type { Tensor } from "./tensor.ts";
import { loadModel } from "./models/load.ts";
import type { ClassifierModel } from "./models/model.ts";
import {
  describePipeline,
  type PreprocessConfig,
  type PreprocessOverrides,
} from "./data/preprocess.ts";
import { inputSizeWarnings, modelClasses, modelPipeline } from "./models/pipeline.ts";
import { requireSoftmaxClassifier } from "./predict.ts";
import { type Dataset, type DatasetItem, isRecordItem } from "./data/datasets.ts";
import { loadDataset } from "./data/open.ts";
import { readItemImage } from "./data/item_image.ts";
import {
  applyLabelMapping,
  type LabelMapping,
  mapLabels,
  type ModelClasses,
} from "./data/labels.ts";
import { type Batch, defaultWorkerCount, loadBatches, type LoaderOptions } from "./data/loader.ts";
import type { FailedItem } from "./data/prepare.ts";
import { ProgressDisplay } from "./data/progress.ts";
import type { RgbImage } from "./data/decode.ts";
import { resize } from "./data/resize.ts";
import { MetricState } from "./metrics/state.ts";
import type { MetricSnapshot } from "./metrics/snapshot.ts";
import { computeMetrics, type MetricsReport } from "./metrics/report.ts";
import { saveSnapshot } from "./metrics/state_file.ts";
import { indexRanges, itemsSha256, sha256File, type StateAnalyses } from "./metrics/provenance.ts";
import { findModelFiles } from "./models/config.ts";
import { topk as topkOp, TOPK_MAX } from "./ops/topk.ts";
import { integerOption } from "./options.ts";
import { gatherColumns } from "./ops/gather_columns.ts";
import { type PredictionRow, writePredictionsCsv } from "./report/csv.ts";
import { writeJson } from "./report/json.ts";
import { writeHtmlReport } from "./report/html.ts";
import { StagedOutput } from "./report/output_dir.ts";
import type {
  EmbeddingInput,
  ExplanationExample,
  MistakeExample,
  ReportInput,
} from "./report/types.ts";
import { confidenceHistogramsFromSnapshot, worstClassCurves } from "./report/from_snapshot.ts";
import {
  embeddingInput,
  FeatureCollector,
  type FeatureSet,
  projectEmbeddings,
} from "./explain/embeddings.ts";
import { VERSION } from "./version.ts";
import {
  CALIBRATION_METHODS,
  type CalibrationMethod,
  type Calibrator,
  calibratorToJson,
  checkCalibratorClasses,
  readCalibrator,
} from "./metrics/calibrators/index.ts";
import { type CalibrationReports, calibrationReports } from "./metrics/calibration_split.ts";
import { describeTta, type TtaPlan, ttaPlan, type TtaSpec } from "./data/tta.ts";
import { type TtaReport, TtaRunner } from "./tta.ts";
import { orderFlips } from "./report/tta_section.ts";
import { readRealLabels, realLabelAccuracy, type RealLabelsResult } from "./metrics/real_labels.ts";

/** A shard of an evaluation: this process evaluates part `index` (0-based) of `count`. */
export interface Shard {
  /** Which part, 0..count-1. */
  index: number;
  /** Number of parts. */
  count: number;
}

/** Options of {@link evaluate}. */
export interface EvaluateOptions {
  /** Model folder / .safetensors file, or a loaded model. */
  model: string | ClassifierModel;
  /**
   * Dataset: ImageFolder, labels CSV, CIFAR binary batch(es), an image, a glob, Hugging Face
   * parquet file(s) / folder, or WebDataset tar shards (several: an array).
   */
  data: string | string[];
  /**
   * Labels CSV listing the images (paths relative to it), or an ImageNet-style
   * ground-truth file for the image folder `data` (Kaggle LOC_val_solution.csv,
   * `name label` text, devkit ILSVRC2012_validation_ground_truth.txt).
   */
  labels?: string;
  /**
   * The devkit's meta.mat (or a text file of WordNet ids in ILSVRC2012_ID
   * order): maps the devkit ground truth's ids (default: meta.mat beside it).
   */
  synsets?: string;
  /** The ImageNet devkit folder: its meta.mat and (default `labels`) its ground truth. */
  devkit?: string;
  /** Parquet: the split of a dataset folder (`test`, `validation`). */
  split?: string;
  /** Parquet: the image column (default: the Image feature / only binary column). */
  imageColumn?: string;
  /** Parquet: the label column (default: the ClassLabel / only integer column). */
  labelColumn?: string;
  /** WebDataset: the json field holding the label (default "label"). */
  labelField?: string;
  /** ReaL labels (`real.json`): ReaL top-1/top-5 reported beside top-1. */
  realLabels?: string;
  /** Images per batch (default 32; an integer ≥ 1, else a UsageError). */
  batch?: number;
  /** Evaluate only the first N images (before sharding; an integer ≥ 1, else a UsageError). */
  limit?: number;
  /** Equal-width calibration bins (default 15). */
  bins?: number;
  /** k of top-k accuracy and of the predictions' top-k column (1..10, default 5). */
  topk?: number;
  /** Evaluate only this shard; its state merges with the others' (`merge`). */
  shard?: Shard;
  /** Output folder: metrics.json, predictions.csv, state.safetensors, report.html. */
  out?: string;
  /** Write report.html (default true when `out` is given). */
  report?: boolean;
  /** Loader workers (default min(2, cores)). */
  workers?: number;
  /** Overrides of the model's preprocessing pipeline. */
  preprocess?: PreprocessOverrides;
  /** How dataset classes map to model classes (default "auto": by name when both have names). */
  mapBy?: "auto" | "name" | "index";
  /** Explicit class mapping file (JSON or CSV, dataset -> model class). */
  mappingFile?: string;
  /** Restrict predictions to the dataset's classes (e.g. an ImageNet model on 10 classes). */
  restrict?: boolean;
  /** Exact AUROC/AUPRC from per-sample scores (default: when n*C <= 2^25). */
  exact?: boolean;
  /** Fit temperature scaling (default: when n*C <= 2^25, logits kept on the host). */
  temperature?: boolean;
  /**
   * Fit every calibration method on this fraction of each class (seeded by
   * `seed`) and report each one's metrics on the rest (metrics.json
   * `calibration_split`); keeps the logits on the host.
   */
  calibrationSplit?: number;
  /** Methods of `calibrationSplit` (default all). */
  calibrationMethods?: CalibrationMethod[];
  /** A calibrator file (`visioneval calibrate`) to apply: metrics.json `calibrated`. */
  calibrator?: string;
  /** Bootstrap replicates for intervals of top-1, macro-F1 and ECE (default 200; 0 = off). */
  bootstrap?: number;
  /** Seed of the bootstrap, the embedding projection and the calibration split (default 0). */
  seed?: number;
  /** Explanation maps for the N most confident mistakes in the report (default 0). */
  explain?: number;
  /** Embedding projection in the report. */
  embed?: "pca" | "umap" | "tsne";
  /** Mistakes shown in the report gallery (default 24). */
  gallery?: number;
  /** Show a progress line on stderr (default true). */
  progress?: boolean;
  /** GPU engine (default: the one a given model was loaded on, else a new one). */
  engine?: Engine;
  /** Test-time augmentation: metrics with it are reported beside those without (`tta`). */
  tta?: TtaSpec;
  /**
   * Where the batches come from (default {@link loadBatches}); `compare`
   * passes a shared loader so models with the same pipeline read one pass.
   */
  batches?: (items: DatasetItem[], opts: LoaderOptions) => AsyncIterable<Batch>;
}

/** The metrics.json object of an evaluation: the metrics plus the run. */
export interface EvaluationMetrics extends MetricsReport, CalibrationReports {
  /** ReaL top-1 / top-5 when ReaL labels were given. */
  real?: RealLabelsResult;
  /** Images that were skipped, with the reason. */
  failed: FailedItem[];
  /** What ran, on what, how long it took. */
  run: RunMetadata;
  /** With `tta`: the metrics with test-time augmentation and what it changed. */
  tta?: TtaReport;
}

/** Run metadata written into metrics.json and the report. */
export interface RunMetadata {
  /** visioneval version. */
  version: string;
  /** Model path. */
  model: string;
  /** Architecture family. */
  architecture: string;
  /** What loading inferred or assumed about the checkpoint, with the evidence. */
  model_notes: string[];
  /** Dataset path(s). */
  data: string | string[];
  /** How the dataset was read. */
  dataset: string;
  /** How dataset classes were mapped to model classes. */
  label_mapping: string;
  /** Model classes predictions were restricted to, or null. */
  class_subset: number[] | null;
  /** The preprocessing pipeline, in one line. */
  preprocessing: string;
  /** GPU adapter description. */
  adapter: string;
  /** Kernel path: "software" (CPU adapters) or "gpu" (see src/gpu/kernel_path.ts). */
  kernels: string;
  /** Storage of linear weights on the GPU: "f32", or "f16" (`--weights f16`). */
  weights: string;
  /** Batch size. */
  batch: number;
  /** Shard, when sharded. */
  shard: Shard | null;
  /** Wall-clock seconds per phase. */
  timings: { load_model_s: number; evaluate_s: number; finish_s: number; total_s: number };
  /** Images per second over the evaluation loop. */
  images_per_second: number;
  /** When the run started (ISO 8601). */
  started: string;
}

/** Everything an evaluation produced. */
export interface EvaluationResult {
  /** The metrics.json object. */
  metrics: EvaluationMetrics;
  /** One row per evaluated image, in dataset order (model label space). */
  predictions: PredictionRow[];
  /** The mergeable metric state. */
  snapshot: MetricSnapshot;
  /** Class names of the model (label space of `predictions`). */
  classNames: string[];
  /** Files written (when `out` was given). */
  files: string[];
}

/** Rows of top-k results a single GPU buffer holds before a new one is started. */
const TOPK_CHUNK_ROWS = 65536;
const EXACT_LIMIT = 2 ** 25;

/** Top-k indices and probabilities of `rows` consecutive samples, on the GPU. */
interface TopKRows {
  indices: Tensor;
  probs: Tensor;
  rows: number;
}

/** Per-sample top-k results accumulated on the GPU (chunks of preallocated buffers). */
export class TopKStore {
  /** Consolidated chunks, then the per-batch results since the last consolidation (row order). */
  #chunks: TopKRows[] = [];
  #pending: TopKRows[] = [];
  #pendingRows = 0;
  /** A store for k results per row; per-batch results are consolidated every `chunkRows` rows. */
  constructor(
    readonly engine: Engine,
    readonly k: number,
    readonly chunkRows: number = TOPK_CHUNK_ROWS,
  ) {}

  /** Records the top-k of `logits` [B, C] into the store (no readback). */
  add(logits: Tensor): void {
    const rows = logits.shape[0];
    const tk = topkOp(this.engine, logits, this.k);
    this.#pending.push({ indices: tk.indices, probs: tk.probs, rows });
    this.#pendingRows += rows;
    // Copy per-batch results into one chunk buffer now and then to bound the buffer count.
    if (this.#pending.length >= 2 && this.#pendingRows >= this.chunkRows) this.#compact();
  }

  #compact(): void {
    const rows = this.#pendingRows;
    const indices = this.engine.empty([rows, this.k], "u32", "topk.chunk");
    const probs = this.engine.empty([rows, this.k], "f32", "topk.chunk");
    let off = 0;
    for (const c of this.#pending) {
      this.engine.copy(c.indices, indices, c.indices.byteLength, 0, off * this.k * 4);
      this.engine.copy(c.probs, probs, c.probs.byteLength, 0, off * this.k * 4);
      off += c.rows;
      c.indices.release();
      c.probs.release();
    }
    this.#chunks.push({ indices, probs, rows });
    this.#pending = [];
    this.#pendingRows = 0;
  }

  /** Frees the GPU buffers without reading them (a run that failed). */
  release(): void {
    for (const c of [...this.#chunks, ...this.#pending]) {
      c.indices.release();
      c.probs.release();
    }
    this.#chunks = [];
    this.#pending = [];
    this.#pendingRows = 0;
  }

  /** Reads everything back once: indices and probabilities, [n * k] each. */
  async read(): Promise<{ indices: Uint32Array; probs: Float32Array }> {
    const all = [...this.#chunks, ...this.#pending];
    const tensors = all.flatMap((c) => [c.indices, c.probs]);
    const arrays = tensors.length ? await this.engine.read(...tensors) : [];
    const n = all.reduce((s, c) => s + c.rows, 0);
    const indices = new Uint32Array(n * this.k);
    const probs = new Float32Array(n * this.k);
    let off = 0;
    all.forEach((c, i) => {
      indices.set(arrays[2 * i] as Uint32Array, off);
      probs.set(arrays[2 * i + 1] as Float32Array, off);
      off += c.rows * this.k;
    });
    for (const t of tensors) t.release();
    this.#chunks = [];
    this.#pending = [];
    this.#pendingRows = 0;
    return { indices, probs };
  }
}

/**
 * Names to show for the model's classes: the model's own, or, where it has
 * only placeholders (HF `LABEL_3`), the dataset's names of the classes mapped
 * onto them; the index where neither has one.
 */
export function displayNames(
  model: ModelClasses,
  datasetClasses: readonly string[],
  datasetToModel: Int32Array,
): string[] {
  const names = model.named ? [...model.names] : new Array<string>(model.count).fill("");
  datasetClasses.forEach((name, j) => {
    const c = datasetToModel[j];
    if (name && c >= 0 && !names[c]) names[c] = name;
  });
  return Array.from({ length: model.count }, (_, i) => names[i] || String(i));
}

/** Items of shard `index` of `count` (contiguous ranges, sizes differ by at most one). */
export function shardRange(n: number, shard?: Shard): [number, number] {
  if (!shard) return [0, n];
  const { index, count } = shard;
  if (
    !Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count
  ) {
    throw new UsageError(`invalid shard ${index}/${count}: need 0 <= i < n`);
  }
  return [Math.floor((index * n) / count), Math.floor(((index + 1) * n) / count)];
}

/**
 * Items of shard `index` of `count` for items stored in several files (tar
 * shards): whole files per shard when there are at least as many files as
 * shards (each process then reads only its own files), else as
 * {@link shardRange}.
 */
export function shardRangeByFile(
  items: readonly DatasetItem[],
  shard?: Shard,
): [number, number] {
  const n = items.length;
  if (!shard) return [0, n];
  const starts: number[] = [];
  items.forEach((it, i) => {
    if (i === 0 || it.slice?.file !== items[i - 1].slice?.file) starts.push(i);
  });
  if (starts.length < shard.count) return shardRange(n, shard);
  const [a, b] = shardRange(starts.length, shard);
  return [starts[a], b < starts.length ? starts[b] : n];
}

/** SHA-256 of a model's weights file, or null when it cannot be found or read. */
function weightsDigest(model: string): Promise<string | null> {
  try {
    return sha256File(findModelFiles(model).weights).catch(() => null);
  } catch {
    return Promise.resolve(null);
  }
}

/** The names `eval` owns in its output folder (replaced together, see report/output_dir.ts). */
export const EVAL_OUTPUTS: readonly string[] = [
  "metrics.json",
  "predictions.csv",
  "state.safetensors",
  "report.html",
];

/**
 * Evaluates a classifier on a labelled dataset and returns (and, with
 * `out`, writes) the metrics, predictions, metric state and report.
 *
 * The steps: open the data, map its classes to the model's, run the
 * batches, finish the metrics, write the outputs. With `out`, the output
 * folder is checked (and its staging folder made) before the model loads,
 * and the files appear there together at the end or not at all (see
 * `src/report/output_dir.ts`). A model loaded here from a path is released
 * here, whatever happens.
 */
export async function evaluate(opts: EvaluateOptions): Promise<EvaluationResult> {
  const t0 = performance.now();
  const started = new Date().toISOString();
  // Everything a user can get wrong is checked before any GPU work.
  const batchSize = integerOption(opts.batch, "batch", 1, 2 ** 20) ?? 32;
  integerOption(opts.limit, "limit", 1, Number.MAX_SAFE_INTEGER);
  integerOption(opts.topk, "topk", 1, TOPK_MAX);
  if (opts.tta && opts.embed) {
    throw new UsageError(
      "--embed and --tta cannot be combined yet; run the embedding without --tta",
    );
  }
  const dataset = await openEvaluationData(opts);
  const calibrator = opts.calibrator ? await readCalibrator(opts.calibrator) : undefined;
  const staged = opts.out ? await StagedOutput.open(opts.out, EVAL_OUTPUTS) : undefined;
  let model: ClassifierModel | undefined;
  try {
    const engine = opts.engine ??
      (typeof opts.model === "string" ? undefined : opts.model.engine) ??
      await Engine.create();
    model = typeof opts.model === "string" ? await loadModel(opts.model, engine) : opts.model;
    requireSoftmaxClassifier(model);
    const tModel = performance.now();
    // The state records the weights' hash (merge checks it); hashed while the batches run.
    const weightsSha256 = weightsDigest(typeof opts.model === "string" ? opts.model : model.path);
    const plan = mapClasses(dataset, model, opts);
    if (calibrator) checkCalibratorClasses(calibrator, plan.numClasses, opts.calibrator!);
    const run = await runBatches(engine, model, plan, { ...opts, batch: batchSize });
    const result = await finishEvaluation(engine, model, dataset, plan, run, {
      ...opts,
      calibratorFile: calibrator && { calibrator, file: opts.calibrator! },
      batch: batchSize,
      times: { t0, tModel, started },
      weightsSha256,
    });
    if (staged) {
      result.files = await writeEvaluation(result, staged, {
        report: opts.report ?? true,
        engine,
        model,
        pipeline: plan.pipeline,
        items: plan.items,
        subset: plan.mapping.modelSubset,
        explain: opts.explain ?? 0,
        embed: opts.embed,
        features: await run.features?.finish(),
        gallery: opts.gallery ?? 24,
        seed: opts.seed ?? 0,
        batch: batchSize,
      });
    }
    return result;
  } finally {
    await staged?.discard();
    if (typeof opts.model === "string") model?.dispose();
  }
}

/** Step 1: the dataset, which must have labels. */
async function openEvaluationData(opts: EvaluateOptions): Promise<Dataset> {
  const dataset = await loadDataset(opts.data, {
    labels: opts.labels,
    limit: opts.limit,
    synsets: opts.synsets,
    devkit: opts.devkit,
    split: opts.split,
    imageColumn: opts.imageColumn,
    labelColumn: opts.labelColumn,
    labelField: opts.labelField,
  });
  if (opts.realLabels) readRealLabels(opts.realLabels); // a bad file fails before the run
  if (dataset.labelKind === "none") {
    throw new DataError(
      `${dataset.description}: no labels found, so there is nothing to evaluate against. ` +
        `Use an ImageFolder layout, --labels CSV, or \`visioneval predict\` for unlabelled images.`,
    );
  }
  return dataset;
}

/** What {@link mapClasses} decided: the items to run, their labels, the pipeline. */
interface ClassPlan {
  /** Model classes of the dataset's classes. */
  classes: ModelClasses;
  mapping: LabelMapping;
  /** This shard's items, labels in model classes. */
  items: DatasetItem[];
  /** The whole dataset's items after the class mapping (all shards). */
  mappedItems: DatasetItem[];
  /** Index of this shard's first item in the whole (mapped) dataset. */
  start: number;
  /** Entries left out before the run (scan skips, classes the model lacks). */
  failed: FailedItem[];
  pipeline: PreprocessConfig;
  /** Metric label per model class (-1: outside the restricted subset). */
  toMetricLabel: Int32Array;
  /** Number of classes the metrics count. */
  numClasses: number;
}

/**
 * Step 2: dataset classes -> model classes, the shard, and the pipeline;
 * prints the model notes and every warning before the run.
 */
function mapClasses(dataset: Dataset, model: ClassifierModel, opts: EvaluateOptions): ClassPlan {
  const classes = modelClasses(model);
  const mapping = mapLabels(dataset, classes, {
    by: opts.mapBy,
    mappingFile: opts.mappingFile,
    restrict: opts.restrict,
  });
  const mapped = applyLabelMapping(dataset.items, mapping, dataset);
  const [start, end] = dataset.kind === "webdataset"
    ? shardRangeByFile(mapped.items, opts.shard)
    : shardRange(mapped.items.length, opts.shard);
  const items: DatasetItem[] = mapped.items.slice(start, end);
  // Scan skips are listed once, by the first shard.
  const skipped = start === 0 ? dataset.skipped ?? [] : [];
  const failed: FailedItem[] = [
    ...skipped.map((d) => ({ path: d.path, reason: d.reason })),
    ...mapped.dropped.map((d) => ({ path: d.path, reason: d.reason })),
  ];
  if (items.length === 0 && opts.shard && mapped.items.length > 0) {
    // More shards than images: this shard's state is empty and still merges.
    console.error(
      `visioneval: warning: shard ${opts.shard.index}/${opts.shard.count} of ` +
        `${mapped.items.length} images is empty; writing an empty state`,
    );
  } else if (items.length === 0) {
    throw new DataError(
      `${dataset.description}: no images left to evaluate${
        opts.shard ? ` in shard ${opts.shard.index}/${opts.shard.count}` : ""
      }${mapped.dropped.length ? ` (${mapped.dropped.length} dropped by the class mapping)` : ""}`,
    );
  }
  if (opts.realLabels && model.numClasses !== 1000) {
    throw new DataError(
      `--real-labels ${opts.realLabels}: ReaL labels are ImageNet-1k class indices, but the ` +
        `model has ${model.numClasses} classes`,
    );
  }
  const pipeline = modelPipeline(model, opts.preprocess);
  for (const n of model.notes ?? []) console.error(`visioneval: model: ${n}`);
  for (const n of dataset.notes ?? []) console.error(`visioneval: data: ${n}`);
  for (
    const w of [
      ...dataset.warnings,
      ...mapping.warnings,
      ...pipeline.warnings,
      ...inputSizeWarnings(model, pipeline),
    ]
  ) {
    console.error(`visioneval: warning: ${w}`);
  }
  if (skipped.length) {
    console.error(
      `visioneval: warning: ${skipped.length} entr${skipped.length === 1 ? "y" : "ies"} of ` +
        `the dataset skipped (listed in failed); first: ${skipped[0].path}: ${skipped[0].reason}`,
    );
  }
  // Metric label space: all model classes, or the restricted subset in its order.
  const subset = mapping.modelSubset;
  const numClasses = subset ? subset.length : model.numClasses;
  const toMetricLabel = new Int32Array(model.numClasses).fill(-1);
  if (subset) subset.forEach((c, j) => (toMetricLabel[c] = j));
  else toMetricLabel.forEach((_, c) => (toMetricLabel[c] = c));
  return {
    classes,
    mapping,
    items,
    mappedItems: mapped.items,
    start,
    failed,
    pipeline,
    toMetricLabel,
    numClasses,
  };
}

/** What {@link runBatches} leaves on the GPU and in memory for the finish. */
interface BatchRun {
  state: MetricState;
  store: TopKStore;
  features?: FeatureCollector;
  /** Images evaluated, in order, labels in model classes. */
  evaluated: { path: string; label: number }[];
  /** Index in the whole dataset of each item path. */
  globalIndex: Map<string, number>;
  /** Images skipped before and during the run. */
  failed: FailedItem[];
  /** Whether the state keeps the logits (temperature scaling). */
  fitT: boolean;
  /** The test-time-augmentation side, when asked for. */
  tta?: TtaRunner;
  tLoop: number;
  tFinish: number;
}

/** Step 3: every batch through the model into the GPU metric state and top-k store. */
async function runBatches(
  engine: Engine,
  model: ClassifierModel,
  plan: ClassPlan,
  opts: EvaluateOptions & { batch: number },
): Promise<BatchRun> {
  const { items, start, numClasses, toMetricLabel } = plan;
  const subset = plan.mapping.modelSubset;
  const k = Math.min(opts.topk ?? 5, TOPK_MAX);
  const globalIndex = new Map<string, number>();
  items.forEach((it, i) => globalIndex.set(it.path, start + i));
  const nTotal = items.length;
  const bigExact = nTotal * numClasses <= EXACT_LIMIT;
  const fitT = opts.temperature ?? bigExact;
  const keepScores = opts.exact ?? bigExact;
  const state = MetricState.create(engine, {
    numClasses,
    calibrationBins: opts.bins ?? 15,
    keepScores,
    // Calibration on a split or with a calibrator works from the logits too, and
    // exact AUROC / AP rank float64 probabilities computed from them.
    keepLogits: fitT || keepScores || opts.calibrationSplit !== undefined ||
      opts.calibrator !== undefined,
    sampleOffset: start,
  });
  const store = new TopKStore(engine, Math.min(k, numClasses));
  const ttaSide = opts.tta ? ttaSetup(engine, plan, opts.tta, store.k, bigExact, opts) : undefined;
  // Embedding features come from the same forward passes (no second pass).
  const features = opts.embed && opts.out ? new FeatureCollector(engine) : undefined;
  const subsetTensor = subset
    ? engine.upload(Uint32Array.from(subset), [subset.length], "class-subset", true)
    : undefined;
  const evaluated: { path: string; label: number }[] = [];
  const failed = [...plan.failed];
  const progress = opts.progress === false
    ? undefined
    : new ProgressDisplay({ total: nTotal, label: "eval" });
  let done = 0;
  const tLoop = performance.now();
  try {
    for await (
      const batch of (opts.batches ?? loadBatches)(items, {
        preprocess: plan.pipeline,
        batchSize: opts.batch,
        workers: opts.workers ?? defaultWorkerCount(),
        tta: ttaSide?.plan.groups,
      })
    ) {
      failed.push(...batch.failed);
      done += batch.items.length + batch.failed.length;
      const b = batch.items.length;
      if (b > 0) {
        const labels = Int32Array.from(batch.items, (it) => toMetricLabel[it.label!]);
        const indices = batch.items.map((it) => globalIndex.get(it.path)!);
        let out: { logits: Tensor; features?: Tensor };
        if (ttaSide) {
          // The views of the batch; the plain view's scores come back for this state.
          out = { logits: ttaSide.runner.update(model, batch, subsetTensor, labels, indices) };
        } else {
          const pixels = engine.upload(batch.pixels, batch.shape, "pixels");
          out = model.forward(engine, pixels, { features: Boolean(features) });
          pixels.release();
        }
        const logits = out.logits;
        const scores = subsetTensor && !ttaSide
          ? gatherColumns(engine, logits, subsetTensor)
          : logits;
        state.update(scores, labels, { indices });
        store.add(scores);
        if (features && out.features) {
          // metric label space (the class subset when restricted), like the rest of the report
          features.add(out.features, scores, labels, batch.items.map((it) => it.path));
          out.features.release();
        }
        if (scores !== logits) scores.release();
        logits.release();
        engine.submit();
        // GPU kernel path: time the tilings of the shapes this batch met (once per shape).
        await engine.tuneKernels();
        for (const it of batch.items) evaluated.push({ path: it.path, label: it.label! });
      }
      progress?.update(done, failed.length);
    }
    progress?.finish();
  } catch (e) {
    state.release();
    store.release();
    ttaSide?.runner.release();
    throw e;
  } finally {
    subsetTensor?.release();
  }
  if (evaluated.length === 0 && nTotal > 0) {
    state.release();
    store.release();
    ttaSide?.runner.release();
    const first = failed[plan.failed.length] ?? failed[0];
    throw new DataError(
      `none of the ${nTotal} images could be read (first failure: ${first?.path}: ${first?.reason})`,
    );
  }
  return {
    state,
    store,
    features,
    evaluated,
    globalIndex,
    failed,
    fitT,
    tta: ttaSide?.runner,
    tLoop,
    tFinish: performance.now(),
  };
}

/** The TTA plan of the evaluation's pipeline and its runner (own state, own top-k store). */
function ttaSetup(
  engine: Engine,
  plan: ClassPlan,
  spec: TtaSpec,
  k: number,
  bigExact: boolean,
  opts: EvaluateOptions,
): { plan: TtaPlan; runner: TtaRunner } {
  const tta = ttaPlan(plan.pipeline, spec);
  for (const w of tta.warnings) console.error(`visioneval: warning: ${w}`);
  const runner = new TtaRunner(engine, tta, new TopKStore(engine, k), {
    numClasses: plan.numClasses,
    calibrationBins: opts.bins ?? 15,
    keepScores: opts.exact ?? bigExact,
    sampleOffset: plan.start,
  });
  return { plan: tta, runner };
}

/** Step 4: one readback, the metrics in float64, the predictions and the run metadata. */
async function finishEvaluation(
  engine: Engine,
  model: ClassifierModel,
  dataset: Dataset,
  plan: ClassPlan,
  run: BatchRun,
  opts: EvaluateOptions & {
    batch: number;
    times: { t0: number; tModel: number; started: string };
    weightsSha256: Promise<string | null>;
    calibratorFile?: { calibrator: Calibrator; file: string };
  },
): Promise<EvaluationResult> {
  const { state, store, evaluated, tLoop, tFinish } = run;
  const subset = plan.mapping.modelSubset;
  let snapshot: MetricSnapshot;
  let top: { indices: Uint32Array; probs: Float32Array };
  try {
    snapshot = await state.snapshot().catch((e) => {
      if (!(e instanceof NonFiniteValuesError)) throw e;
      // Name the image: the state counts rows in the order they were recorded.
      throw new NonFiniteValuesError(
        `${e.count} of ${evaluated.length} images gave NaN or infinite logits (first: ` +
          `${evaluated[e.firstRow]?.path}): no metrics are reported from them. Check the ` +
          `weights and the preprocessing (--mean / --std).`,
        e.count,
        e.firstRow,
        e.firstIndex,
      );
    });
    top = await store.read();
  } catch (e) {
    run.tta?.release();
    throw e;
  } finally {
    state.release();
    store.release();
  }
  const k = Math.min(opts.topk ?? 5, TOPK_MAX);
  const report = computeMetrics(snapshot, {
    topk: k,
    bootstrap: opts.bootstrap ?? 200,
    seed: opts.seed ?? 0,
    temperatureScaling: run.fitT && snapshot.numSamples > 0,
  });
  const kk = store.k;
  const toModel = (j: number) => (subset ? subset[j] : j);
  const predictions: PredictionRow[] = evaluated.map((e, i) => ({
    path: e.path,
    label: e.label,
    pred: toModel(top.indices[i * kk]),
    confidence: top.probs[i * kk],
    top5: Array.from(top.indices.subarray(i * kk, (i + 1) * kk), toModel),
  }));
  // ReaL labels are ImageNet-1k indices: scored in the model's own label space.
  const real = opts.realLabels
    ? realLabelAccuracy(predictions, readRealLabels(opts.realLabels), opts.realLabels)
    : undefined;
  const tEnd = performance.now();
  const loopS = (tFinish - tLoop) / 1000;
  const { t0, tModel, started } = opts.times;
  const metrics: EvaluationMetrics = {
    ...report,
    ...shardCalibration(
      opts.calibrationSplit,
      opts.shard,
      (split) =>
        calibrationReports(snapshot.logits, snapshot.samples?.label ?? [], snapshot.numClasses, {
          split,
          methods: opts.calibrationMethods,
          seed: opts.seed,
          bins: snapshot.calibrationBins,
          calibrator: opts.calibratorFile,
        }),
    ),
    ...(real ? { real } : {}),
    failed: run.failed,
    run: {
      version: VERSION,
      model: model.path,
      architecture: model.architecture,
      model_notes: [...(model.notes ?? [])],
      data: opts.data,
      dataset: dataset.description,
      label_mapping: plan.mapping.description,
      class_subset: subset,
      preprocessing: describePipeline(plan.pipeline),
      adapter: engine.gpu.info.description,
      kernels: engine.kernels.name,
      weights: engine.weights,
      batch: opts.batch,
      shard: opts.shard ?? null,
      timings: {
        load_model_s: (tModel - t0) / 1000,
        evaluate_s: loopS,
        finish_s: (tEnd - tFinish) / 1000,
        total_s: (tEnd - t0) / 1000,
      },
      images_per_second: evaluated.length / Math.max(loopS, 1e-9),
      started,
    },
  };
  if (run.tta) {
    metrics.tta = await run.tta.finish({ metrics, predictions }, toModel, {
      topk: k,
      bootstrap: opts.bootstrap ?? 200,
      seed: opts.seed ?? 0,
    });
  }
  const classNames = displayNames(plan.classes, dataset.classes, plan.mapping.datasetToModel);
  snapshot.provenance = {
    command: "eval",
    model: {
      path: model.path,
      architecture: model.architecture,
      weightsSha256: await opts.weightsSha256,
    },
    dataset: {
      path: opts.data,
      items: plan.mappedItems.length,
      itemsSha256: itemsSha256(plan.mappedItems),
    },
    classNames: subset ? subset.map((c) => classNames[c]) : classNames,
    pipeline: describePipeline(plan.pipeline),
    shard: opts.shard ?? null,
    samples: indexRanges(evaluated.map((e) => run.globalIndex.get(e.path)!)),
    failed: run.failed,
    analyses: stateAnalyses(opts, snapshot.calibrationBins),
  };
  return { metrics, predictions, snapshot, classNames, files: [] };
}

/**
 * The calibration entries; a shard whose own part is too small for the split
 * (a class with one image goes wholly to the fitting side) reports it
 * without the split and says so: `merge` computes the split over every shard.
 */
function shardCalibration(
  split: number | undefined,
  shard: Shard | undefined,
  compute: (split: number | undefined) => CalibrationReports,
): CalibrationReports {
  try {
    return compute(split);
  } catch (e) {
    if (!shard || split === undefined || !(e instanceof MetricsInputError)) throw e;
    console.error(
      `visioneval: warning: shard ${shard.index}/${shard.count}: no calibration split of its ` +
        `own (${e.message}); merge computes it over every shard`,
    );
    return compute(undefined);
  }
}

/** The analyses beside the metrics that a state records for `merge` (none: undefined). */
function stateAnalyses(
  opts: EvaluateOptions & { calibratorFile?: { calibrator: Calibrator; file: string } },
  bins: number,
): StateAnalyses | undefined {
  const a: StateAnalyses = {};
  if (opts.calibrationSplit !== undefined) {
    a.calibrationSplit = {
      fraction: opts.calibrationSplit,
      seed: opts.seed ?? 0,
      methods: [...(opts.calibrationMethods ?? CALIBRATION_METHODS)],
      bins,
    };
  }
  if (opts.calibratorFile) {
    const { calibrator, file } = opts.calibratorFile;
    a.calibrator = { file, json: calibratorToJson(calibrator) };
  }
  if (opts.tta) a.tta = describeTta(opts.tta);
  return Object.keys(a).length ? a : undefined;
}

interface WriteContext {
  report: boolean;
  engine: Engine;
  model: ClassifierModel;
  pipeline: PreprocessConfig;
  items: DatasetItem[];
  subset: number[] | null;
  explain: number;
  embed?: "pca" | "umap" | "tsne";
  features?: FeatureSet;
  gallery: number;
  seed: number;
  batch: number;
}

/**
 * Step 5: metrics.json, predictions.csv, state.safetensors and report.html,
 * written into the staging folder and moved into place together.
 */
async function writeEvaluation(
  r: EvaluationResult,
  out: StagedOutput,
  ctx: WriteContext,
): Promise<string[]> {
  await writeJson(out.path("metrics.json"), r.metrics);
  await writePredictionsCsv(out.path("predictions.csv"), r.predictions, r.classNames);
  await saveSnapshot(out.path("state.safetensors"), r.snapshot);
  if (ctx.report) await writeHtmlReport(out.path("report.html"), await reportInput(r, ctx));
  return await out.commit("metrics.json");
}

/** Decodes an item's image (a file, a CIFAR record, a tar member or a parquet row). */
function itemImage(item: DatasetItem): Promise<RgbImage> {
  return readItemImage(item);
}

/** A thumbnail no larger than `max` pixels on its longer side. */
export function thumbnail(img: RgbImage, max = 128): RgbImage {
  const s = Math.min(1, max / Math.max(img.width, img.height));
  if (s === 1 && img.width >= 48) return img;
  // Small images (CIFAR) are enlarged so they can be seen.
  const scale = img.width < 48 ? 96 / Math.max(img.width, img.height) : s;
  const w = Math.max(1, Math.round(img.width * scale));
  const h = Math.max(1, Math.round(img.height * scale));
  return resize(img, w, h, img.width < 48 ? "nearest" : "bilinear");
}

/** Everything the HTML report shows, computed from the evaluation. */
async function reportInput(r: EvaluationResult, ctx: WriteContext): Promise<ReportInput> {
  const m = r.metrics;
  const s = r.snapshot;
  const metricNames = ctx.subset ? ctx.subset.map((c) => r.classNames[c]) : r.classNames;

  const confidenceHistograms = confidenceHistogramsFromSnapshot(s);
  const curves = worstClassCurves(s, 5, m.auroc.per_class);

  // The most confident mistakes (model label space for display).
  const byPath = new Map(ctx.items.map((it) => [it.path, it]));
  const wrong = r.predictions
    .filter((p) => p.label !== p.pred)
    .sort((a, b) => b.confidence - a.confidence);
  const mistakes: MistakeExample[] = [];
  for (const p of wrong.slice(0, ctx.gallery)) {
    const item = byPath.get(p.path)!;
    let thumb: RgbImage | undefined;
    try {
      thumb = thumbnail(await itemImage(item));
    } catch {
      thumb = undefined;
    }
    mistakes.push({
      path: p.path,
      label: p.label as number,
      pred: p.pred,
      confidence: p.confidence,
      thumbnail: thumb,
    });
  }

  let explanations: ExplanationExample[] | undefined;
  // An asked-for section the data cannot fill is said, not silently left out.
  if (ctx.explain > 0 && !wrong.length) {
    console.error(`visioneval: note: --explain ${ctx.explain}: no image is misclassified, no maps`);
  }
  if (ctx.explain > 0 && wrong.length) {
    const { explainImages } = await import("./explain/explain.ts");
    const chosen = wrong.slice(0, ctx.explain);
    const sources = await Promise.all(chosen.map(async (p) => {
      const item = byPath.get(p.path)!;
      return isRecordItem(item) ? { path: p.path, image: await itemImage(item) } : p.path;
    }));
    const ex = await explainImages(ctx.engine, ctx.model, sources, {
      pipeline: ctx.pipeline,
      batchSize: Math.min(ctx.batch, 16),
      // The reported prediction (model classes): with --restrict it can differ
      // from the model's argmax over all its classes, which the map would show.
      classes: chosen.map((p) => p.pred),
    });
    explanations = ex.map((e, i) => ({
      path: chosen[i].path,
      method: e.method,
      class: e.class,
      overlay: e.originalOverlayPng ?? e.inputOverlayPng ?? e.inputOverlay,
      image: e.input,
      label: chosen[i].label as number,
      pred: chosen[i].pred,
      confidence: chosen[i].confidence,
    }));
  }

  let embedding: EmbeddingInput | undefined;
  if (ctx.embed && ctx.features && ctx.features.rows < 4) {
    console.error(
      `visioneval: warning: --embed ${ctx.embed}: an embedding needs at least 4 images, ` +
        `this run has ${ctx.features.rows}; none drawn`,
    );
  }
  if (ctx.embed && ctx.features && ctx.features.rows >= 4) {
    const projection = await projectEmbeddings(ctx.engine, ctx.features, {
      method: ctx.embed,
      seed: ctx.seed,
    });
    embedding = embeddingInput(ctx.features, projection);
  }

  // The images TTA changed, in the report's label space, with thumbnails.
  const toReport = (c: number) => (ctx.subset ? ctx.subset.indexOf(c) : c);
  const ttaFlips = m.tta
    ? await Promise.all(
      orderFlips(m.tta.flipped.images).slice(0, ctx.gallery).map(async (f) => ({
        ...f,
        label: toReport(f.label),
        before: toReport(f.before),
        after: toReport(f.after),
        thumbnail: await itemImage(byPath.get(f.path)!).then(thumbnail, () => undefined),
      })),
    )
    : undefined;
  const ts = m.temperature_scaling;
  return {
    ttaFlips,
    metrics: m,
    classNames: metricNames,
    title: `Evaluation of ${ctx.model.path}`,
    curves,
    confidenceHistograms,
    // Gallery indices are model classes; the report names them with the model's names.
    mistakes: mistakes.map((x) => ({
      ...x,
      label: ctx.subset ? ctx.subset.indexOf(x.label) : x.label,
      pred: ctx.subset ? ctx.subset.indexOf(x.pred) : x.pred,
    })),
    explanations: explanations?.map((x) => ({
      ...x,
      class: ctx.subset ? ctx.subset.indexOf(x.class) : x.class,
      label: ctx.subset && x.label !== undefined ? ctx.subset.indexOf(x.label) : x.label,
      pred: ctx.subset && x.pred !== undefined ? ctx.subset.indexOf(x.pred) : x.pred,
    })),
    embedding,
    calibration: ts
      ? {
        temperature: ts.temperature,
        before: {
          nll: ts.nll_before,
          ece: ts.ece_before,
          mce: ts.mce_before,
          reliability: ts.reliability_before,
        },
        after: {
          nll: ts.nll_after,
          ece: ts.ece_after,
          mce: ts.mce_after,
          reliability: ts.reliability_after,
        },
      }
      : undefined,
    meta: m.run as unknown as Record<string, unknown>,
  };
}
