/**
 * `deno bench -A bench/metrics_bench.ts`: the metrics pass from logits on the
 * GPU (upload, fused softmax/top-k/NLL/Brier/confusion/calibration/ranking
 * reductions, one readback, float64 finish). Sizes are kept small enough for
 * a software adapter; samples/s = N / time. The full N = 200,000, C = 1,000
 * run is bench/metrics_full_run.ts, compared with scikit-learn
 * (bench/peers/sklearn_metrics.py) in bench/RESULTS.md.
 */
import { Engine } from "../src/gpu/engine.ts";
import { snapshotFromArrays } from "../src/metrics/state.ts";
import { computeMetrics } from "../src/metrics/report.ts";
import { computeMetricsFromArrays } from "../src/metrics/report.ts";
import { benchData } from "./metrics_data.ts";

const engine = await Engine.create();

for (const [n, C] of [[2000, 1000], [20000, 10]]) {
  const { labels, logits } = benchData(n, C);
  await snapshotFromArrays(engine, logits.subarray(0, 16 * C), labels.subarray(0, 16), {
    numClasses: C,
  });
  Deno.bench({
    name: `metrics pass GPU N=${n} C=${C} (samples/s = ${n} / time)`,
    group: `metrics N=${n} C=${C}`,
    baseline: true,
    async fn() {
      computeMetrics(await snapshotFromArrays(engine, logits, labels, { numClasses: C }));
    },
  });
  Deno.bench({
    name: `metrics float64 CPU reference N=${n} C=${C}`,
    group: `metrics N=${n} C=${C}`,
    fn() {
      computeMetricsFromArrays(labels, logits, {
        numClasses: C,
        keepScores: false,
        keepLogits: false,
      });
    },
  });
}
