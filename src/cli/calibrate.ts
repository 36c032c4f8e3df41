/** `visioneval calibrate`: fit a post-hoc calibrator to stored or computed logits. */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { MetricsInputError, UsageError } from "../errors.ts";
import { readPredictions } from "../metrics/io.ts";
import { loadSnapshot } from "../metrics/state_file.ts";
import { fitTemperature, temperatureAtBound } from "../metrics/calibration.ts";
import {
  type CalibrationMethod,
  calibratorToJson,
  fitCalibrator,
  parseMethods,
} from "../metrics/calibrators/index.ts";
import {
  calibratedReport,
  type CalibrationRow,
  stratifiedSplit,
} from "../metrics/calibration_split.ts";
import { reliabilityDiagramSvg } from "../report/reliability.ts";
import { fractionArg, intArg } from "./options.ts";
import { StagedOutput, withStagedOutput } from "../report/output_dir.ts";
import { VERSION } from "../version.ts";

/** What `calibrate` writes into --out (replaced together). */
const CALIBRATE_OUTPUTS = [
  "calibration.json",
  "calibrator.json",
  "reliability_before.svg",
  "reliability_after.svg",
];

/** Usage text. */
export const HELP =
  `usage: visioneval calibrate --run DIR [--method M] [--calibration-split F] --out DIR
       visioneval calibrate --predictions FILE [--labels FILE] [--method M] --out DIR
       visioneval calibrate --model PATH --data PATH [--labels CSV] [--limit N] [--method M] --out DIR

Fits a post-hoc calibrator in float64 and writes calibrator.json (versioned; apply
it with \`eval --calibrator FILE\` or \`predict --calibrator FILE\`), calibration.json
(NLL, Brier, ECE, adaptive ECE, class-wise ECE and accuracy before and after, and both
reliability tables) and reliability_before.svg / reliability_after.svg.

Methods (--method, default temperature):
  temperature  softmax(z / T), T in [0.05, 20] minimising the NLL
  vector       softmax(w * z + b), per-class w and b minimising the NLL
  matrix       softmax(W z + b) with off-diagonal and intercept L2 (lambda 0.01);
               refused when C(C+1) parameters outnumber the samples
  platt        one-vs-rest logistic regression on log softmax(z)_k (scikit-learn's
               LogisticRegression, C = 1.0), rows renormalised
  isotonic     one-vs-rest isotonic regression on softmax(z)_k (scikit-learn's
               IsotonicRegression, out_of_bounds="clip"), rows renormalised
  histogram    one-vs-rest histogram binning of softmax(z)_k (--bins bins), rows renormalised

The logits come from an \`eval\` output folder (--run: its state.safetensors, which
keeps them when images x classes <= 2^25 or with --calibration-split), a predictions
file (probabilities are taken as log-probabilities; zeros clipped to 1e-300), or
running the model over the dataset (--model with --data). With --calibration-split F
the calibrator is fitted on a seeded, stratified fraction F of each class and
calibration.json's numbers are measured on the rest; otherwise on every sample.

options:
  --run DIR             an eval output folder
  --predictions FILE    predictions file (formats as in \`visioneval metrics --help\`)
  --model PATH          model folder or .safetensors (with --data)
  --data PATH           dataset for --model (formats as in \`visioneval eval --help\`)
  --limit N             only the first N images of --data
  --batch N             images per batch for --model (default 32)
  --labels FILE         labels file when they are not in the predictions file
  --logits | --probs    what the values are (default: detected)
  --method M            calibration method (see above)
  --calibration-split F fit on a fraction F of each class, measure on the rest
  --seed S              seed of the split (default 0)
  --bins N              calibration bins (default 15)
  --out DIR             output directory (default out/calibrate)
  --json                print calibration.json`;

/** The logits and labels to fit on, and where they came from. */
interface CalibrationInput {
  logits: ArrayLike<number>;
  labels: ArrayLike<number>;
  numClasses: number;
  input: string;
  sources: unknown;
}

