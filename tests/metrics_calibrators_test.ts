/**
 * Post-hoc calibrators against float64 references (scripts/calibration/gen_refs.py):
 * scikit-learn IsotonicRegression and LogisticRegression, NumPy Newton fits of
 * vector / matrix scaling, SciPy's temperature, NumPy histogram binning. Each
 * method is fitted on one part of a case and applied to both parts; the
 * probabilities must agree to 1e-6. Also: the JSON round trip and user errors.
 */
import assert from "node:assert/strict";
import {
  CALIBRATION_METHODS,
  calibratorFromJson,
  calibratorToJson,
  fitCalibrator,
  parseMethods,
} from "../src/metrics/calibrators/index.ts";
import {
  fitTemperature,
  TEMPERATURE_RANGE,
  temperatureAtBound,
} from "../src/metrics/calibration.ts";
import { fitIsotonic, interpolate } from "../src/metrics/calibrators/isotonic.ts";
import { MetricsInputError } from "../src/errors.ts";
import { calibrationRefsTest } from "./_calibration_refs.ts";
import { assertAbsClose } from "./_helpers.ts";
import { mulberry32 } from "../src/random.ts";

calibrationRefsTest(
  "every method matches its reference to 1e-6 (fit and held-out parts)",
  (cases) => {
    const worst: string[] = [];
    for (const c of cases) {
      const C = c.num_classes, split = c.n_fit * C;
      const data = {
        logits: Float64Array.from(c.logits.slice(0, split)),
        labels: Int32Array.from(c.labels.slice(0, c.n_fit)),
        numClasses: C,
      };
      const held = Float64Array.from(c.logits.slice(split));
      const fitted: Record<string, Record<string, unknown>> = {};
      for (const method of CALIBRATION_METHODS) {
        const ref = c.methods[method];
        if (ref.refused) {
          assert.throws(
            () => fitCalibrator(method, data),
            MetricsInputError,
            `${c.name} ${method}`,
          );
          continue;
        }
        const t0 = performance.now();
        const cal = fitCalibrator(method, data);
        const ms = performance.now() - t0;
        fitted[method] = cal.params();
        const what = `${c.name} ${method}`;
        const dFit = assertAbsClose(cal.apply(data.logits), ref.fit!, 1e-6, `${what} (fit part)`);
        const dApply = assertAbsClose(cal.apply(held), ref.apply!, 1e-6, `${what} (held-out part)`);
        worst.push(`${what}: ${Math.max(dFit, dApply).toExponential(1)} (fit ${ms.toFixed(0)} ms)`);
        // The stored file gives the same probabilities.
        const again = calibratorFromJson(JSON.parse(JSON.stringify(calibratorToJson(cal))));
        assert.deepEqual(again.apply(held), cal.apply(held), `${what}: JSON round trip`);
      }
      // Temperature and Platt parameters themselves (the others: probabilities only).
      const t = fitted.temperature.temperature as number;
      assert.ok(Math.abs(t / (c.methods.temperature.params!.temperature as number) - 1) < 1e-6);
      const platt = fitted.platt;
      assertAbsClose(platt.a as number[], c.methods.platt.params!.a as number[], 1e-5, "platt a");
      assertAbsClose(platt.b as number[], c.methods.platt.params!.b as number[], 1e-5, "platt b");
    }
    console.log(`max |p - reference|:\n  ${worst.join("\n  ")}`);
  },
);

Deno.test("isotonic: pooled ties, PAVA, clipped linear interpolation", () => {
  // Targets 0,1,0,1 at 0.1,0.2,0.3,0.4 -> 0, .5, .5, 1; equal inputs 0.2 and 0.2 pool.
  const m = fitIsotonic([0.4, 0.1, 0.3, 0.2, 0.2], [1, 0, 0, 1, 1]);
  assert.deepEqual(m.x, [0.1, 0.2, 0.3, 0.4]);
  // 0.2 (mean 1) and 0.3 (0) violate: pooled to 2/3 at both.
  assert.deepEqual(m.y, [0, 2 / 3, 2 / 3, 1]);
  assert.equal(interpolate(m, 0), 0);
  assert.equal(interpolate(m, 0.9), 1);
  assertAbsClose([interpolate(m, 0.15), interpolate(m, 0.35)], [1 / 3, 5 / 6], 1e-15);
});

