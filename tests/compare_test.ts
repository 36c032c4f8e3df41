/**
 * `compare` without the GPU: McNemar's exact p-value against
 * scipy.stats.binomtest (scripts/compare/mcnemar_ref.py) on a grid and on the
 * fixtures' ResNet-20 vs ResNet-56 predictions (5000 CIFAR-10 images), the
 * paired bootstrap (intervals hold the observed difference, shrink as
 * 1/sqrt(n)), and the refusals of runs that cannot be matched.
 */
import assert from "node:assert/strict";
import { fixture, fixtureTest } from "./_helpers.ts";
import { HAVE_SCIPY, PYTHON, scipyRef } from "./_scipy_ref.ts";
import { parseCsv } from "../src/csv.ts";
import { binomialTestHalf, mcnemar } from "../src/metrics/mcnemar.ts";
import { compareModels, comparisonSummary, type ModelRecords } from "../src/metrics/compare.ts";
import { matchRuns, type RunRecords } from "../src/compare.ts";
import { DataError } from "../src/errors.ts";
import { renderComparisonHtml } from "../src/report/compare_html.ts";
import type { Batch } from "../src/data/loader.ts";

function scipyTest(name: string, fn: () => Promise<void> | void): void {
  Deno.test({
    name: HAVE_SCIPY ? name : `${name} (skipped: ${PYTHON} cannot import scipy)`,
    ignore: !HAVE_SCIPY,
    fn,
  });
}

const REF = "reference/resnet-cifar10";

/** The fixture reference predictions of a CIFAR ResNet as per-image records (no probabilities). */
function referenceRun(name: string): RunRecords & ModelRecords {
  const rows = parseCsv(Deno.readTextFileSync(fixture(REF, `predictions_${name}.csv`))).slice(1);
  return {
    name,
    source: name,
    paths: rows.map((r) => r[0]),
    label: Int32Array.from(rows, (r) => Number(r[1])),
    pred: Int32Array.from(rows, (r) => Number(r[2])),
    conf: Float64Array.from(rows, (r) => Number(r[3])),
    nll: null,
    numClasses: 10,
    classNames: null,
    bins: 15,
  };
}

scipyTest("mcnemar: the exact binomial p-value equals scipy.stats.binomtest on a grid", () => {
  const grid = scipyRef("--grid") as { k: number; n: number; p_value: number }[];
  let worst = 0;
  for (const { k, n, p_value } of grid) {
    const p = binomialTestHalf(k, n);
    worst = Math.max(worst, Math.abs(p - p_value) / Math.max(p_value, 1e-300));
  }
  assert.ok(worst < 1e-10, `largest relative difference ${worst}`);
  assert.equal(binomialTestHalf(0, 0), 1);
  assert.throws(() => binomialTestHalf(3, 2), RangeError);
});

fixtureTest("mcnemar: ResNet-20 vs ResNet-56 counts and p-value equal scipy's", () => {
  if (!HAVE_SCIPY) return;
  const a = referenceRun("resnet20"), b = referenceRun("resnet56");
  const ref = scipyRef(
    fixture(REF, "predictions_resnet20.csv"),
    fixture(REF, "predictions_resnet56.csv"),
  ) as {
    b: number;
    c: number;
    p_value: number;
  };
  const m = matchRuns([a, b]);
  const okA = Array.from(m.models[0].pred, (p, i) => p === m.label[i]);
  const okB = Array.from(m.models[1].pred, (p, i) => p === m.label[i]);
  const test = mcnemar(okA, okB);
  assert.equal(test.b, ref.b);
  assert.equal(test.c, ref.c);
  assert.ok(Math.abs(test.p_value - ref.p_value) <= 1e-12 * ref.p_value, `${test.p_value}`);
  const c = compareModels(m.models, m.label, 10, { replicates: 200 });
  assert.deepEqual(c.pairs[0].mcnemar, test);
  assert.equal(c.pairs[0].agreement.a_only + c.pairs[0].agreement.both_right, 4051); // top-1 81.02%
});

