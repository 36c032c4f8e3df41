/**
 * `compare`: two or more models on the same images. The inputs are eval
 * runs, either folders an earlier `eval` wrote (predictions.csv for the image
 * paths, state.safetensors for the per-image labels, predictions,
 * confidences and probabilities, metrics.json for the run) or evaluations
 * made here ({@link compareModelsOnData}). Runs are matched by image path;
 * different image sets, labels or classes are refused. The comparison itself
 * is src/metrics/compare.ts; this file gathers the records and writes
 * comparison.json and comparison.html (all-or-nothing, like eval).
 */
import { basename, join, resolve } from "node:path";
import { DataError, UsageError } from "./errors.ts";
import { parseCsv } from "./csv.ts";
import { readImage, type RgbImage } from "./data/decode.ts";
import { loadSnapshot } from "./metrics/state_file.ts";
import { calibrationBin, LOG_LOSS_EPS, type MetricSnapshot } from "./metrics/snapshot.ts";
import {
  compareModels,
  type CompareOptions,
  type Comparison,
  type ModelRecords,
} from "./metrics/compare.ts";
import { binnedCalibration, type ReliabilityBin } from "./metrics/calibration.ts";
import { evaluate, type EvaluateOptions, type EvaluationResult, thumbnail } from "./evaluate.ts";
import { StagedOutput } from "./report/output_dir.ts";
import { Engine } from "./gpu/engine.ts";
import { loadModel } from "./models/load.ts";
import type { ClassifierModel } from "./models/model.ts";
import { modelPipeline } from "./models/pipeline.ts";
import { pipelineKey, SharedBatches } from "./data/shared_batches.ts";
import { writeJson } from "./report/json.ts";
import { type ComparisonReportInput, writeComparisonHtml } from "./report/compare_html.ts";

/** One model's run: per-image records in the run's own order. */
export interface RunRecords {
  /** Name shown in tables (the run folder's or model's name). */
  name: string;
  /** Where it came from (a folder or a model path). */
  source: string;
  /** Image path per record. */
  paths: string[];
  /** True class per record (metric label space). */
  label: Int32Array;
  /** Predicted class per record. */
  pred: Int32Array;
  /** Confidence per record. */
  conf: Float64Array;
  /** Per-image log loss (scikit-learn clipping), or null without kept probabilities. */
  nll: Float64Array | null;
  /** Classes of the label space. */
  numClasses: number;
  /** Class names, or null when the state does not record them. */
  classNames: string[] | null;
  /** Calibration bins of the run. */
  bins: number;
}

