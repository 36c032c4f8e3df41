/** `visioneval calibrate`: temperature scaling of stored predictions. */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { UsageError } from "../errors.ts";
import { readPredictions } from "../metrics/io.ts";
import { fitTemperature, type TemperatureScaling } from "../metrics/calibration.ts";
import { reliabilityDiagramSvg } from "../report/reliability.ts";
import { intArg } from "./options.ts";
import { StagedOutput, withStagedOutput } from "../report/output_dir.ts";

/** What `calibrate` writes into --out (replaced together). */
const CALIBRATE_OUTPUTS = ["calibration.json", "reliability_before.svg", "reliability_after.svg"];
import { VERSION } from "../version.ts";

/** Usage text. */
export const HELP = `usage: visioneval calibrate --predictions FILE [--labels FILE] --out DIR
       visioneval calibrate --model PATH --data PATH [--labels CSV] [--limit N] --out DIR

Fits the temperature T that minimises the mean negative log-likelihood of
softmax(logits / T) (T in [0.05, 20], Newton on 1/T where the NLL is convex,
float64) and writes calibration.json: T, NLL / ECE / MCE before and after, and both
reliability tables, plus reliability_before.svg and reliability_after.svg.
With --model and --data the logits come from running the model over the
dataset on the GPU (as \`eval\` does). Probabilities are accepted too (their logarithms are
used as logits; zero probabilities are clipped to 1e-300).

options:
  --predictions FILE  predictions file (formats as in \`visioneval metrics --help\`)
  --model PATH        model folder or .safetensors (instead of --predictions)
  --data PATH         dataset for --model (formats as in \`visioneval eval --help\`)
  --limit N           only the first N images of --data
  --batch N           images per batch for --model (default 32)
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
      model: { type: "string" },
      data: { type: "string" },
      limit: { type: "string" },
      batch: { type: "string" },
      labels: { type: "string" },
      logits: { type: "boolean" },
      probs: { type: "boolean" },
      bins: { type: "string", default: "15" },
      out: { type: "string", default: "out/calibrate" },
      json: { type: "boolean" },
    },
    strict: true,
  });
  if (Boolean(v.predictions) === Boolean(v.model)) {
    throw new UsageError("give either --predictions FILE or --model PATH with --data PATH");
  }
  if (v.model && !v.data) throw new UsageError("--model needs --data PATH");
  if (v.logits && v.probs) throw new UsageError("give at most one of --logits and --probs");
  const bins = intArg(v.bins!, "--bins", 1, 1000);
  let fit: TemperatureScaling, n: number, numClasses: number, input: string, sources: unknown;
  if (v.predictions) {
    const preds = await readPredictions(v.predictions, {
      labels: v.labels,
      kind: v.logits ? "logits" : v.probs ? "probs" : "auto",
    });
    const logits = preds.kind === "logits"
      ? preds.values
      : Float64Array.from(preds.values, (p) => Math.log(Math.max(p, 1e-300)));
    fit = fitTemperature(logits, preds.labels, preds.numClasses, bins);
    [n, numClasses, input, sources] = [preds.n, preds.numClasses, preds.kind, preds.sources];
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
    if (!r.metrics.temperature_scaling) throw new Error("temperature scaling was not fitted");
    fit = r.metrics.temperature_scaling;
    [n, numClasses, input, sources] = [r.metrics.num_samples, r.metrics.num_classes, "logits", {
      model: r.metrics.run.model,
      data: r.metrics.run.data,
      failed: r.metrics.failed,
    }];
  }
  const out = {
    num_samples: n,
    num_classes: numClasses,
    input,
    bins,
    ...fit,
    run: { command: "calibrate", source: sources, version: VERSION },
  };
  const diagrams = [
    ["reliability_before.svg", fit.reliability_before, "Before (T = 1)"],
    ["reliability_after.svg", fit.reliability_after, `After (T = ${fit.temperature.toFixed(3)})`],
  ] as const;
  // All-or-nothing: calibration.json (the marker) and its diagrams come from one run.
  const staged = await StagedOutput.open(v.out!, CALIBRATE_OUTPUTS);
  await withStagedOutput(staged, "calibration.json", async (stagedPath) => {
    await Deno.writeTextFile(stagedPath("calibration.json"), JSON.stringify(out, null, 2) + "\n");
    for (const [file, table, title] of diagrams) {
      await Deno.writeTextFile(stagedPath(file), reliabilityDiagramSvg(table, { title }));
    }
  });
  const path = join(v.out!, "calibration.json");
  if (v.json) console.log(JSON.stringify(out, null, 2));
  else {
    console.log(`  temperature  ${fit.temperature.toFixed(6)}`);
    console.log(`  NLL          ${fit.nll_before.toFixed(4)} -> ${fit.nll_after.toFixed(4)}`);
    console.log(`  ECE          ${fit.ece_before.toFixed(4)} -> ${fit.ece_after.toFixed(4)}`);
    console.log(`  MCE          ${fit.mce_before.toFixed(4)} -> ${fit.mce_after.toFixed(4)}`);
    console.log(`wrote ${path} and ${diagrams.map(([f]) => join(v.out!, f)).join(", ")}`);
  }
}