Deno.test("matrix scaling is refused when its parameters outnumber the samples", () => {
  const rand = mulberry32(3);
  const C = 10, n = 100; // 110 parameters
  const data = {
    logits: Float64Array.from({ length: n * C }, () => rand() * 4),
    labels: Int32Array.from({ length: n }, (_, i) => i % C),
    numClasses: C,
  };
  assert.throws(() => fitCalibrator("matrix", data), /110 parameters .* only 100 fitting samples/);
  // The other methods fit the same data, and every output row sums to 1.
  for (const method of CALIBRATION_METHODS.filter((m) => m !== "matrix")) {
    const p = fitCalibrator(method, data).apply(data.logits);
    for (let i = 0; i < n; i++) {
      const s = p.subarray(i * C, (i + 1) * C).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(s - 1) < 1e-12, `${method} row ${i} sums to ${s}`);
    }
  }
});

Deno.test("calibrator files: version, format, classes and parameters are checked", () => {
  const data = { logits: Float64Array.from([2, 0, 0, 1, 1, 0]), labels: [0, 1], numClasses: 3 };
  const file = calibratorToJson(fitCalibrator("temperature", data), { num_samples: 2 });
  assert.equal(file.version, 1);
  assert.equal(file.format, "visioneval-calibrator");
  assert.throws(
    () => calibratorFromJson({ ...file, version: 2 }, "c.json"),
    /c.json: calibrator version 2/,
  );
  assert.throws(
    () => calibratorFromJson({ ...file, format: "x" }, "c.json"),
    /not a visioneval calibrator/,
  );
  assert.throws(
    () =>
      calibratorFromJson({ ...file, method: "vector", params: { w: [1], b: [0, 0, 0] } }, "c.json"),
    /params.w must be 3 finite numbers/,
  );
  assert.throws(() => parseMethods("isotonic,beta"), /unknown calibration method "beta"/);
  assert.deepEqual(parseMethods("all"), [...CALIBRATION_METHODS]);
});

Deno.test("temperature: a fit that stops at an end of its range says why", () => {
  // Bug: 6 images, all classified right, gave T = 0.05 (NLL 0, every later prediction
  // near certain) with nothing said; calibrate now warns with the reason.
  const C = 3;
  const labels = [0, 1, 2, 0, 1, 2];
  const right = labels.flatMap((y) => [0, 1, 2].map((c) => (c === y ? 2 : 0)));
  const low = fitTemperature(right, labels, C);
  assert.ok(Math.abs(low.temperature - TEMPERATURE_RANGE[0]) < 1e-9, `T ${low.temperature}`);
  assert.match(
    temperatureAtBound(low.temperature)!,
    /bound 0.05: .*every fitting sample is classified right/,
  );
  // Confidently wrong everywhere: the flattest softmax is best.
  const wrong = labels.flatMap((y) => [0, 1, 2].map((c) => (c === (y + 1) % C ? 2 : 0)));
  const high = fitTemperature(wrong, labels, C);
  assert.ok(Math.abs(high.temperature - TEMPERATURE_RANGE[1]) < 1e-6 * TEMPERATURE_RANGE[1]);
  assert.match(temperatureAtBound(high.temperature)!, /bound 20: .*barely tell the classes apart/);
  // An interior optimum (one mistake among right answers) is not flagged.
  const mixed = [...right.slice(0, 15), ...wrong.slice(15)];
  const mid = fitTemperature(mixed, labels, C);
  assert.ok(mid.temperature > 0.1 && mid.temperature < 10, `T ${mid.temperature}`);
  assert.equal(temperatureAtBound(mid.temperature), undefined);
});
