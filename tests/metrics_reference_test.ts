/**
 * The float64 CPU reference reproduces every metric fixture case within
 * 1e-9 (computed from the stored float64 probabilities), including
 * temperature scaling from the stored logits.
 */
import assert from "node:assert/strict";
import { fixtureTest } from "./_helpers.ts";
import { assertReportMatches, flat, loadCase, metricCaseNames } from "./_metrics_fixtures.ts";
import { computeMetricsFromArrays } from "../src/metrics/report.ts";
import { fitTemperature } from "../src/metrics/calibration.ts";

for (const file of metricCaseNames()) {
  fixtureTest(`metrics reference: ${file} from float64 probabilities within 1e-9`, () => {
    const c = loadCase(file);
    const r = computeMetricsFromArrays(c.labels, flat(c.probs), {
      numClasses: c.num_classes,
      input: "probs",
    });
    assertReportMatches(r, c, { exact: 1e-9, summed: 1e-9, calibration: 1e-9 });
  });
  fixtureTest(`metrics reference: ${file} temperature scaling`, () => {
    const c = loadCase(file);
    if (!c.logits) return;
    const e = c.expected.temperature_scaling;
    const t = fitTemperature(flat(c.logits), c.labels, c.num_classes, 15);
    assert.ok(
      Math.abs(t.temperature / e.temperature - 1) < 1e-5,
      `T ${t.temperature} vs ${e.temperature}`,
    );
    assert.ok(Math.abs(t.nll_before - e.nll_before) < 1e-9);
    assert.ok(Math.abs(t.nll_after - e.nll_after) < 1e-9);
    if (e["ece_after_stable_within_T_rel_1e-6"]) {
      assert.ok(
        Math.abs(t.ece_after - e.ece_after) < 1e-6,
        `ece_after ${t.ece_after} vs ${e.ece_after}`,
      );
      assert.ok(Math.abs(t.mce_after - e.mce_after) < 1e-6);
      assert.deepEqual(t.reliability_after.map((b) => b.count), e.ece_bins_after.count);
    }
  });
}
