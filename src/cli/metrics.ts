/** `visioneval metrics`: evaluation metrics of predictions made by any framework. */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { UsageError } from "../errors.ts";
import { Engine } from "../gpu/engine.ts";
import {
  DECLARED_PROB_SUM_TOLERANCE,
  PROB_SUM_TOLERANCE,
  PROB_VALUE_TOLERANCE,
  readPredictions,
} from "../metrics/io.ts";
import { snapshotFromArrays } from "../metrics/state.ts";
import { computeMetrics, type MetricsReport } from "../metrics/report.ts";
import { saveSnapshot } from "../metrics/state_file.ts";
import { sha256File } from "../metrics/provenance.ts";
import { VERSION } from "../version.ts";
import { OUTSIDE_INTERVAL_NOTE, outsideInterval } from "../metrics/bootstrap.ts";
import { intArg } from "./options.ts";
import { StagedOutput, withStagedOutput } from "../report/output_dir.ts";

/** What `metrics` writes into --out (replaced together). */
const METRICS_OUTPUTS = ["metrics.json", "state.safetensors"];

/** Usage text. */
export const HELP = `usage: visioneval metrics --predictions FILE [--labels FILE] [options]

Computes every classification metric (top-1/top-k, precision/recall/F1, MCC,
kappa, log loss, Brier, AUROC/AUPRC, ECE/MCE/adaptive/class-wise ECE,
reliability table, confusion matrix) of stored predictions on the GPU, and
writes metrics.json and the mergeable state.safetensors to --out.

Inputs:
  .safetensors  tensor "logits" or "probs"/"probabilities" [n, C], "labels" [n]
  .npy          [n, C]; labels via --labels, or labels.npy / NAME.labels.npy beside it
  .csv          label,p_0,...,p_{C-1}  or  label,logit_0,...  (header optional)
  .jsonl        {"label": 3, "probs": [...]}  or  {"label": 3, "logits": [...]}
  --labels      .npy, .safetensors (labels), .json array, or one integer per line

options:
  --predictions FILE  predictions file (required)
  --labels FILE       labels file when they are not in the predictions file
  --logits | --probs  what the values are (default: from names, else detected).
                      Probabilities: values in [0, 1] within ${PROB_VALUE_TOLERANCE} (clipped),
                      rows summing to 1 within ${PROB_SUM_TOLERANCE} (${DECLARED_PROB_SUM_TOLERANCE} with --probs);
                      values that look like probabilities but miss this are
                      refused unless --probs / --logits says which
  --bins N            calibration bins (default 15)
  --topk K            k of the top-k entry, 1..10 (default 5)
  --bootstrap R       Poisson bootstrap replicates for CIs of top-1, macro-F1, ECE
                      (default 200; 0 = off)
  --seed S            bootstrap seed (default 0)
  --exact | --binned  AUROC/AUPRC from per-sample scores or from histograms
                      (default: exact when n*C <= 2^25)
  --no-temperature    skip temperature scaling (done by default for logits when
                      n*C <= 2^25; see \`visioneval calibrate\`)
  --sample-offset N   global index of the first row, when this file is one shard
                      of a larger evaluation (orders merged samples, seeds the
                      bootstrap; default 0)
  --out DIR           output directory (default out/metrics)
  --json              print metrics.json instead of the summary table`;