/** Parses `--calibration-methods` (only meaningful with `--calibration-split`). */
export function calibrationMethodsArg(
  list: string | undefined,
  split: string | undefined,
): CalibrationMethod[] | undefined {
  if (list === undefined) return undefined;
  if (split === undefined) {
    throw new UsageError("--calibration-methods needs --calibration-split F");
  }
  return parseMethods(list, "--calibration-methods");
}

/** A fixed-width table of calibration rows, one per method. */
export function calibrationTable(rows: readonly CalibrationRow[]): string {
  const cols = ["NLL", "Brier", "ECE", "ACE", "cw-ECE", "top-1"];
  const head = `  ${"method".padEnd(12)}${cols.map((c) => c.padStart(9)).join("")}`;
  const lines = rows.map((r) => {
    if (r.refused) return `  ${r.method.padEnd(12)}  refused: ${r.refused}`;
    const vals = [r.nll, r.brier, r.ece, r.ace, r.classwise_ece, r.accuracy];
    return `  ${r.method.padEnd(12)}${vals.map((v) => (v ?? NaN).toFixed(4).padStart(9)).join("")}`;
  });
  return [head, ...lines].join("\n");
}

async function readRun(dir: string): Promise<CalibrationInput> {
  const path = join(dir, "state.safetensors");
  const s = await loadSnapshot(path);
  if (!s.logits || !s.samples) {
    throw new MetricsInputError(
      `${path} holds no logits (an evaluation keeps them when images x classes <= 2^25, or ` +
        `with --calibration-split / --calibrator); rerun \`eval\` with --calibration-split 0.5`,
    );
  }
  return {
    logits: s.logits,
    labels: s.samples.label,
    numClasses: s.numClasses,
    input: "logits",
    sources: { run: dir, state: path },
  };
}

