/**
 * The GPU metric state reproduces every metric fixture case: counts and
 * exact metrics within 1e-9, float-summed ones (log loss, Brier, ECE) within
 * 1e-6, binned AUROC within its reported error bound of the exact value.
 * Its histograms equal the float64 CPU reference's.
 */
import assert from "node:assert/strict";
import { fixtureTest } from "./_helpers.ts";
import { assertReportMatches, flat, loadCase, metricCaseNames } from "./_metrics_fixtures.ts";
import { Engine } from "../src/gpu/engine.ts";
import { engineOn } from "./_kernel_paths.ts";
import { MetricState } from "../src/metrics/state.ts";
import { computeMetrics } from "../src/metrics/report.ts";
import { accumulateArrays } from "../src/metrics/snapshot.ts";

const engine = await Engine.create();
/** The GPU kernel path's engine: its row-per-workgroup layout gives rows 128 threads, not 64. */
const gpuPathEngine = await engineOn("gpu");

async function gpuSnapshot(
  labels: number[],
  values: Float64Array,
  C: number,
  input: "logits" | "probs",
  batch: number,
  layout: "row-per-thread" | "row-per-workgroup",
  on: Engine = engine,
) {
  const state = MetricState.create(on, {
    numClasses: C,
    input,
    keepScores: true,
    keepLogits: input === "logits",
    layout,
  });
  const n = labels.length;
  const tensors = [];
  for (let i = 0; i < n; i += batch) {
    const rows = Math.min(batch, n - i);
    const t = on.upload(Float32Array.from(values.subarray(i * C, (i + rows) * C)), [rows, C]);
    state.update(t, Int32Array.from(labels.slice(i, i + rows)));
    tensors.push(t);
  }
  const snap = await state.snapshot();
  state.release();
  tensors.forEach((t) => t.release());
  return snap;
}

for (const file of metricCaseNames()) {
  fixtureTest(`metrics gpu: ${file} from probabilities (row per thread)`, async () => {
    const c = loadCase(file);
    const probs = flat(c.probs);
    const snap = await gpuSnapshot(c.labels, probs, c.num_classes, "probs", 257, "row-per-thread");
    const r = computeMetrics(snap);
    const d = assertReportMatches(r, c, {
      exact: 1e-9,
      summed: 1e-6,
      calibration: 1e-6,
      ranking: 1e-5,
    });
    // Binned AUROC agrees with the exact value within its own bound.
    const binned = r.auroc_binned!;
    r.auroc.per_class.forEach((v, k) => {
      if (v === null) return;
      const err = Math.abs(binned.per_class[k]! - v);
      assert.ok(
        err <= binned.max_error![k]! + 1e-6,
        `class ${k}: binned err ${err} > bound ${binned.max_error![k]}`,
      );
    });
    // Same histograms as the float64 reference (binning of float32 values).
    const ref = accumulateArrays(c.labels, probs, { numClasses: c.num_classes, input: "probs" });
    assert.deepEqual(snap.calibCount, ref.calibCount);
    assert.deepEqual(snap.classwiseCount, ref.classwiseCount);
    console.log(
      `  ${file}: max diff exact ${d.exact.toExponential(1)}, ranking ${
        d.ranking.toExponential(1)
      }, summed ${d.summed.toExponential(1)}, calibration ${d.calibration.toExponential(1)}`,
    );
  });
  for (const path of ["software", "gpu"] as const) {
    fixtureTest(
      `metrics gpu: ${file} from logits (row per workgroup) [${path} kernels]`,
      async () => {
        const c = loadCase(file);
        if (!c.logits) return;
        const snap = await gpuSnapshot(
          c.labels,
          flat(c.logits),
          c.num_classes,
          "logits",
          64,
          "row-per-workgroup",
          path === "gpu" ? gpuPathEngine : engine,
        );
        const r = computeMetrics(snap, { temperatureScaling: true });
        const d = assertReportMatches(r, c, {
          exact: 1e-9,
          summed: 1e-6,
          calibration: 1e-6,
          ranking: 1e-5,
        });
        const e = c.expected.temperature_scaling;
        const t = r.temperature_scaling!;
        assert.ok(
          Math.abs(t.temperature / e.temperature - 1) < 1e-5,
          `T ${t.temperature} vs ${e.temperature}`,
        );
        assert.ok(Math.abs(t.nll_after - e.nll_after) < 1e-6);
        if (e["ece_after_stable_within_T_rel_1e-6"]) {
          assert.ok(Math.abs(t.ece_after - e.ece_after) < 1e-6);
        }
        console.log(
          `  ${file} (logits): max diff exact ${d.exact.toExponential(1)}, ranking ${
            d.ranking.toExponential(1)
          }, summed ${d.summed.toExponential(1)}, calibration ${d.calibration.toExponential(1)}`,
        );
      },
    );
  }
}
