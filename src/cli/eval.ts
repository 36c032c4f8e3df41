/** `visioneval eval`: evaluate a model on a labelled image dataset. */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { UsageError } from "../errors.ts";
import { evaluate } from "../evaluate.ts";
import { parseTta } from "../data/tta.ts";
import { ttaSummary } from "../tta.ts";
import { summaryTable } from "./metrics.ts";
import { calibrationMethodsArg, calibrationTable } from "./calibrate.ts";
import {
  DATA_HELP,
  DATA_OPTIONS,
  dataArgs,
  fractionArg,
  intArg,
  PREPROCESS_HELP,
  PREPROCESS_OPTIONS,
  preprocessOverrides,
  shardArg,
} from "./options.ts";

/** Usage text. */
export const HELP = `usage: visioneval eval --model PATH --data PATH [options]

Runs the model over a labelled dataset on the GPU and writes, into --out:
metrics.json (every metric + failed images + run metadata), predictions.csv,
state.safetensors (mergeable with \`visioneval merge\`) and report.html.
They are written to a hidden staging folder in --out and moved in together at
the end, replacing an earlier run's four files as a set (other files in --out
are left alone); a failed or killed run leaves the earlier outputs. While
metrics.json is present, the files beside it are from its run.

  --model PATH        model folder (config.json + model.safetensors; HF or timm) or .safetensors
${DATA_HELP}
  --real-labels FILE  ReaL labels (real.json): ReaL top-1/top-5 beside top-1 (ImageNet-1k models)
  --batch N           images per batch (default 32)
  --limit N           only the first N images
  --bins N            calibration bins (default 15)
  --topk K            k of top-k accuracy and of predictions.csv's top-k column (default 5)
  --shard i/n         evaluate part i (0-based) of n; merge the parts' state files with \`merge\`
  --out DIR           output folder (default out/eval)
  --workers N         image decoding workers (default min(2, cores))
  --map-by M          auto | name | index: how dataset classes map to model classes
  --mapping FILE      explicit class mapping (JSON {dataset: model} or CSV dataset,model)
  --restrict          restrict predictions to the dataset's classes (e.g. ImageNet model, 10 classes)
  --exact | --binned  AUROC/AUPRC from per-sample scores or from histograms (default exact if n*C <= 2^25)
  --bootstrap R       bootstrap replicates for CIs of top-1, macro-F1, ECE (default 200; 0 = off)
  --seed S            seed of the bootstrap, the embedding and the calibration split (default 0)
  --calibration-split F
                      fit every calibration method on a seeded, stratified fraction F of
                      the images and report NLL, Brier, ECE, ACE, class-wise ECE and
                      accuracy on the rest, before and after (metrics.json calibration_split)
  --calibration-methods LIST
                      methods of --calibration-split: all (default) or a comma list of
                      temperature, vector, matrix, platt, isotonic, histogram
  --calibrator FILE   apply a calibrator written by \`visioneval calibrate\` (metrics.json calibrated)
  --explain N         Grad-CAM / rollout maps of the N most confident mistakes in the report
  --embed METHOD      pca | umap | tsne embedding plot in the report
  --tta SPEC          test-time augmentation: hflip | five-crop | ten-crop | scales=S1,S2,...
                      (combinable: hflip,scales=224,256); metrics with TTA go to metrics.json's
                      "tta" block and the report, beside the metrics without it
  --tta-mean M        probs (default: average softmax probabilities) | logits
  --no-report         skip report.html
  --json              print metrics.json instead of the summary table
${PREPROCESS_HELP}`;

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Runs `eval`. */
export async function run(args: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args,
    options: {
      model: { type: "string" },
      ...DATA_OPTIONS,
      "real-labels": { type: "string" },
      batch: { type: "string" },
      limit: { type: "string" },
      bins: { type: "string" },
      topk: { type: "string" },
      shard: { type: "string" },
      out: { type: "string", default: "out/eval" },
      workers: { type: "string" },
      "map-by": { type: "string" },
      mapping: { type: "string" },
      restrict: { type: "boolean" },
      exact: { type: "boolean" },
      binned: { type: "boolean" },
      bootstrap: { type: "string" },
      seed: { type: "string" },
      "calibration-split": { type: "string" },
      "calibration-methods": { type: "string" },
      calibrator: { type: "string" },
      explain: { type: "string" },
      embed: { type: "string" },
      tta: { type: "string" },
      "tta-mean": { type: "string" },
      "no-report": { type: "boolean" },
      json: { type: "boolean" },
      ...PREPROCESS_OPTIONS,
    },
    strict: true,
    allowPositionals: true,
  });
  if (positionals.length) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  if (!v.model) throw new UsageError("--model PATH is required");
  if (v.exact && v.binned) throw new UsageError("give at most one of --exact and --binned");
  const mapBy = v["map-by"];
  if (mapBy !== undefined && !["auto", "name", "index"].includes(mapBy)) {
    throw new UsageError(`--map-by must be auto, name or index, got "${mapBy}"`);
  }
  const embed = v.embed;
  if (embed !== undefined && !["pca", "umap", "tsne"].includes(embed)) {
    throw new UsageError(`--embed must be pca, umap or tsne, got "${embed}"`);
  }
  const ttaMean = v["tta-mean"] ?? "probs";
  if (ttaMean !== "probs" && ttaMean !== "logits") {
    throw new UsageError(`--tta-mean must be probs or logits, got "${ttaMean}"`);
  }
  if (v["tta-mean"] && !v.tta) throw new UsageError("--tta-mean goes with --tta");
  // Every option is parsed (usage errors, exit 2) before anything is created on disk.
  const options = {
    model: v.model,
    ...dataArgs(v),
    realLabels: v["real-labels"],
    batch: intArg(v.batch, "--batch", 1, 4096),
    limit: intArg(v.limit, "--limit", 1, 2 ** 31),
    bins: intArg(v.bins, "--bins", 1, 1000),
    topk: intArg(v.topk, "--topk", 1, 10),
    shard: shardArg(v.shard),
    out: v.out,
    report: !v["no-report"],
    workers: intArg(v.workers, "--workers", 0, 64),
    preprocess: preprocessOverrides(v),
    mapBy: mapBy as "auto" | "name" | "index" | undefined,
    mappingFile: v.mapping,
    restrict: v.restrict,
    exact: v.exact ? true : v.binned ? false : undefined,
    bootstrap: intArg(v.bootstrap, "--bootstrap", 0, 100000),
    seed: intArg(v.seed, "--seed", 0, 2 ** 31),
    calibrationSplit: fractionArg(v["calibration-split"], "--calibration-split"),
    calibrationMethods: calibrationMethodsArg(v["calibration-methods"], v["calibration-split"]),
    calibrator: v.calibrator,
    explain: intArg(v.explain, "--explain", 0, 1000),
    embed: embed as "pca" | "umap" | "tsne" | undefined,
    tta: v.tta ? parseTta(v.tta, ttaMean) : undefined,
  };
  if (v["no-report"] && exists(join(v.out, "report.html"))) {
    console.error(
      `visioneval: note: --no-report: the earlier run's ${join(v.out, "report.html")} will be ` +
        `removed with its other outputs when this run's are moved in`,
    );
  }
  // evaluate() checks that --out is writable (its staging folder) before loading the model.
  const result = await evaluate(options);
  const m = result.metrics;
  if (v.json) {
    console.log(JSON.stringify(m, null, 2));
    return;
  }
  console.log(`model      ${m.run.model} (${m.run.architecture})`);
  console.log(`data       ${m.run.dataset}`);
  console.log(`classes    ${m.run.label_mapping}`);
  console.log(`pipeline   ${m.run.preprocessing}`);
  console.log(
    `adapter    ${m.run.adapter} (${m.run.kernels} kernels, ${m.run.weights} linear + GEMM conv weights)`,
  );
  console.log(summaryTable(m));
  if (m.real) {
    const pct = (x: number | null) => (x === null ? "n/a" : x.toFixed(4));
    console.log(
      `  ${"ReaL top-1".padEnd(17)}  ${pct(m.real.top1)}  (top-5 ${pct(m.real.top5)}; ` +
        `${m.real.images} images, ${m.real.excluded_no_label} without a ReaL label excluded)`,
    );
  }
  console.log(`  ${"images/s".padEnd(17)}  ${m.run.images_per_second.toFixed(1)}`);
  if (m.calibration_split) {
    const s = m.calibration_split;
    console.log(`calibration fitted on ${s.fit_samples} images, measured on ${s.eval_samples}:`);
    console.log(calibrationTable(s.rows));
  }
  if (m.calibrated) {
    console.log(`calibrator ${m.calibrated.calibrator} (${m.calibrated.method}):`);
    console.log(calibrationTable(m.calibrated.rows));
  }
  if (m.tta) { for (const line of ttaSummary(m.tta)) console.log(line); }
  if (m.failed.length) {
    console.log(
      `skipped ${m.failed.length} image(s); first: ${m.failed[0].path}: ${m.failed[0].reason}`,
    );
  }
  console.log(`wrote ${result.files.join(", ")}`);
}
