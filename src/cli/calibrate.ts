/** `visioneval calibrate`: temperature scaling of stored predictions. */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { UsageError } from "../errors.ts";
import { readPredictions } from "../metrics/io.ts";
import { fitTemperature } from "../metrics/calibration.ts";
import { intOption } from "./metrics.ts";
import { VERSION } from "../version.ts";

/** Usage text. */
export const HELP = `usage: visioneval calibrate --predictions FILE [--labels FILE] --out DIR

Fits the temperature T that minimises the mean negative log-likelihood of
softmax(logits / T) (golden-section search over T in [0.05, 20], float64) and
writes calibration.json: T, NLL / ECE / MCE before and after, and both
reliability tables. Probabilities are accepted too (their logarithms are
used as logits; zero probabilities are clipped to 1e-300).

options:
  --predictions FILE  predictions file (formats as in \`visioneval metrics --help\`)
  --labels FILE       labels file when they are not in the predictions file
  --logits | --probs  what the values are (default: detected)
  --bins N            calibration bins (default 15)
  --out DIR           output directory (default out/calibrate)
  --json              print calibration.json`;

/** Runs `calibrate --predictions`. */
export async function run(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      predictions: { type: "string" },
      labels: { type: "string" },
      logits: { type: "boolean" },
      probs: { type: "boolean" },
      bins: { type: "string", default: "15" },
      out: { type: "string", default: "out/calibrate" },
      json: { type: "boolean" },
    },
    strict: true,
  });
  if (!v.predictions) throw new UsageError("--predictions FILE is required");
  if (v.logits && v.probs) throw new UsageError("give at most one of --logits and --probs");
  const bins = intOption(v.bins!, "--bins", 1, 1000);
  const preds = await readPredictions(v.predictions, {
    labels: v.labels,
    kind: v.logits ? "logits" : v.probs ? "probs" : "auto",
  });
  const logits = preds.kind === "logits"
    ? preds.values
    : Float64Array.from(preds.values, (p) => Math.log(Math.max(p, 1e-300)));
  const fit = fitTemperature(logits, preds.labels, preds.numClasses, bins);
  await Deno.mkdir(v.out!, { recursive: true });
  const out = {
    num_samples: preds.n,
    num_classes: preds.numClasses,
    input: preds.kind,
    bins,
    ...fit,
    run: { command: "calibrate", predictions: preds.sources, version: VERSION },
  };
  const path = join(v.out!, "calibration.json");
  await Deno.writeTextFile(path, JSON.stringify(out, null, 2) + "\n");
  if (v.json) console.log(JSON.stringify(out, null, 2));
  else {
    console.log(`  temperature  ${fit.temperature.toFixed(6)}`);
    console.log(`  NLL          ${fit.nll_before.toFixed(4)} -> ${fit.nll_after.toFixed(4)}`);
    console.log(`  ECE          ${fit.ece_before.toFixed(4)} -> ${fit.ece_after.toFixed(4)}`);
    console.log(`  MCE          ${fit.mce_before.toFixed(4)} -> ${fit.mce_after.toFixed(4)}`);
    console.log(`wrote ${path}`);
  }
}