/** Runs `calibrate`. */
export async function run(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      run: { type: "string" },
      predictions: { type: "string" },
      model: { type: "string" },
      data: { type: "string" },
      limit: { type: "string" },
      batch: { type: "string" },
      labels: { type: "string" },
      logits: { type: "boolean" },
      probs: { type: "boolean" },
      method: { type: "string", default: "temperature" },
      "calibration-split": { type: "string" },
      seed: { type: "string" },
      bins: { type: "string", default: "15" },
      out: { type: "string", default: "out/calibrate" },
      json: { type: "boolean" },
    },
    strict: true,
  });
  if ([v.run, v.predictions, v.model].filter((x) => x).length !== 1) {
    throw new UsageError(
      "give one of --run DIR, --predictions FILE, or --model PATH with --data PATH",
    );
  }
  if (v.model && !v.data) throw new UsageError("--model needs --data PATH");
  if (v.logits && v.probs) throw new UsageError("give at most one of --logits and --probs");
  const bins = intArg(v.bins!, "--bins", 1, 1000);
  const split = fractionArg(v["calibration-split"], "--calibration-split");
  const seed = intArg(v.seed, "--seed", 0, 2 ** 31) ?? 0;
  const methods = parseMethods(v.method!, "--method");
  if (methods.length !== 1) {
    throw new UsageError(
      "--method takes one method (compare them all with `eval --calibration-split F`)",
    );
  }
  const method = methods[0];
  let data: CalibrationInput;
  if (v.run) data = await readRun(v.run);
  else if (v.predictions) {
    const preds = await readPredictions(v.predictions, {
      labels: v.labels,
      kind: v.logits ? "logits" : v.probs ? "probs" : "auto",
    });
    data = {
      logits: preds.kind === "logits"
        ? preds.values
        : Float64Array.from(preds.values, (p) => Math.log(Math.max(p, 1e-300))),
      labels: preds.labels,
      numClasses: preds.numClasses,
      input: preds.kind,
      sources: preds.sources,
    };
  } else {
    const { evaluate } = await import("../evaluate.ts");
    const r = await evaluate({
      model: v.model!,
      data: v.data!,
      labels: v.labels,
      limit: intArg(v.limit, "--limit", 1, 2 ** 31),
      batch: intArg(v.batch, "--batch", 1, 4096),
      bins,
      temperature: true,
      bootstrap: 0,
      exact: false,
    });
    data = {
      logits: r.snapshot.logits!,
      labels: r.snapshot.samples!.label,
      numClasses: r.snapshot.numClasses,
      input: "logits",
      sources: { model: r.metrics.run.model, data: r.metrics.run.data, failed: r.metrics.failed },
    };
  }
  const C = data.numClasses, n = data.labels.length;
  // Fit on every sample, or on the split's fitting part and measure on the rest.
  const parts = split === undefined
    ? { fit: [...Array(n).keys()], held: [...Array(n).keys()] }
    : stratifiedSplit(data.labels, split, seed);
  if (parts.fit.length === 0 || parts.held.length === 0) {
    throw new MetricsInputError(
      `--calibration-split ${split} leaves ${parts.fit.length} samples to fit and ` +
        `${parts.held.length} to measure; use more samples or another fraction`,
    );
  }
  const rows = (idx: number[]) => ({
    logits: Float64Array.from(
      { length: idx.length * C },
      (_, j) => data.logits[idx[Math.floor(j / C)] * C + (j % C)],
    ),
    labels: Int32Array.from(idx, (i) => data.labels[i]),
  });
  const fitPart = rows(parts.fit), heldPart = rows(parts.held);
  const calibrator = fitCalibrator(method, { ...fitPart, numClasses: C }, { histogramBins: bins });
  const report = calibratedReport(
    calibrator,
    "calibrator.json",
    heldPart.logits,
    heldPart.labels,
    bins,
  );
  const [before, after] = report.rows;
  const out = {
    num_samples: n,
    num_classes: C,
    input: data.input,
    bins,
    method,
    // The temperature fit's own fields, as earlier versions wrote them.
    ...(method === "temperature"
      ? fitTemperature(fitPart.logits, fitPart.labels, C, bins, {})
      : {}),
    calibration_split: split === undefined
      ? null
      : { fraction: split, seed, fit_samples: parts.fit.length, eval_samples: parts.held.length },
    measured_on: split === undefined ? "the fitting samples" : "the held-out samples",
    before,
    after,
    run: { command: "calibrate", source: data.sources, version: VERSION },
  };
  const file = calibratorToJson(calibrator, {
    num_samples: parts.fit.length,
    source: data.sources,
    calibration_split: out.calibration_split,
  });
  const title = method === "temperature"
    ? `After (T = ${(calibrator.params().temperature as number).toFixed(3)})`
    : `After ${method} calibration`;
  const diagrams = [
    ["reliability_before.svg", before.reliability!, "Before (uncalibrated)"],
    ["reliability_after.svg", after.reliability!, title],
  ] as const;
  // All-or-nothing: calibration.json (the marker) and its companions come from one run.
  const staged = await StagedOutput.open(v.out!, CALIBRATE_OUTPUTS);
  await withStagedOutput(staged, "calibration.json", async (stagedPath) => {
    await Deno.writeTextFile(stagedPath("calibration.json"), JSON.stringify(out, null, 2) + "\n");
    await Deno.writeTextFile(stagedPath("calibrator.json"), JSON.stringify(file) + "\n");
    for (const [name, table, t] of diagrams) {
      await Deno.writeTextFile(stagedPath(name), reliabilityDiagramSvg(table, { title: t }));
    }
  });
  const atBound = method === "temperature"
    ? temperatureAtBound(calibrator.params().temperature as number)
    : undefined;
  if (atBound) console.error(`visioneval calibrate: warning: ${atBound}`);
  if (v.json) console.log(JSON.stringify(out, null, 2));
  else {
    if (method === "temperature") {
      console.log(`  temperature  ${(calibrator.params().temperature as number).toFixed(6)}`);
    }
    console.log(`measured on ${out.measured_on} (${parts.held.length}):`);
    console.log(calibrationTable(report.rows));
    console.log(`wrote ${CALIBRATE_OUTPUTS.map((f) => join(v.out!, f)).join(", ")}`);
  }
}
