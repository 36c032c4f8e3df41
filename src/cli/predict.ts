/** `visioneval predict`: top-k classes of individual images. */
import { parseArgs } from "node:util";
import { DataError, UsageError } from "../errors.ts";
import { describePipeline } from "../data/preprocess.ts";
import { inputSizeWarnings, modelPipeline } from "../models/pipeline.ts";
import { Engine } from "../gpu/engine.ts";
import { loadModel } from "../models/load.ts";
import { predict } from "../predict.ts";
import {
  intArg,
  PREPROCESS_HELP,
  PREPROCESS_OPTIONS,
  preprocessOverrides,
  printModelNotes,
} from "./options.ts";
import { join } from "node:path";
import { IMAGE_EXTENSIONS } from "../data/datasets.ts";
import { checkCalibratorClasses, readCalibrator } from "../metrics/calibrators/index.ts";

/** A folder's image files (by extension, any case), recursively and sorted; a file as given. */
export function expandFolder(path: string): string[] {
  let isDir = false;
  try {
    isDir = Deno.statSync(path).isDirectory;
  } catch {
    return [path]; // reported as unreadable by predict
  }
  if (!isDir) return [path];
  const out: string[] = [];
  const entries = [...Deno.readDirSync(path)].sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of entries) {
    if (e.name.startsWith(".")) continue;
    const full = join(path, e.name);
    if (e.isDirectory) out.push(...expandFolder(full));
    else if (IMAGE_EXTENSIONS.some((x) => e.name.toLowerCase().endsWith(x))) out.push(full);
  }
  return out;
}

/** Usage text. */
export const HELP =
  `usage: visioneval predict --model PATH IMAGE... [--topk 5] [--calibrator FILE] [--json]

Classifies images with the model's own preprocessing and prints the top-k
classes with their probabilities. A folder stands for the image files under it
(recursively, sorted); unreadable images are skipped and listed.

  --model PATH   model folder or .safetensors file
  --topk K       classes per image, 1..10 (default 5)
  --batch N      images per forward pass (default 16)
  --calibrator FILE  report the probabilities of a calibrator written by \`visioneval calibrate\`
  --json         print JSON
${PREPROCESS_HELP}`;

/** Runs `predict`. */
export async function run(args: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args,
    options: {
      model: { type: "string" },
      topk: { type: "string" },
      batch: { type: "string" },
      calibrator: { type: "string" },
      json: { type: "boolean" },
      ...PREPROCESS_OPTIONS,
    },
    allowPositionals: true,
    strict: true,
  });
  if (!v.model) throw new UsageError("--model PATH is required");
  if (positionals.length === 0) throw new UsageError("give at least one image");
  const images = positionals.flatMap(expandFolder);
  if (images.length === 0) throw new DataError(`no image files in ${positionals.join(", ")}`);
  const overrides = preprocessOverrides(v); // usage errors before the model loads
  const calibrator = v.calibrator ? await readCalibrator(v.calibrator) : undefined;
  const engine = await Engine.create();
  const model = await loadModel(v.model, engine);
  if (calibrator) checkCalibratorClasses(calibrator, model.numClasses, v.calibrator!);
  const pipeline = modelPipeline(model, overrides);
  printModelNotes(model);
  for (const w of [...pipeline.warnings, ...inputSizeWarnings(model, pipeline)]) {
    console.error(`visioneval: warning: ${w}`);
  }
  console.error(`pipeline   ${describePipeline(pipeline)}`);
  // Unreadable images are skipped and listed; the others still get their predictions.
  const failed: { path: string; reason: string }[] = [];
  const preds = await predict(model, images, {
    engine,
    topk: intArg(v.topk, "--topk", 1, 10),
    batch: intArg(v.batch, "--batch", 1, 4096),
    preprocess: overrides,
    failed,
    calibrator,
  });
  for (const f of failed) console.error(`skipped ${f.path}: ${f.reason}`);
  if (failed.length === images.length) {
    throw new DataError(`none of the ${failed.length} image(s) could be read`);
  }
  if (v.json) {
    console.log(JSON.stringify(preds, null, 2));
    return;
  }
  for (const p of preds) {
    console.log(p.path);
    for (const t of p.top) {
      console.log(`  ${t.probability.toFixed(4)}  ${String(t.class).padStart(5)}  ${t.name}`);
    }
  }
}
