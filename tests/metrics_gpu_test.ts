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
import { mulberry32 } from "../src/random.ts";
import { HAVE_SKLEARN, runPython } from "./_calibration_refs.ts";
import { fromFileUrl } from "./_path.ts";
import { join } from "node:path";

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

/** Edge cases checked against scikit-learn (scripts/qa/metric_edges_ref.py), float32-exact logits. */
function edgeCases(): { name: string; C: number; labels: number[]; logits: Float64Array }[] {
  const r = mulberry32(11);
  const make = (name: string, n: number, C: number, value: () => number) => ({
    name,
    C,
    labels: Array.from({ length: n }, () => Math.floor(r() * C)),
    logits: Float64Array.from({ length: n * C }, () => Math.fround(value())),
  });
  return [
    // Integer logits: many rows are permutations of each other, so probabilities tie exactly.
    make("tied integer logits", 60, 7, () => Math.floor(r() * 3)),
    // Probabilities below float32's range and true-class probabilities of 0 (log loss clipped).
    make("huge logits", 40, 5, () => (r() - 0.5) * 2e4),
    // Binary with margins up to 40: float32 rounds most probabilities to 1 (ties).
    make("binary, confident", 50, 2, () => (r() - 0.5) * 80),
  ];
}

const sklearnTest = HAVE_SKLEARN ? Deno.test : Deno.test.ignore;
sklearnTest(
  `metrics gpu: tied, huge and binary-confident logits match scikit-learn on their float64 softmax${
    HAVE_SKLEARN ? "" : " (skipped: python3 cannot import scikit-learn)"
  }`,
  async () => {
    const script = fromFileUrl(new URL("../scripts/qa/metric_edges_ref.py", import.meta.url));
    const dir = Deno.makeTempDirSync({ prefix: "visioneval_edges_" });
    for (const c of edgeCases()) {
      const rows = Array.from(
        { length: c.labels.length },
        (_, i) => Array.from(c.logits.subarray(i * c.C, (i + 1) * c.C)),
      );
      const file = join(dir, "case.json");
      Deno.writeTextFileSync(
        file,
        JSON.stringify({ values: rows, labels: c.labels, kind: "logits", k: 3 }),
      );
      const ref = JSON.parse(await runPython([script, file]));
      for (const layout of ["row-per-thread", "row-per-workgroup"] as const) {
        const snap = await gpuSnapshot(c.labels, c.logits, c.C, "logits", 16, layout);
        const m = computeMetrics(snap, { topk: 3 });
        const at = `${c.name} (${layout})`;
        const close = (got: unknown, want: unknown, tol: number, what: string) => {
          const g = [got].flat(2) as (number | null)[], w = [want].flat(2) as (number | null)[];
          assert.equal(g.length, w.length, `${at} ${what}`);
          g.forEach((v, i) => {
            if (w[i] === null) return assert.equal(v, null, `${at} ${what}[${i}]`);
            assert.ok(Math.abs(v! - w[i]!) <= tol, `${at} ${what}[${i}]: ${v} vs ${w[i]}`);
          });
        };
        for (const key of ["top1", "balanced_accuracy", "mcc", "cohen_kappa"] as const) {
          close(m[key], ref[key], 1e-12, key);
        }
        close(m.topk.accuracy, ref.topk, 1e-12, "topk");
        close(m.topk.accuracy_sklearn_ties, ref.topk_sklearn_ties, 1e-12, "topk sklearn ties");
        close(m.confusion_matrix, ref.confusion_matrix, 0, "confusion");
        for (const key of ["precision", "recall", "f1"] as const) {
          for (const avg of ["macro", "weighted", "micro", "per_class"] as const) {
            close(m[key][avg], ref[key][avg], 1e-12, `${key}.${avg}`);
          }
        }
        // Exact ranking from the kept logits in float64: ties and tiny probabilities as sklearn sees them.
        close(m.auroc.per_class, ref.auroc, 1e-12, "auroc");
        close(m.auprc.per_class, ref.auprc, 1e-12, "auprc");
        // Float32 sums: a clipped log loss (-ln eps = 36.04) is added exactly.
        close(m.log_loss, ref.log_loss, 3e-7, "log_loss");
        close(m.brier, ref.brier, 3e-7, "brier");
        close(m.ece, ref.ece, 1e-6, "ece");
        close(m.mce, ref.mce, 1e-6, "mce");
      }
    }
  },
);