fixtureTest(
  "paired bootstrap: intervals hold the observed difference and shrink as 1/sqrt(n)",
  () => {
    const a = referenceRun("resnet20"), b = referenceRun("resnet56");
    const all = compareModels([a, b], a.label, 10, { replicates: 400, seed: 3 });
    // The difference of the metrics on the matched set, by direct computation.
    const acc = (m: ModelRecords) => m.pred.filter((p, i) => p === a.label[i]).length / 5000;
    const d = all.pairs[0].differences;
    assert.ok(Math.abs(d.top1.value! - (acc(a) - acc(b))) < 1e-15);
    assert.equal(
      d.top1.value,
      all.models[0].metrics.top1.value! - all.models[1].metrics.top1.value!,
    );
    for (const k of ["top1", "macro_f1", "ece"] as const) {
      const x = d[k];
      assert.ok(
        x.interval!.lo <= x.value! && x.value! <= x.interval!.hi,
        `${k}: ${JSON.stringify(x)}`,
      );
      const own = all.models[0].metrics[k];
      assert.ok(own.interval!.lo <= own.value! && own.value! <= own.interval!.hi, k);
    }
    assert.equal(d.log_loss.value, null); // the reference CSVs carry no probabilities
    // A quarter of the images (every 4th, so all classes stay): intervals about twice as wide.
    const pick = (m: ModelRecords): ModelRecords => ({
      ...m,
      pred: m.pred.filter((_, i) => i % 4 === 0),
      conf: m.conf.filter((_, i) => i % 4 === 0),
    });
    const quarter = compareModels([pick(a), pick(b)], a.label.filter((_, i) => i % 4 === 0), 10, {
      replicates: 400,
      seed: 3,
    });
    for (const k of ["top1", "macro_f1"] as const) {
      const w = (x: { lo: number; hi: number }) => x.hi - x.lo;
      const ratio = w(quarter.pairs[0].differences[k].interval!) / w(d[k].interval!);
      assert.ok(ratio > 1.6 && ratio < 2.5, `${k}: width ratio ${ratio} (expected about 2)`);
    }
    // The top-1 difference is significant by McNemar (p = 1.5e-4); the summary says so.
    const lines = comparisonSummary(all);
    assert.match(lines[0], /^top1 .*resnet56 better, significant at 0\.05 \(McNemar p = 0\.000146/);
    const html = renderComparisonHtml({
      comparison: all,
      classNames: Array.from({ length: 10 }, (_, k) => `class ${k}`),
      reliability: [[], []],
      galleries: [],
    });
    assert.match(
      html,
      /McNemar&#39;s exact test: b = 291, c = 391|McNemar's exact test: b = 291, c = 391/,
    );
  },
);

Deno.test("compare: log loss and paired differences from per-image records", () => {
  // Two models on 6 images of 3 classes; B is A with two mistakes fixed.
  const label = Int32Array.from([0, 1, 2, 0, 1, 2]);
  const A: ModelRecords = {
    name: "A",
    pred: Int32Array.from([0, 1, 2, 1, 2, 2]),
    conf: Float64Array.from([0.9, 0.8, 0.7, 0.6, 0.55, 0.95]),
    nll: Float64Array.from([0.1, 0.2, 0.3, 1.5, 1.2, 0.05]),
  };
  const B: ModelRecords = { ...A, name: "B", pred: Int32Array.from([0, 1, 2, 0, 1, 2]) };
  const c = compareModels([A, B], label, 3, { replicates: 0 });
  assert.equal(c.pairs[0].mcnemar.b, 0);
  assert.equal(c.pairs[0].mcnemar.c, 2);
  assert.equal(c.pairs[0].mcnemar.p_value, 0.5);
  assert.ok(Math.abs(c.models[0].metrics.log_loss.value! - 3.35 / 6) < 1e-15);
  assert.ok(Math.abs(c.pairs[0].differences.top1.value! - (4 / 6 - 1)) < 1e-15);
  // ECE with 15 bins: A's bins hold one image each; |correct - conf| summed / n.
  const eceA = (0.1 + 0.2 + 0.3 + 0.6 + 0.55 + 0.05) / 6;
  assert.ok(Math.abs(c.models[0].metrics.ece.value! - eceA) < 1e-15);
  assert.deepEqual(c.prediction_agreement, [[1, 4 / 6], [4 / 6, 1]]);
  // per-class deltas: classes 0 and 1 lose 0.5 recall (tie: lower index first), class 2 only
  // F1 (0.8 vs 1, its precision drops).
  assert.deepEqual(c.pairs[0].per_class.map((d) => d.class), [0, 1, 2]);
  assert.equal(c.pairs[0].per_class[0].recall.delta, -0.5);
  assert.ok(Math.abs(c.pairs[0].per_class[2].f1.delta + 0.2) < 1e-15);
  assert.equal(c.pairs[0].per_class[2].recall.delta, 0);
});

Deno.test("compare: runs that cannot be matched are refused with what differs", () => {
  const run = (name: string, paths: string[], label: number[]): RunRecords => ({
    name,
    source: `runs/${name}`,
    paths,
    label: Int32Array.from(label),
    pred: Int32Array.from(label),
    conf: Float64Array.from(label, () => 0.9),
    nll: null,
    numClasses: 3,
    classNames: ["cat", "dog", "eel"],
    bins: 15,
  });
  const a = run("a", ["x.jpg", "y.jpg", "z.jpg"], [0, 1, 2]);
  assert.throws(
    () => matchRuns([a, run("b", ["x.jpg", "y.jpg", "w.jpg"], [0, 1, 2])]),
    (e: Error) =>
      e instanceof DataError && /different images; only in runs\/b: w\.jpg; only in runs\/a: z\.jpg/
        .test(e.message),
  );
  assert.throws(
    () => matchRuns([a, run("b", ["z.jpg", "y.jpg", "x.jpg"], [0, 1, 2])]),
    (e: Error) => e instanceof DataError && /z\.jpg has label 0 in runs\/b but 2/.test(e.message),
  );
  assert.throws(
    () =>
      matchRuns([a, {
        ...run("b", ["x.jpg", "y.jpg", "z.jpg"], [0, 1, 2]),
        classNames: ["cat", "wolf", "eel"],
      }]),
    (e: Error) => e instanceof DataError && /name class 1 differently/.test(e.message),
  );
  // Matched in the first run's order whatever the second's order is.
  const b = run("b", ["z.jpg", "x.jpg", "y.jpg"], [2, 0, 1]);
  b.pred = Int32Array.from([0, 0, 1]);
  const m = matchRuns([a, b]);
  assert.deepEqual(Array.from(m.models[1].pred), [0, 1, 0]);
});

fixtureTest(
  "shared batches: consumers with one pipeline read one pass; another pipeline gets its own",
  async () => {
    const { SharedBatches } = await import("../src/data/shared_batches.ts");
    const { preprocessConfigFromModelDir, applyOverrides } = await import(
      "../src/data/preprocess.ts"
    );
    const cfg = preprocessConfigFromModelDir(fixture("models/resnet-cifar10/resnet20"));
    const items = [
      "airplane/0000.jpg",
      "cat/0001.jpg",
      "dog/0002.jpg",
      "ship/0003.jpg",
      "frog/0004.jpg",
    ]
      .map((p) => ({ path: fixture("data/cifar10-test", p), label: 0 }));
    const shared = new SharedBatches(3);
    const opts = { preprocess: cfg, batchSize: 2, workers: 0 };
    const a = shared.loaderFor(0)(items, opts)[Symbol.asyncIterator]();
    const b = shared.loaderFor(1)(items, opts)[Symbol.asyncIterator]();
    const own = shared.loaderFor(2)(items, {
      ...opts,
      preprocess: applyOverrides(cfg, { size: [24, 24] }),
    });
    const seenA: (Batch | void)[] = [], seenB: (Batch | void)[] = [];
    // Interleaved reads: a runs two batches ahead of b; both get the very same batch objects.
    seenA.push((await a.next()).value, (await a.next()).value);
    seenB.push((await b.next()).value);
    seenA.push((await a.next()).value);
    seenB.push((await b.next()).value, (await b.next()).value);
    assert.equal((await a.next()).done, true);
    assert.equal((await b.next()).done, true);
    assert.deepEqual(seenA.map((x) => x!.items.length), [2, 2, 1]);
    seenA.forEach((x, i) => assert.equal(x, seenB[i]));
    const ownBatches = [];
    for await (const x of own) ownBatches.push(x);
    assert.deepEqual(ownBatches.map((x) => x.shape), [[2, 3, 24, 24], [2, 3, 24, 24], [
      1,
      3,
      24,
      24,
    ]]);
  },
);