/** Per-image log loss of each row of `scores` [n, C], scikit-learn's clipping and renormalisation. */
function perImageNll(scores: ArrayLike<number>, label: Int32Array, C: number): Float64Array {
  const clip = (p: number) => Math.min(Math.max(p, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS);
  return Float64Array.from(label, (y, i) => {
    let sum = 0;
    for (let c = 0; c < C; c++) sum += clip(scores[i * C + c]);
    return -Math.log(clip(scores[i * C + y]) / sum);
  });
}

/** Records of a run from its image paths (record order) and its metric state. */
export function runRecords(
  name: string,
  source: string,
  paths: string[],
  s: MetricSnapshot,
): RunRecords {
  if (!s.samples) {
    throw new DataError(
      `${source}: the metric state keeps no per-image records, so its images cannot be ` +
        `matched with another run's; rerun eval (it keeps them by default)`,
    );
  }
  if (s.samples.label.length !== paths.length) {
    throw new DataError(
      `${source}: predictions.csv lists ${paths.length} images but state.safetensors holds ` +
        `${s.samples.label.length}; the two files are not from the same run`,
    );
  }
  return {
    name,
    source,
    paths,
    label: s.samples.label,
    pred: s.samples.pred,
    conf: s.samples.conf,
    nll: s.scores ? perImageNll(s.scores, s.samples.label, s.numClasses) : null,
    numClasses: s.numClasses,
    classNames: s.provenance?.classNames ?? null,
    bins: s.calibrationBins,
  };
}

/** Reads an eval output folder (predictions.csv + state.safetensors). */
export async function loadRun(
  dir: string,
  name: string = basename(resolve(dir)),
): Promise<RunRecords> {
  const csvPath = join(dir, "predictions.csv");
  const statePath = join(dir, "state.safetensors");
  let text: string;
  try {
    text = await Deno.readTextFile(csvPath);
  } catch (e) {
    throw new DataError(
      `${dir}: cannot read predictions.csv (${(e as Error).message}); pass folders written by ` +
        `\`visioneval eval --out DIR\``,
    );
  }
  const rows = parseCsv(text);
  if (rows[0]?.[0] !== "path") {
    throw new DataError(`${csvPath}: not an eval predictions.csv (no "path" header)`);
  }
  return runRecords(name, dir, rows.slice(1).map((r) => r[0]), await loadSnapshot(statePath));
}

/** Records of an evaluation made in this process. */
export function evaluationRecords(name: string, r: EvaluationResult): RunRecords {
  return runRecords(name, r.metrics.run.model, r.predictions.map((p) => p.path), r.snapshot);
}

/** The runs matched by image path, in the first run's order. */
export interface MatchedRuns {
  /** Image paths. */
  paths: string[];
  /** True class per image. */
  label: Int32Array;
  /** Per model, its records in `paths` order. */
  models: ModelRecords[];
  /** Classes. */
  numClasses: number;
  /** Class names (the first run's, else indices). */
  classNames: string[];
}

function listSome(xs: string[]): string {
  return xs.slice(0, 3).join(", ") + (xs.length > 3 ? `, ... (${xs.length} in all)` : "");
}

/**
 * Matches runs image by image. Refused with a message naming the runs: a
 * different number of classes or different class names, images one run has
 * and another lacks, an image listed twice, or an image with different labels.
 */
export function matchRuns(runs: readonly RunRecords[]): MatchedRuns {
  if (runs.length < 2) throw new UsageError(`compare needs at least two runs, got ${runs.length}`);
  const first = runs[0];
  const names = new Set<string>();
  for (const r of runs) {
    if (names.has(r.name)) {
      throw new UsageError(`two runs are named "${r.name}"; give each model a distinct --name`);
    }
    names.add(r.name);
  }
  const index = new Map<string, number>();
  first.paths.forEach((p, i) => {
    if (index.has(p)) throw new DataError(`${first.source}: image ${p} is listed twice`);
    index.set(p, i);
  });
  const models: ModelRecords[] = [];
  for (const r of runs) {
    if (r.numClasses !== first.numClasses) {
      throw new DataError(
        `${r.source} has ${r.numClasses} classes and ${first.source} ${first.numClasses}: ` +
          `compare runs over the same classes (use the same dataset and --restrict choice)`,
      );
    }
    if (
      r.classNames && first.classNames && r.classNames.join("\n") !== first.classNames.join("\n")
    ) {
      const k = r.classNames.findIndex((n, i) => n !== first.classNames![i]);
      throw new DataError(
        `${r.source} and ${first.source} name class ${k} differently ("${r.classNames[k]}" vs ` +
          `"${first.classNames[k]}"): their labels mean different things`,
      );
    }
    const seen = new Set<string>();
    const missing = r.paths.filter((p) => !index.has(p));
    if (missing.length || r.paths.length !== first.paths.length) {
      const have = new Set(r.paths);
      const absent = first.paths.filter((p) => !have.has(p));
      throw new DataError(
        `${r.source} and ${first.source} were evaluated on different images` +
          (missing.length ? `; only in ${r.source}: ${listSome(missing)}` : "") +
          (absent.length ? `; only in ${first.source}: ${listSome(absent)}` : "") +
          `. Compare runs of the same dataset (same --data, --limit and shard).`,
      );
    }
    const pred = new Int32Array(r.paths.length), conf = new Float64Array(r.paths.length);
    const nll = r.nll ? new Float64Array(r.paths.length) : null;
    r.paths.forEach((p, i) => {
      if (seen.has(p)) throw new DataError(`${r.source}: image ${p} is listed twice`);
      seen.add(p);
      const j = index.get(p)!;
      if (r.label[i] !== first.label[j]) {
        throw new DataError(
          `${p} has label ${r.label[i]} in ${r.source} but ${first.label[j]} in ` +
            `${first.source}: the runs disagree on the labels (check --labels / --mapping)`,
        );
      }
      pred[j] = r.pred[i];
      conf[j] = r.conf[i];
      if (nll) nll[j] = r.nll![i];
    });
    models.push({ name: r.name, pred, conf, nll });
  }
  // Log loss is compared only when every run kept probabilities.
  if (models.some((m) => !m.nll)) { for (const m of models) m.nll = null; }
  return {
    paths: first.paths,
    label: first.label,
    models,
    numClasses: first.numClasses,
    classNames: first.classNames ??
      Array.from({ length: first.numClasses }, (_, k) => String(k)),
  };
}

/** The names `compare` owns in its output folder (replaced together). */
export const COMPARE_OUTPUTS: readonly string[] = ["comparison.json", "comparison.html"];

/** Options of {@link compareRuns}. */
export interface CompareRunsOptions extends CompareOptions {
  /** Output folder for comparison.json and comparison.html. */
  out?: string;
  /** Write comparison.html (default true with `out`). */
  report?: boolean;
  /** Images per gallery (default 12). */
  gallery?: number;
}

/** What {@link compareRuns} produced. */
export interface ComparisonResult {
  /** The comparison.json object. */
  comparison: Comparison & { runs: { name: string; source: string }[] };
  /** Files written. */
  files: string[];
}

/** Reliability table of a model's records (equal-width bins). */
function reliabilityOf(m: ModelRecords, label: Int32Array, bins: number): ReliabilityBin[] {
  const count = new Float64Array(bins), confSum = new Float64Array(bins);
  const correct = new Float64Array(bins);
  m.conf.forEach((c, i) => {
    const b = calibrationBin(c, bins);
    count[b]++;
    confSum[b] += c;
    if (m.pred[i] === label[i]) correct[b]++;
  });
  return binnedCalibration(count, confSum, correct).reliability;
}

async function tryThumbnail(path: string): Promise<RgbImage | undefined> {
  try {
    return thumbnail(await readImage(path));
  } catch {
    return undefined; // CIFAR records and moved images: the gallery shows the path only
  }
}

/** Compares matched runs and, with `out`, writes comparison.json and comparison.html. */
export async function compareRuns(
  runs: readonly RunRecords[],
  opts: CompareRunsOptions = {},
): Promise<ComparisonResult> {
  const staged = opts.out ? await StagedOutput.open(opts.out, COMPARE_OUTPUTS) : undefined;
  try {
    const matched = matchRuns(runs);
    const bins = opts.bins ?? runs[0].bins;
    const comparison = {
      ...compareModels(matched.models, matched.label, matched.numClasses, {
        ...opts,
        bins,
        classNames: matched.classNames,
      }),
      runs: runs.map((r) => ({ name: r.name, source: r.source })),
    };
    if (!staged) return { comparison, files: [] };
    await writeJson(staged.path("comparison.json"), comparison);
    if (opts.report ?? true) {
      await writeComparisonHtml(
        staged.path("comparison.html"),
        await reportInput(matched, comparison, {
          bins,
          gallery: opts.gallery ?? 12,
        }),
      );
    }
    return { comparison, files: await staged.commit("comparison.json") };
  } finally {
    await staged?.discard();
  }
}

async function reportInput(
  m: MatchedRuns,
  comparison: Comparison,
  o: { bins: number; gallery: number },
): Promise<ComparisonReportInput> {
  const reliability = m.models.map((r) => reliabilityOf(r, m.label, o.bins));
  const galleries = [];
  for (let a = 0; a < m.models.length; a++) {
    for (let b = a + 1; b < m.models.length; b++) {
      const A = m.models[a], B = m.models[b];
      // Images one model gets right and the other wrong, most confident mistake first.
      const pick = async (R: ModelRecords, W: ModelRecords) => {
        const idx = m.paths.map((_, i) => i)
          .filter((i) => R.pred[i] === m.label[i] && W.pred[i] !== m.label[i])
          .sort((i, j) => W.conf[j] - W.conf[i])
          .slice(0, o.gallery);
        return await Promise.all(idx.map(async (i) => ({
          path: m.paths[i],
          label: m.label[i],
          right: { pred: R.pred[i], confidence: R.conf[i] },
          wrong: { pred: W.pred[i], confidence: W.conf[i] },
          thumbnail: await tryThumbnail(m.paths[i]),
        })));
      };
      galleries.push({ a: A.name, b: B.name, aOnly: await pick(A, B), bOnly: await pick(B, A) });
    }
  }
  return { comparison, classNames: m.classNames, reliability, galleries };
}

/** Options of {@link compareModelsOnData}. */
export interface CompareModelsOptions extends CompareRunsOptions {
  /** Model folders (two or more). */
  models: string[];
  /** Names of the models (default: folder names, made unique). */
  names?: string[];
  /** The evaluation settings shared by every model (data, labels, batch, limit, ...). */
  evaluation: Omit<EvaluateOptions, "model" | "out">;
  /** Also write each model's eval outputs into `<out>/<name>/` (default true with `out`). */
  keepRuns?: boolean;
}

/** Unique display names of model paths: folder names, with the parent added where two clash. */
export function modelNames(paths: readonly string[]): string[] {
  const base = paths.map((p) => basename(resolve(p)));
  return base.map((b, i) =>
    base.filter((x) => x === b).length > 1
      ? `${basename(resolve(paths[i], ".."))}-${b}-${i + 1}`
      : b
  );
}

/**
 * Evaluates every model on the same dataset and compares them. The models
 * are loaded first; those whose preprocessing pipelines agree are evaluated
 * side by side on one pass of the data (each image decoded and preprocessed
 * once, src/data/shared_batches.ts), the others on passes of their own. With
 * `out` and `keepRuns`, each model's eval outputs go to `<out>/<name>/`, so
 * `compare RUN_A RUN_B` can redo the comparison later without the GPU.
 */
export async function compareModelsOnData(opts: CompareModelsOptions): Promise<ComparisonResult> {
  if (opts.models.length < 2) {
    throw new UsageError(`compare needs at least two --model, got ${opts.models.length}`);
  }
  const names = opts.names ?? modelNames(opts.models);
  if (names.length !== opts.models.length) {
    throw new UsageError(`${names.length} --name for ${opts.models.length} --model`);
  }
  const keep = opts.out !== undefined && (opts.keepRuns ?? true);
  const engine = opts.evaluation.engine ?? await Engine.create();
  const models: ClassifierModel[] = [];
  try {
    for (const path of opts.models) models.push(await loadModel(path, engine));
    // One shared loader per distinct pipeline; slot = the model's place in its group.
    const keys = models.map((m) => pipelineKey(modelPipeline(m, opts.evaluation.preprocess)));
    const groups = new Map<string, SharedBatches>();
    for (const k of new Set(keys)) {
      groups.set(
        k,
        new SharedBatches(keys.filter((x) => x === k).length),
      );
    }
    const passes = groups.size;
    console.error(
      `visioneval: compare: ${models.length} models, ${passes} pass${passes === 1 ? "" : "es"} ` +
        `over the data (models with the same preprocessing share one)`,
    );
    const settled = await Promise.allSettled(models.map((model, i) => {
      const shared = groups.get(keys[i])!;
      const slot = keys.slice(0, i).filter((x) => x === keys[i]).length;
      return evaluate({
        ...opts.evaluation,
        engine,
        model,
        out: keep ? join(opts.out!, names[i]) : undefined,
        // One progress line: the first model's.
        progress: i === 0 ? opts.evaluation.progress : false,
        batches: shared.loaderFor(slot),
      }).catch((e) => {
        shared.close(slot);
        throw e;
      });
    }));
    const failed = settled.find((r) => r.status === "rejected");
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const runs = settled.map((r, i) =>
      evaluationRecords(names[i], (r as PromiseFulfilledResult<EvaluationResult>).value)
    );
    return await compareRuns(runs, opts);
  } finally {
    for (const m of models) m.dispose();
  }
}
