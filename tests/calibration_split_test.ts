/**
 * Calibration on a split: the seeded stratified split, and end to end on the
 * CIFAR-10 ResNet-20 (200 test JPEGs): `eval --calibration-split` gives the
 * table scripts/calibration/gen_refs.py computes with scikit-learn / NumPy from
 * the same logits; `calibrate --run` writes a calibrator that `eval
 * --calibrator` and `predict --calibrator` apply.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { stratifiedSplit } from "../src/metrics/calibration_split.ts";
import { calibrationSplitReport } from "../src/metrics/calibration_split.ts";
import { loadSnapshot } from "../src/metrics/state_file.ts";
import { readCalibrator } from "../src/metrics/calibrators/index.ts";
import { MetricsInputError } from "../src/errors.ts";
import { fromFileUrl } from "./_path.ts";
import { fixture, HAVE_FIXTURES } from "./_helpers.ts";
import { HAVE_SKLEARN, runPython } from "./_calibration_refs.ts";
import { parseCsv } from "../src/report/csv.ts";
import { runCli as cli } from "./_helpers.ts";

Deno.test("stratifiedSplit: round(F n_k) of each class, disjoint, complete, seeded", () => {
  const labels = [...Array(10).fill(0), ...Array(7).fill(1), 2, ...Array(4).fill(3)];
  const a = stratifiedSplit(labels, 0.3, 5);
  assert.deepEqual(a, stratifiedSplit(labels, 0.3, 5));
  assert.notDeepEqual(a.fit, stratifiedSplit(labels, 0.3, 6).fit);
  assert.deepEqual([...a.fit, ...a.held].sort((x, y) => x - y), labels.map((_, i) => i));
  for (const [k, n] of [[0, 10], [1, 7], [2, 1], [3, 4]]) {
    assert.equal(a.fit.filter((i) => labels[i] === k).length, Math.round(0.3 * n), `class ${k}`);
  }
  // A split that leaves nothing to measure on is refused, naming the counts.
  assert.throws(
    () => calibrationSplitReport([1, 0], [0], 2, { fraction: 0.5, methods: ["temperature"] }),
    (e) =>
      e instanceof MetricsInputError && /leaves 1 samples to fit and 0 to evaluate/.test(e.message),
  );
});

Deno.test("eval / calibrate: calibration options are checked before any work", async () => {
  const m = ["eval", "--model", "m", "--data", "d"];
  assert.equal((await cli([...m, "--calibration-split", "1"])).code, 2);
  assert.equal((await cli([...m, "--calibration-methods", "vector"])).code, 2);
  assert.equal(
    (await cli([...m, "--calibration-split", "0.5", "--calibration-methods", "beta"])).code,
    2,
  );
  assert.equal((await cli(["calibrate", "--run", "x", "--method", "vector,platt"])).code, 2);
  const missing = await cli(["calibrate", "--run", "/nonexistent-run", "--out", "/tmp/x"]);
  assert.equal(missing.code, 1);
});

const e2e = HAVE_FIXTURES && HAVE_SKLEARN;
Deno.test({
  name: e2e
    ? "CIFAR ResNet-20: --calibration-split table = scikit-learn/NumPy; the calibrator file applies"
    : "CIFAR ResNet-20 calibration end to end (skipped: needs ../shared/fixtures and python3 with sklearn)",
  ignore: !e2e,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "visioneval-calib-" });
    // 20 test JPEGs of each class (absolute paths in a labels CSV).
    const root = fixture("data", "cifar10-test");
    const rows = parseCsv(Deno.readTextFileSync(join(root, "labels.csv"))).slice(1)
      .filter((r) => r.length >= 3);
    const seen = new Map<string, number>();
    const lines = ["path,label"];
    for (const [path, , name] of rows) {
      if ((seen.get(name) ?? 0) >= 20) continue;
      seen.set(name, (seen.get(name) ?? 0) + 1);
      lines.push(`${join(root, path)},${name}`);
    }
    const csv = join(dir, "cifar200.csv");
    Deno.writeTextFileSync(csv, lines.join("\n") + "\n");
    const model = fixture("models", "resnet-cifar10", "resnet20");
    const run = join(dir, "run");
    const r1 = await cli([
      "eval",
      "--model",
      model,
      "--data",
      csv,
      "--calibration-split",
      "0.5",
      "--bootstrap",
      "0",
      "--out",
      run,
    ]);
    assert.equal(r1.code, 0, r1.out);
    assert.match(r1.out, /calibration fitted on 100 images, measured on 100/);
    const metrics = JSON.parse(Deno.readTextFileSync(join(run, "metrics.json")));
    const split = metrics.calibration_split;
    assert.deepEqual([split.fit_samples, split.eval_samples, split.fraction], [100, 100, 0.5]);

    // The reference table from the same logits and the same split.
    const s = await loadSnapshot(join(run, "state.safetensors"));
    const labels = [...s.samples!.label];
    const parts = stratifiedSplit(labels, 0.5, 0);
    const input = join(dir, "table_in.json"), output = join(dir, "table_out.json");
    Deno.writeTextFileSync(
      input,
      JSON.stringify({
        logits: [...s.logits!],
        labels,
        num_classes: 10,
        bins: 15,
        ...parts,
      }),
    );
    const script = fromFileUrl(new URL("../scripts/calibration/gen_refs.py", import.meta.url));
    await runPython([script, "--table", input, output]);
    const ref = JSON.parse(Deno.readTextFileSync(output)).rows;
    assert.deepEqual(
      split.rows.map((r: { method: string }) => r.method),
      ref.map((r: { method: string }) => r.method),
    );
    for (let i = 0; i < ref.length; i++) {
      const got = split.rows[i], want = ref[i];
      if (want.refused) {
        // 100 fitting samples < 110 parameters of 10-class matrix scaling.
        assert.match(got.refused, /110 parameters .* only 100 fitting samples/);
        continue;
      }
      for (const key of ["nll", "brier", "ece", "ace", "classwise_ece", "accuracy"]) {
        assert.ok(
          Math.abs(got[key] - want[key]) <= 1e-6,
          `${want.method} ${key}: ${got[key]} vs reference ${want[key]}`,
        );
      }
    }
    const html = Deno.readTextFileSync(join(run, "report.html"));
    assert.match(html, /id="calibration-methods"/);
    for (const m of ["Uncalibrated", "temperature", "isotonic", "histogram"]) {
      assert.match(html, new RegExp(`<svg[^>]*>[\\s\\S]*?${m}`), `diagram of ${m}`);
    }

    // calibrate --run: isotonic on all 200 images, then eval / predict --calibrator apply it.
    const calDir = join(dir, "cal");
    const r2 = await cli(["calibrate", "--run", run, "--method", "isotonic", "--out", calDir]);
    assert.equal(r2.code, 0, r2.out);
    const calFile = join(calDir, "calibrator.json");
    const stored = JSON.parse(Deno.readTextFileSync(calFile));
    assert.deepEqual([stored.format, stored.version, stored.method, stored.num_classes], [
      "visioneval-calibrator",
      1,
      "isotonic",
      10,
    ]);
    const calibrator = await readCalibrator(calFile);
    const calibrated = calibrator.apply(s.logits!);
    const r3 = await cli([
      "eval",
      "--model",
      model,
      "--data",
      csv,
      "--calibrator",
      calFile,
      "--bootstrap",
      "0",
      "--no-report",
      "--out",
      join(dir, "run2"),
    ]);
    assert.equal(r3.code, 0, r3.out);
    const m2 = JSON.parse(Deno.readTextFileSync(join(dir, "run2", "metrics.json")));
    const calibration = JSON.parse(Deno.readTextFileSync(join(calDir, "calibration.json")));
    // Fitted and measured on the same 200 images: calibrate's "after" = eval's calibrated row.
    for (const key of ["nll", "brier", "ece", "ace", "classwise_ece", "accuracy"]) {
      assert.ok(Math.abs(m2.calibrated.rows[1][key] - calibration.after[key]) <= 1e-9, key);
    }
    assert.ok(
      m2.calibrated.rows[1].ece < m2.calibrated.rows[0].ece,
      "isotonic lowers in-sample ECE",
    );

    // predict --calibrator: the top class's probability is the calibrated one.
    const picks = [0, 57, 133];
    const r4 = await cli([
      "predict",
      "--model",
      model,
      "--calibrator",
      calFile,
      "--json",
      "--topk",
      "1",
      ...picks.map((i) => lines[1 + s.samples!.index[i]].split(",")[0]),
    ]);
    assert.equal(r4.code, 0, r4.out);
    const preds = JSON.parse(r4.out);
    picks.forEach((i, j) => {
      const row = calibrated.subarray(i * 10, i * 10 + 10);
      const best = row.indexOf(Math.max(...row));
      assert.equal(preds[j].top[0].class, best, `image ${i}`);
      assert.ok(Math.abs(preds[j].top[0].probability - row[best]) < 1e-4, `image ${i}`);
    });
    await Deno.remove(dir, { recursive: true });
  },
});