/** Runs `metrics`. */
export async function run(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      predictions: { type: "string" },
      labels: { type: "string" },
      logits: { type: "boolean" },
      probs: { type: "boolean" },
      bins: { type: "string", default: "15" },
      topk: { type: "string", default: "5" },
      bootstrap: { type: "string", default: "200" },
      seed: { type: "string", default: "0" },
      exact: { type: "boolean" },
      binned: { type: "boolean" },
      "no-temperature": { type: "boolean" },
      "sample-offset": { type: "string", default: "0" },
      out: { type: "string", default: "out/metrics" },
      json: { type: "boolean" },
    },
    strict: true,
  });
  const predictionsPath = v.predictions;
  if (!predictionsPath) throw new UsageError("--predictions FILE is required");
  if (v.logits && v.probs) throw new UsageError("give at most one of --logits and --probs");
  if (v.exact && v.binned) throw new UsageError("give at most one of --exact and --binned");
  const bins = intArg(v.bins!, "--bins", 1, 1000);
  const topk = intArg(v.topk!, "--topk", 1, 10);
  const bootstrap = intArg(v.bootstrap!, "--bootstrap", 0, 100000);
  const seed = intArg(v.seed!, "--seed", 0, 2 ** 31);
  const sampleOffset = intArg(v["sample-offset"]!, "--sample-offset", 0, 2 ** 52);

  // Written all-or-nothing (metrics.json and the state belong together); the folder is checked
  // for writability before the GPU pass.
  const staged = await StagedOutput.open(v.out!, METRICS_OUTPUTS);
  const { out, report, preds } = await withStagedOutput(staged, "metrics.json", async (path) => {
    const t0 = performance.now();
    const preds = await readPredictions(predictionsPath, {
      labels: v.labels,
      kind: v.logits ? "logits" : v.probs ? "probs" : "auto",
    });
    const small = preds.n * preds.numClasses <= 2 ** 25;
    const exact = v.exact ?? (!v.binned && small);
    if (preds.n === 0) {
      // As eval's empty shard: the state is empty and still merges with the other parts.
      console.error(
        `visioneval: warning: ${predictionsPath} holds no predictions; writing an empty state ` +
          `(every metric of it is 0 or null; merge it with the other parts)`,
      );
    }
    const fitTemperature = preds.kind === "logits" && small && !v["no-temperature"] &&
      preds.n > 0;
    const engine = await Engine.create();
    const t1 = performance.now();
    const snapshot = await snapshotFromArrays(engine, preds.values, preds.labels, {
      numClasses: preds.numClasses,
      input: preds.kind,
      calibrationBins: bins,
      keepScores: exact,
      // Exact AUROC / AP rank float64 probabilities computed from the logits.
      keepLogits: fitTemperature || (exact && preds.kind === "logits"),
      sampleOffset,
    });
    snapshot.provenance = {
      command: "metrics",
      model: null,
      dataset: null,
      predictions: { path: preds.sources, sha256: await sha256File(predictionsPath) },
      classNames: null,
      pipeline: null,
      shard: null,
      samples: preds.n ? [[sampleOffset, sampleOffset + preds.n]] : [],
    };
    const t2 = performance.now();
    const report = computeMetrics(snapshot, {
      topk,
      bootstrap,
      seed,
      temperatureScaling: fitTemperature,
    });
    const t3 = performance.now();
    const out = {
      ...report,
      run: {
        command: "metrics",
        predictions: preds.sources,
        input: { kind: preds.kind, decided_by: preds.kindReason },
        adapter: engine.gpu.info.description,
        version: VERSION,
        timings_ms: { read: t1 - t0, gpu: t2 - t1, finish: t3 - t2 },
      },
    };
    await Deno.writeTextFile(path("metrics.json"), JSON.stringify(out, null, 2) + "\n");
    await saveSnapshot(path("state.safetensors"), snapshot);
    return { out, report, preds };
  });
  if (v.json) console.log(JSON.stringify(out, null, 2));
  else {
    console.log(summaryTable(report, [["input", `${preds.kind} (${preds.kindReason})`]]));
    console.log(`wrote ${join(v.out!, "metrics.json")} and ${join(v.out!, "state.safetensors")}`);
  }
}

const fmt = (x: number | null | undefined, digits = 4) =>
  x === null || x === undefined ? "-" : x.toFixed(digits);

/** A short text table of the headline metrics (`first`: rows shown before them). */
export function summaryTable(r: MetricsReport, first: [string, string][] = []): string {
  const value = { top1: r.top1, macro_f1: r.f1.macro, ece: r.ece };
  const ci = (name: "top1" | "macro_f1" | "ece") => {
    if (!r.bootstrap) return "";
    const { lo, hi } = r.bootstrap[name];
    return `  [${fmt(lo)}, ${fmt(hi)}]` +
      (outsideInterval(value[name], lo, hi) ? `  ${OUTSIDE_INTERVAL_NOTE}` : "");
  };
  const rows: [string, string][] = [
    ...first,
    ["samples", String(r.num_samples)],
    ["classes", String(r.num_classes)],
    ["top-1", fmt(r.top1) + ci("top1")],
    [`top-${r.topk.k}`, fmt(r.topk.accuracy)],
    ["balanced accuracy", fmt(r.balanced_accuracy)],
    ["macro F1", fmt(r.f1.macro) + ci("macro_f1")],
    ["MCC", fmt(r.mcc)],
    ["log loss", fmt(r.log_loss)],
    ["Brier", fmt(r.brier)],
    [`AUROC macro (${r.auroc.method})`, fmt(r.auroc.macro)],
    [`AUPRC macro (${r.auprc.method})`, fmt(r.auprc.macro)],
    ["ECE", fmt(r.ece) + ci("ece")],
    ["MCE", fmt(r.mce)],
    ["adaptive ECE", fmt(r.ace)],
    ["class-wise ECE", fmt(r.classwise_ece)],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, val]) => `  ${k.padEnd(w)}  ${val}`).join("\n");
}
