/** `visioneval compare`: two or more models on the same images. */
import { parseArgs } from "node:util";
import { UsageError } from "../errors.ts";
import { compareModelsOnData, compareRuns, loadRun } from "../compare.ts";
import { comparisonSummary } from "../metrics/compare.ts";
import { fmt } from "../report/format.ts";
import { DATA_HELP, DATA_OPTIONS, dataArgs, givenDataOptions, intArg } from "./options.ts";

/** Usage text. */
export const HELP =
  `usage: visioneval compare --model A --model B [--model C ...] --data PATH [options]
       visioneval compare RUN_A RUN_B [RUN_C ...] [options]

Compares models on the same images and writes, into --out, comparison.json
and comparison.html (together, replacing an earlier comparison's two files):
headline metrics with bootstrap intervals; per pair McNemar's exact test on
the images one model gets right and the other wrong, paired-bootstrap
intervals of the differences in top-1, macro-F1, log loss and ECE, per-class
recall/F1 deltas and the agreement table; reliability diagrams overlaid and
galleries of the images the models disagree on.

With --model, each model is evaluated on --data with its own preprocessing
pipeline, and its eval outputs are kept in <out>/<name>/. With run folders
(written by \`eval --out\`), nothing runs on the GPU: the runs are matched by
image path and refused if their images, labels or classes differ. Log loss
is compared when every run kept per-image probabilities (eval does when
images x classes <= 2^25).

  --model PATH        a model to evaluate (repeat, two or more)
  --name NAME         display name of each --model or run folder, in order (default: folder names)
${DATA_HELP}
  --batch N           images per batch (default 32)
  --limit N           only the first N images
  --workers N         image decoding workers
  --map-by M          auto | name | index
  --mapping FILE      explicit class mapping
  --restrict          restrict predictions to the dataset's classes
  --bins N            calibration bins of ECE (default: the first run's, 15 for eval)
  --bootstrap R       paired bootstrap replicates (default 1000; 0 = no intervals)
  --seed S            bootstrap seed (default 0)
  --gallery N         images per disagreement gallery (default 12)
  --out DIR           output folder (default out/compare)
  --no-report         skip comparison.html
  --json              print comparison.json instead of the summary`;

/** Runs `compare`. */
export async function run(args: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args,
    options: {
      model: { type: "string", multiple: true },
      name: { type: "string", multiple: true },
      ...DATA_OPTIONS,
      batch: { type: "string" },
      limit: { type: "string" },
      workers: { type: "string" },
      "map-by": { type: "string" },
      mapping: { type: "string" },
      restrict: { type: "boolean" },
      bins: { type: "string" },
      bootstrap: { type: "string" },
      seed: { type: "string" },
      gallery: { type: "string" },
      out: { type: "string", default: "out/compare" },
      "no-report": { type: "boolean" },
      json: { type: "boolean" },
    },
    strict: true,
    allowPositionals: true,
  });
  const models = v.model ?? [];
  if (models.length && positionals.length) {
    throw new UsageError("give either --model (two or more) with --data, or run folders, not both");
  }
  const common = {
    out: v.out,
    report: !v["no-report"],
    bins: intArg(v.bins, "--bins", 1, 1000),
    replicates: intArg(v.bootstrap, "--bootstrap", 0, 100000),
    seed: intArg(v.seed, "--seed", 0, 2 ** 31),
    gallery: intArg(v.gallery, "--gallery", 0, 1000),
  };
  let result;
  if (models.length) {
    if (models.length < 2) throw new UsageError("give at least two --model");
    const data = dataArgs(v);
    if (v.name && v.name.length !== models.length) {
      throw new UsageError(`${v.name.length} --name for ${models.length} --model: give one each`);
    }
    const mapBy = v["map-by"];
    if (mapBy !== undefined && !["auto", "name", "index"].includes(mapBy)) {
      throw new UsageError(`--map-by must be auto, name or index, got "${mapBy}"`);
    }
    result = await compareModelsOnData({
      ...common,
      models,
      names: v.name,
      evaluation: {
        ...data,
        batch: intArg(v.batch, "--batch", 1, 4096),
        limit: intArg(v.limit, "--limit", 1, 2 ** 31),
        workers: intArg(v.workers, "--workers", 0, 64),
        bins: common.bins,
        mapBy: mapBy as "auto" | "name" | "index" | undefined,
        mappingFile: v.mapping,
        restrict: v.restrict,
        seed: common.seed,
      },
    });
  } else {
    if (positionals.length < 2) {
      throw new UsageError(
        "give two or more eval output folders, or --model A --model B --data PATH",
      );
    }
    const stray = givenDataOptions(v);
    if (stray.length) {
      throw new UsageError(`${stray.join(", ")} go with --model, not run folders`);
    }
    // Runs are named after their folders; --name tells apart folders with the same name.
    if (v.name && v.name.length !== positionals.length) {
      throw new UsageError(
        `${v.name.length} --name for ${positionals.length} run folders: give one each`,
      );
    }
    const runs = [];
    for (const [i, dir] of positionals.entries()) runs.push(await loadRun(dir, v.name?.[i]));
    result = await compareRuns(runs, common);
  }
  const c = result.comparison;
  if (v.json) {
    console.log(JSON.stringify(c, null, 2));
    return;
  }
  console.log(`${c.num_samples} images, ${c.num_classes} classes`);
  for (const m of c.models) {
    const cells = Object.entries(m.metrics).map(([k, x]) =>
      `${k} ${x.value === null ? "n/a" : fmt(x.value)}`
    );
    console.log(`  ${m.name.padEnd(20)} ${cells.join("  ")}`);
  }
  for (const line of comparisonSummary(c)) console.log(`  ${line}`);
  if (result.files.length) console.log(`wrote ${result.files.join(", ")}`);
}
