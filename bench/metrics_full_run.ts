/**
 * One full metrics pass from logits on the GPU, timed, for bench/RESULTS.md:
 * `deno run -A bench/metrics_full_run.ts [N] [C] [--exact]` (default
 * N = 200,000, C = 1,000). Uses the same seeded data as
 * bench/metrics_data.ts, which also writes it as .npy for the scikit-learn
 * peer. Prints JSON: seconds for upload + GPU reductions + readback, for the
 * float64 finish, the total, samples/s, and the headline metrics.
 */
import { Engine } from "../src/gpu/engine.ts";
import { snapshotFromArrays } from "../src/metrics/state.ts";
import { computeMetrics } from "../src/metrics/report.ts";
import { benchData } from "./metrics_data.ts";

const args = Deno.args.filter((a) => !a.startsWith("--"));
const exact = Deno.args.includes("--exact");
const n = Number(args[0] ?? 200_000), C = Number(args[1] ?? 1000);
const { labels, logits } = benchData(n, C);
const engine = await Engine.create();
// Warm-up: compile the pipeline on a small slice.
await snapshotFromArrays(engine, logits.subarray(0, 64 * C), labels.subarray(0, 64), {
  numClasses: C,
});
const t0 = performance.now();
const snap = await snapshotFromArrays(engine, logits, labels, { numClasses: C, keepScores: exact });
const t1 = performance.now();
const r = computeMetrics(snap);
const t2 = performance.now();
const total = (t2 - t0) / 1000;
console.log(JSON.stringify(
  {
    adapter: engine.gpu.info.description,
    num_samples: n,
    num_classes: C,
    ranking: r.auroc.method,
    gpu_seconds: (t1 - t0) / 1000,
    finish_seconds: (t2 - t1) / 1000,
    seconds: total,
    samples_per_s: n / total,
    top1: r.top1,
    top5: r.top5,
    f1_macro: r.f1.macro,
    mcc: r.mcc,
    cohen_kappa: r.cohen_kappa,
    log_loss: r.log_loss,
    brier: r.brier,
    auroc_macro: r.auroc.macro,
    auroc_max_error_bound: r.auroc.max_error
      ? Math.max(...r.auroc.max_error.map((x) => x ?? 0))
      : 0,
    auprc_macro: r.auprc.macro,
    ece: r.ece,
    mce: r.mce,
  },
  null,
  1,
));
