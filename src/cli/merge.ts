/** `visioneval merge`: combines shard metric states into one report. */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { UsageError } from "../errors.ts";
import { mergeSnapshots } from "../metrics/snapshot.ts";
import { loadShardSnapshots, saveSnapshot } from "../metrics/state_file.ts";
import { computeMetrics } from "../metrics/report.ts";
import { mergedAnalyses } from "../metrics/merge_analyses.ts";
import { summaryTable } from "./metrics.ts";
import { intArg } from "./options.ts";
import { StagedOutput, withStagedOutput } from "../report/output_dir.ts";

/** What `merge` writes into --out (replaced together). */
const MERGE_OUTPUTS = ["metrics.json", "state.safetensors"];
import { VERSION } from "../version.ts";

/** Usage text. */
export const HELP = `usage: visioneval merge STATE... [--out DIR]

Merges the state.safetensors files of shards (eval --shard i/n, or metrics
runs over parts of a dataset) and writes the metrics.json one pass over all
the data would have produced, plus the merged state.safetensors. Refused,
naming the two files: states holding the same samples (the same file twice,
a shard with the full run, metrics parts without --sample-offset), states of
different models, datasets, class names or pipelines, an \`eval\` state with a
\`metrics\` state, and states with inconsistent counts. States written before
provenance was recorded are merged with a warning.

options:
  --out DIR        output directory (default out/merged)
  --topk K         k of the top-k entry, 1..10 (default 5)
  --bootstrap R    bootstrap replicates (default 200; 0 = off)
  --seed S         bootstrap seed (default 0)
  --no-temperature skip temperature scaling (done when every state kept its logits)
  --json           print metrics.json instead of the summary table`;

/** Runs `merge`. */
export async function run(args: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args,
    options: {
      out: { type: "string", default: "out/merged" },
      topk: { type: "string", default: "5" },
      bootstrap: { type: "string", default: "200" },
      seed: { type: "string", default: "0" },
      json: { type: "boolean" },
      "no-temperature": { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length === 0) throw new UsageError("give at least one state file");
  const topk = intArg(v.topk!, "--topk", 1, 10);
  const bootstrap = intArg(v.bootstrap!, "--bootstrap", 0, 100000);
  const seed = intArg(v.seed!, "--seed", 0, 2 ** 31);
  // Written all-or-nothing: metrics.json and the merged state always belong together.
  const staged = await StagedOutput.open(v.out!, MERGE_OUTPUTS);
  const { out, report } = await withStagedOutput(staged, "metrics.json", async (path) => {
    const warn = (w: string) => console.error(`visioneval: warning: ${w}`);
    const parts = await loadShardSnapshots(positionals);
    const merged = mergeSnapshots(parts, { names: positionals, onWarning: warn });
    const report = computeMetrics(merged, {
      topk,
      bootstrap,
      seed,
      temperatureScaling: !v["no-temperature"],
    });
    // Images the shards skipped, listed as one `eval` over all of them lists them.
    const failed = merged.provenance?.failed;
    const out = {
      ...report,
      ...mergedAnalyses(merged, parts, positionals, warn),
      ...(failed ? { failed } : {}),
      run: { command: "merge", states: positionals, version: VERSION },
    };
    await Deno.writeTextFile(path("metrics.json"), JSON.stringify(out, null, 2) + "\n");
    await saveSnapshot(path("state.safetensors"), merged);
    return { out, report };
  });
  if (v.json) console.log(JSON.stringify(out, null, 2));
  else {
    console.log(summaryTable(report));
    const failed = out.failed ?? [];
    if (failed.length) {
      console.log(
        `skipped ${failed.length} image(s); first: ${failed[0].path}: ${failed[0].reason}`,
      );
    }
    console.log(`merged ${positionals.length} states into ${join(v.out!, "metrics.json")}`);
  }
}
