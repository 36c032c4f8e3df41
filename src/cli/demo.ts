/**
 * `visioneval demo`: the main job with its defaults, runnable from a bare
 * clone. With `../shared/fixtures` beside the repository it evaluates the
 * CIFAR-10 ResNet-20 on a stratified sample of the CIFAR-10 test JPEGs;
 * otherwise it generates a synthetic model and image set and evaluates that.
 */
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { join, resolve } from "node:path";
import { run as runEval } from "./eval.ts";
import { intArg } from "./options.ts";
import { writeSyntheticImages, writeSyntheticModel } from "../demo/synthetic.ts";
import { csvLine, parseCsv } from "../csv.ts";

/** Usage text. */
export const HELP = `usage: visioneval demo [--out DIR] [--per-class N] [--synthetic]

Runs a complete evaluation with default settings and writes metrics.json,
predictions.csv, state.safetensors and report.html into --out (default out/demo):
  - with ../shared/fixtures present: CIFAR-10 ResNet-20 on N test JPEGs per class
  - otherwise (or with --synthetic): a generated colour-classifier ResNet on
    generated PNG images

  --per-class N   images per class (default 20)
  --synthetic     use the generated model and images even if fixtures exist
  --explain N     Grad-CAM maps of the N most confident mistakes (default 4)`;

/** Where the shared fixtures are (next to the repository), or undefined. */
export function fixturesDir(): string | undefined {
  const dir = Deno.env.get("VISIONEVAL_FIXTURES") ??
    fileURLToPath(new URL("../../../shared/fixtures", import.meta.url));
  try {
    return Deno.statSync(dir).isDirectory ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** Runs `demo`. */
export async function run(args: string[]): Promise<void> {
  const { values: v } = parseArgs({
    args,
    options: {
      out: { type: "string", default: "out/demo" },
      "per-class": { type: "string", default: "20" },
      synthetic: { type: "boolean" },
      explain: { type: "string", default: "4" },
    },
    strict: true,
  });
  const perClass = intArg(v["per-class"], "--per-class", 1, 100000)!;
  const out = resolve(v.out!);
  await Deno.mkdir(out, { recursive: true });
  const fixtures = v.synthetic ? undefined : fixturesDir();
  let model: string, data: string;
  if (fixtures) {
    // A stratified sample: the first N images of every class, as a labels CSV.
    const root = join(fixtures, "data/cifar10-test");
    const rows = parseCsv(Deno.readTextFileSync(join(root, "labels.csv"))).slice(1);
    const taken = new Map<string, number>();
    const lines = ["path,label"];
    for (const [path, label] of rows) {
      const n = taken.get(label) ?? 0;
      if (n >= perClass) continue;
      taken.set(label, n + 1);
      lines.push(csvLine([join(root, path), label]));
    }
    data = join(out, "cifar10-sample.csv");
    await Deno.writeTextFile(data, lines.join("\n") + "\n");
    model = join(fixtures, "models/resnet-cifar10/resnet20");
    console.log(`demo: ResNet-20 on ${lines.length - 1} CIFAR-10 test JPEGs from ${fixtures}`);
  } else {
    model = join(out, "synthetic-model");
    data = join(out, "synthetic-images");
    await writeSyntheticModel(model);
    const n = await writeSyntheticImages(data, perClass);
    console.log(`demo: no fixtures found; generated a colour-classifier ResNet and ${n} images`);
  }
  await runEval([
    "--model",
    model,
    "--data",
    data,
    "--out",
    out,
    "--explain",
    v.explain!,
    "--embed",
    "pca",
  ]);
  console.log(`open ${join(out, "report.html")} in a browser to see the report`);
}
