/** `visioneval embed`: 2-D projection of a dataset's penultimate features. */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { DataError, UsageError } from "../errors.ts";
import { Engine } from "../gpu/engine.ts";
import { loadModel } from "../models/load.ts";
import { prepareOutDir, printModelNotes } from "./options.ts";
import { loadDataset } from "../data/open.ts";
import { applyLabelMapping, mapLabels } from "../data/labels.ts";
import { modelClasses } from "../models/pipeline.ts";
import {
  collectFeatures,
  embeddingInput,
  projectEmbeddings,
  type ProjectionMethod,
} from "../explain/embeddings.ts";
import { embeddingScatterSvg } from "../report/scatter.ts";
import { embeddingCsv } from "../report/csv.ts";
import { mulberry32 } from "../random.ts";

/** Usage text. */
export const HELP = `usage: visioneval embed --model PATH --data PATH [options] --out DIR

Runs the model over a dataset, keeps the penultimate features (ResNet: pooled
last stage; ViT: class token after the final LayerNorm) and projects them to
2-D. Writes to --out:

  embedding_METHOD.csv    path,x,y,label,pred,label_name,pred_name
  embedding_METHOD.svg    scatter colored by true class, mistakes marked (x), legend
  embedding_METHOD.json   method, seed, details (explained variance, KL, ...), failures

options:
  --model PATH        model folder or .safetensors
  --data PATH         image folder (class subfolders), labels .csv, CIFAR .bin,
                      or an image / glob
  --labels CSV        labels file listing the images (paths relative to it)
  --method M          pca | umap | tsne (default pca). UMAP and t-SNE run on
                      the top 50 principal components (see --pca-dims)
  --limit N           use the first N images (default: all)
  --sample N          use N images drawn at random (seeded by --seed) instead,
                      e.g. to cover every class of a class-sorted folder
  --seed S            seed of the projection (default 0): same seed, same coordinates
  --perplexity P      t-SNE perplexity (default 30)
  --iterations N      t-SNE iterations (default 1000)
  --neighbors K       UMAP neighbours (default 15)
  --min-dist D        UMAP minimum distance (default 0.1)
  --pca-dims N        PCA dimensions before UMAP / t-SNE (default 50; 0 = off)
  --batch N           images per forward pass (default 32)
  --workers N         image-decoding workers (default min(2, cores); 0 = main thread)
  --out DIR           output folder (default out/embed)`;

const METHODS: readonly ProjectionMethod[] = ["pca", "umap", "tsne"];

function intArg(name: string, s: string | undefined, min: number): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}`);
  }
  return n;
}

function numArg(name: string, s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!(n > 0)) throw new UsageError(`--${name} must be a positive number, got "${s}"`);
  return n;
}

/** `n` items chosen uniformly at random (partial Fisher-Yates, seeded), in dataset order. */
function sampleItems<T>(items: T[], n: number, seed: number): T[] {
  if (n >= items.length) return items;
  const rand = mulberry32(seed);
  const idx = items.map((_, i) => i);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rand() * (idx.length - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, n).sort((a, b) => a - b).map((i) => items[i]);
}

/** Runs `embed`. */
export async function run(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      model: { type: "string" },
      data: { type: "string" },
      labels: { type: "string" },
      method: { type: "string", default: "pca" },
      limit: { type: "string" },
      sample: { type: "string" },
      seed: { type: "string", default: "0" },
      perplexity: { type: "string" },
      iterations: { type: "string" },
      neighbors: { type: "string" },
      "min-dist": { type: "string" },
      "pca-dims": { type: "string" },
      batch: { type: "string", default: "32" },
      workers: { type: "string" },
      out: { type: "string", default: "out/embed" },
    },
    strict: true,
  });
  if (!v.model) throw new UsageError("--model is required");
  if (!v.data) throw new UsageError("--data is required");
  const method = v.method as ProjectionMethod;
  if (!METHODS.includes(method)) {
    throw new UsageError(`--method must be one of ${METHODS.join(", ")}, got "${v.method}"`);
  }
  const seed = intArg("seed", v.seed, 0)!;
  const limit = intArg("limit", v.limit, 1);
  const sample = intArg("sample", v.sample, 1);
  if (limit !== undefined && sample !== undefined) {
    throw new UsageError("give --limit or --sample, not both");
  }
  const batch = intArg("batch", v.batch, 1)!;
  const workers = intArg("workers", v.workers, 0);
  const opts = {
    method,
    seed,
    perplexity: numArg("perplexity", v.perplexity),
    iterations: intArg("iterations", v.iterations, 1),
    nNeighbors: intArg("neighbors", v.neighbors, 2),
    minDist: v["min-dist"] === undefined ? undefined : Number(v["min-dist"]),
    pcaDims: intArg("pca-dims", v["pca-dims"], 0),
  };

  await prepareOutDir(v.out!);
  const engine = await Engine.create();
  const model = await loadModel(v.model, engine);
  printModelNotes(model);
  const dataset = await loadDataset(v.data!, { labels: v.labels, limit });
  for (const w of dataset.warnings) console.error(`warning: ${w}`);
  // Labels in model class indices mark the mistakes; without a mapping the
  // points are colored by the dataset's own labels and no mistakes are marked.
  let items = sample === undefined ? dataset.items : sampleItems(dataset.items, sample, seed);
  let names: readonly string[] | undefined = model.labels;
  let mapped = dataset.labelKind !== "none";
  if (mapped) {
    try {
      const mapping = mapLabels(dataset, modelClasses(model));
      const applied = applyLabelMapping(items, mapping, dataset);
      items = applied.items;
    } catch (e) {
      if (!(e instanceof DataError)) throw e;
      console.error(`warning: ${e.message}; coloring by dataset label, mistakes not marked`);
      mapped = false;
      names = dataset.classes;
    }
  }
  console.error(`${dataset.description}; ${items.length} images -> ${model.architecture} features`);
  const t0 = performance.now();
  const set = await collectFeatures(engine, model, items, {
    batchSize: batch,
    workers,
    onProgress: (done, total) => {
      if (Deno.stderr.isTerminal()) {
        Deno.stderr.writeSync(new TextEncoder().encode(`\r  features ${done}/${total}`));
      }
    },
  });
  if (Deno.stderr.isTerminal()) console.error("");
  const t1 = performance.now();
  for (const f of set.failed) console.error(`skipped ${f.path}: ${f.reason}`);
  if (set.rows < 4) {
    throw new DataError(
      `${v.data}: only ${set.rows} readable images; an embedding needs 4 or more`,
    );
  }
  const projection = await projectEmbeddings(engine, set, opts);
  const t2 = performance.now();
  const emb = embeddingInput(set, projection);
  const points = mapped ? emb.points : emb.points.map((p) => ({ ...p, pred: undefined }));
  const base = join(v.out!, `embedding_${method}`);
  await Deno.writeTextFile(`${base}.csv`, embeddingCsv(points, names));
  await Deno.writeTextFile(
    `${base}.svg`,
    embeddingScatterSvg({ method, points }, names, {
      title: `${method.toUpperCase()} of ${model.architecture} features, ${set.rows} images`,
    }),
  );
  const mistakes = mapped
    ? points.filter((p) => p.label !== undefined && p.pred !== p.label).length
    : null;
  await Deno.writeTextFile(
    `${base}.json`,
    JSON.stringify(
      {
        model: v.model,
        data: v.data,
        method,
        seed,
        images: set.rows,
        feature_dims: set.dims,
        misclassified: mistakes,
        details: projection.details,
        seconds: { features: (t1 - t0) / 1000, projection: (t2 - t1) / 1000 },
        failed: set.failed,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(
    `${set.rows} images, ${set.dims}-D features (${((t1 - t0) / 1000).toFixed(1)} s), ` +
      `${method} ${((t2 - t1) / 1000).toFixed(1)} s${
        mistakes === null ? "" : `, ${mistakes} misclassified`
      } -> ${base}.{csv,svg,json}`,
  );
  model.dispose();
}
