/**
 * Merge and drift: shards of a random split, written to state files and
 * merged, give exactly the metrics of one pass (bootstrap included); float
 * sums kept in 64-bit fixed point do not drift over a million samples
 * (where a float32 running sum would); edge cases give numbers, not NaN.
 */
import assert from "node:assert/strict";
import { FULL, rng } from "./_helpers.ts";
import { Engine } from "../src/gpu/engine.ts";
import { MetricState } from "../src/metrics/state.ts";
import { computeMetrics, computeMetricsFromArrays } from "../src/metrics/report.ts";
import { mergeSnapshots } from "../src/metrics/snapshot.ts";
import { decodeSnapshot, encodeSnapshot } from "../src/metrics/state_file.ts";
import {
  bootstrapIntervals,
  OUTSIDE_INTERVAL_NOTE,
  outsideInterval,
  poissonWeight,
} from "../src/metrics/bootstrap.ts";
import { summaryTable } from "../src/cli/metrics.ts";
import { encodeSafetensors } from "../src/weights/safetensors.ts";

const engine = await Engine.create();

/** Random logits with a signal towards the label, some exact ties. */
function synthetic(n: number, C: number, seed: number) {
  const r = rng(seed);
  const labels = new Int32Array(n);
  const logits = new Float32Array(n * C);
  for (let i = 0; i < n; i++) {
    labels[i] = Math.floor(r() * C);
    for (let c = 0; c < C; c++) logits[i * C + c] = Math.round((r() * 4 - 2) * 8) / 8;
    logits[i * C + labels[i]] += Math.round(r() * 3 * 8) / 8;
  }
  return { labels, logits };
}

async function roundTrip(s: Awaited<ReturnType<MetricState["snapshot"]>>) {
  const { tensors, metadata } = encodeSnapshot(s);
  return await decodeSnapshot(encodeSafetensors(tensors, metadata), "shard");
}

Deno.test("metrics state: random split into shards, saved and merged == one pass", async () => {
  const n = 1500, C = 7;
  const { labels, logits } = synthetic(n, C, 11);
  const opts = { numClasses: C, keepScores: true, keepLogits: true };
  const whole = MetricState.create(engine, opts);
  for (let i = 0; i < n; i += 200) {
    const rows = Math.min(200, n - i);
    whole.update(
      engine.upload(logits.slice(i * C, (i + rows) * C), [rows, C]),
      labels.slice(i, i + rows),
    );
  }
  const ref = computeMetrics(await whole.snapshot(), {
    bootstrap: 50,
    seed: 3,
    temperatureScaling: true,
  });
  whole.release();

  // Random assignment of every sample to one of 3 shards (not contiguous).
  const r = rng(5);
  const shardOf = Array.from({ length: n }, () => Math.floor(r() * 3));
  const parts = [];
  for (let k = 0; k < 3; k++) {
    const idx = shardOf.flatMap((s, i) => (s === k ? [i] : []));
    const st = MetricState.create(engine, opts);
    for (let j = 0; j < idx.length; j += 97) {
      const sel = idx.slice(j, j + 97);
      const v = new Float32Array(sel.length * C);
      sel.forEach((i, t) => v.set(logits.subarray(i * C, i * C + C), t * C));
      st.update(engine.upload(v, [sel.length, C]), Int32Array.from(sel, (i) => labels[i]), {
        indices: sel,
      });
    }
    parts.push(await roundTrip(await st.snapshot()));
    st.release();
  }
  const merged = computeMetrics(mergeSnapshots(parts), {
    bootstrap: 50,
    seed: 3,
    temperatureScaling: true,
  });
  assert.deepEqual(merged, ref);
  assert.ok(ref.bootstrap!.top1.lo < ref.top1 && ref.top1 < ref.bootstrap!.top1.hi);
});

Deno.test("metrics state: fixed-point sums do not drift over 1M samples (CPU model of the kernel)", () => {
  // The kernel adds round(v * 2^24) into a 64-bit integer; model it exactly
  // and compare with the float64 sum and a naive float32 running sum.
  const n = 1_000_000;
  const r = rng(7);
  let exact = 0, fixed = 0, naive = Math.fround(0);
  for (let i = 0; i < n; i++) {
    const v = Math.fround(r() ** 3);
    exact += v;
    fixed += Math.round(v * 2 ** 24);
    naive = Math.fround(naive + v);
  }
  const fixedErr = Math.abs(fixed * 2 ** -24 - exact) / n;
  const naiveErr = Math.abs(naive - exact) / n;
  assert.ok(fixedErr <= 2 ** -25, `fixed-point mean error ${fixedErr}`);
  assert.ok(
    naiveErr > 1e-6,
    `a float32 running sum drifts (${naiveErr}), the fixed point does not`,
  );
  console.log(
    `  mean error per sample: fixed point ${fixedErr.toExponential(2)}, float32 running sum ${
      naiveErr.toExponential(2)
    }`,
  );
});

async function gpuDrift(n: number, C: number, batch: number) {
  const r = rng(9);
  const state = MetricState.create(engine, { numClasses: C, keepSamples: false });
  const labels = new Int32Array(batch);
  const logits = new Float32Array(batch * C);
  let confSum = 0, nllSum = 0;
  const t = engine.upload(logits, [batch, C]);
  for (let done = 0; done < n; done += batch) {
    for (let i = 0; i < batch; i++) {
      labels[i] = Math.floor(r() * C);
      let m = -Infinity;
      for (let c = 0; c < C; c++) m = Math.max(m, logits[i * C + c] = Math.fround(r() * 3));
      let s = 0;
      for (let c = 0; c < C; c++) s += Math.exp(logits[i * C + c] - m);
      confSum += 1 / s;
      nllSum += Math.log(s) - (logits[i * C + labels[i]] - m);
    }
    const tb = engine.upload(logits, [batch, C]);
    state.update(tb, labels.slice());
    engine.submit();
    tb.release();
  }
  t.release();
  const snap = await state.snapshot();
  state.release();
  let gpuConf = 0;
  for (const v of snap.calibConfSum) gpuConf += v;
  return { conf: Math.abs(gpuConf - confSum) / n, nll: Math.abs(snap.nllSum - nllSum) / n };
}

Deno.test("metrics state: GPU sums over 100k samples agree with float64 to 1e-7 per sample", async () => {
  const d = await gpuDrift(100_000, 3, 10_000);
  assert.ok(d.conf < 1e-7 && d.nll < 1e-7, JSON.stringify(d));
  console.log(
    `  mean |GPU - float64| per sample: confidence ${d.conf.toExponential(2)}, NLL ${
      d.nll.toExponential(2)
    }`,
  );
});

Deno.test({
  name: "metrics state: GPU sums over 1M samples (VISIONEVAL_FULL=1)",
  ignore: !FULL,
  fn: async () => {
    const d = await gpuDrift(1_000_000, 3, 50_000);
    assert.ok(d.conf < 1e-7 && d.nll < 1e-7, JSON.stringify(d));
    console.log(`  1M: confidence ${d.conf.toExponential(2)}, NLL ${d.nll.toExponential(2)}`);
  },
});

Deno.test("metrics edge cases: one class, perfect, confidence exactly 0 and 1, absent classes", () => {
  // All labels one class, predictor always right with probability 1.
  const n = 20, C = 4;
  const probs = new Float64Array(n * C);
  for (let i = 0; i < n; i++) probs[i * C + 2] = 1;
  const r = computeMetricsFromArrays(new Int32Array(n).fill(2), probs, {
    numClasses: C,
    input: "probs",
  });
  const numbers = [
    r.top1,
    r.balanced_accuracy,
    r.mcc,
    r.cohen_kappa,
    r.log_loss,
    r.brier,
    r.ece,
    r.mce,
    r.ace!,
    r.classwise_ece,
  ];
  assert.ok(numbers.every(Number.isFinite), JSON.stringify(numbers));
  assert.equal(r.top1, 1);
  assert.equal(r.ece, 0);
  assert.equal(r.log_loss < 1e-15, true);
  assert.deepEqual(r.auroc.skipped_classes, [0, 1, 2, 3]);
  assert.equal(r.auroc.macro, null);
  assert.equal(r.precision.per_class[0], 0);
  // Confidence exactly 0 is impossible for a max, but p_k = 0 enters the class-wise bins at bin 0.
  assert.equal(r.reliability[14].count, n);
  assert.equal(r.reliability[0].count, 0);
});

Deno.test("metrics: labels out of range are rejected with the sample index", async () => {
  const st = MetricState.create(engine, { numClasses: 3 });
  const t = engine.upload(new Float32Array(6), [2, 3]);
  assert.throws(() => st.update(t, Int32Array.from([0, 3])), /label 3 of sample 1/);
  st.release();
  t.release();
  await engine.sync();
});

Deno.test("metrics gpu vs float64 reference: awkward shapes (C = 3, 33, 1000, 21843; batch 1, odd batches), both layouts", async () => {
  const shapes = [[301, 3, 1], [333, 1000, 77], [6, 21843, 5], [40, 33, 7]] as const;
  const layouts = ["row-per-thread", "row-per-workgroup"] as const;
  for (const [n, C, batch] of shapes) {
    for (const layout of layouts) {
      const { labels, logits } = synthetic(n, C, C);
      const opts = { numClasses: C, keepScores: true };
      const st = MetricState.create(engine, { ...opts, layout });
      for (let i = 0; i < n; i += batch) {
        const rows = Math.min(batch, n - i);
        const t = engine.upload(logits.slice(i * C, (i + rows) * C), [rows, C]);
        st.update(t, labels.slice(i, i + rows));
        engine.submit();
        t.release();
      }
      const gpu = computeMetrics(await st.snapshot());
      st.release();
      const ref = computeMetricsFromArrays(labels, logits, { ...opts, input: "logits" });
      const what = `n=${n} C=${C} ${layout}`;
      for (const key of ["top1", "top5", "balanced_accuracy", "mcc", "cohen_kappa"] as const) {
        assert.equal(gpu[key], ref[key], `${what} ${key}`);
      }
      assert.deepEqual(gpu.topk, ref.topk, `${what} topk`);
      assert.deepEqual(gpu.f1, ref.f1, `${what} f1`);
      assert.deepEqual(gpu.confusion_matrix, ref.confusion_matrix, `${what} confusion`);
      for (const key of ["log_loss", "brier", "ece", "mce", "ace", "classwise_ece"] as const) {
        assert.ok(
          Math.abs(gpu[key]! - ref[key]!) < 1e-6,
          `${what} ${key}: ${gpu[key]} vs ${ref[key]}`,
        );
      }
      assert.ok(Math.abs(gpu.auroc.macro! - ref.auroc.macro!) < 1e-5, `${what} auroc`);
      const gb = gpu.auroc_binned!, rb = ref.auroc_binned!;
      assert.ok(
        Math.abs(gb.macro! - rb.macro!) < 1e-3,
        `${what} binned auroc ${gb.macro} vs ${rb.macro}`,
      );
    }
  }
});

Deno.test("metrics bootstrap: Poisson(1) weights and a top-1 interval of binomial width", () => {
  let sum = 0, sq = 0;
  const m = 200_000;
  for (let i = 0; i < m; i++) {
    const w = poissonWeight(3, i, i % 7);
    sum += w;
    sq += w * w;
  }
  const mean = sum / m, variance = sq / m - mean * mean;
  assert.ok(
    Math.abs(mean - 1) < 0.01 && Math.abs(variance - 1) < 0.02,
    `mean ${mean} var ${variance}`,
  );
  // n samples, 70% correct: the 95% interval is about ±1.96·sqrt(p(1-p)/n).
  const n = 5000;
  const r = rng(4);
  const label = Int32Array.from({ length: n }, () => Math.floor(r() * 4));
  const samples = {
    index: Float64Array.from({ length: n }, (_, i) => i),
    label,
    pred: label.map((y) => (r() < 0.7 ? y : (y + 1) % 4)),
    conf: Float64Array.from({ length: n }, () => 0.5 + 0.5 * r()),
  };
  const b = bootstrapIntervals(samples, 4, 15, { replicates: 400, seed: 1 });
  const expected = 2 * 1.96 * Math.sqrt(0.7 * 0.3 / n);
  const width = b.top1.hi - b.top1.lo;
  assert.ok(Math.abs(width / expected - 1) < 0.2, `width ${width} vs ${expected}`);
});

Deno.test("bootstrap: replicates that draw no sample are left out, not scored 0", () => {
  // Bug: with 3 images all classified right, about 5% of Poisson replicates weigh every
  // image 0; scored as top-1 0 they made the 95% interval [0, 1] instead of [1, 1].
  const samples = {
    index: Float64Array.from([0, 1, 2]),
    label: Int32Array.from([0, 1, 2]),
    pred: Int32Array.from([0, 1, 2]),
    conf: Float64Array.from([0.9, 0.8, 0.7]),
  };
  for (let seed = 0; seed < 5; seed++) {
    const empty = Array.from(
      { length: 400 },
      (_, r) => [0, 1, 2].every((i) => poissonWeight(seed, i, r) === 0),
    ).filter(Boolean).length;
    assert.ok(empty > 10, `seed ${seed}: ${empty} empty replicates, the case under test`);
    const b = bootstrapIntervals(samples, 3, 10, { replicates: 400, seed });
    assert.deepEqual(b.top1, { lo: 1, hi: 1 });
    // Macro-F1 runs over all 3 classes (a class a replicate leaves out scores 0), but a
    // replicate that keeps any sample has one class right: never below 1/3.
    assert.ok(b.macro_f1.lo >= 1 / 3 && b.macro_f1.hi === 1, JSON.stringify(b.macro_f1));
    assert.ok(b.ece.lo > 0, `ECE lower bound ${b.ece.lo}: every replicate is miscalibrated`);
  }
  // No samples at all (an empty shard): zero-width intervals at 0.
  const none = {
    index: new Float64Array(0),
    label: new Int32Array(0),
    pred: new Int32Array(0),
    conf: new Float64Array(0),
  };
  assert.deepEqual(bootstrapIntervals(none, 3, 10).top1, { lo: 0, hi: 0 });
});

Deno.test("an interval that misses its estimate is flagged: macro-F1 over many classes with few samples", () => {
  // 12 images of 12 classes out of 1000, 10 right: macro-F1 over the model's
  // classes is 10/1000, but a bootstrap replicate lacks some of those
  // classes, so every replicate sits below the estimate.
  const n = 12, C = 1000;
  const logits = new Float64Array(n * C);
  const labels = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < n; i++) logits[i * C + (i < 10 ? i : 500 + i)] = 5;
  const r = computeMetricsFromArrays(labels, logits, {
    numClasses: C,
    input: "logits",
    bootstrap: 200,
  });
  assert.equal(r.f1.macro, 0.01);
  const iv = r.bootstrap!.macro_f1;
  assert.ok(iv.hi < 0.01, `interval [${iv.lo}, ${iv.hi}]`);
  assert.ok(outsideInterval(r.f1.macro, iv.lo, iv.hi));
  const table = summaryTable(r);
  const f1Row = table.split("\n").find((l) => l.includes("macro F1"))!;
  assert.ok(f1Row.includes(OUTSIDE_INTERVAL_NOTE), f1Row);
  const top1Row = table.split("\n").find((l) => l.includes("top-1"))!;
  assert.ok(!top1Row.includes(OUTSIDE_INTERVAL_NOTE), top1Row); // 10/12 lies inside its interval
  // Edges: inside, on a bound, rounding, missing values.
  assert.equal(outsideInterval(0.5, 0.4, 0.6), false);
  assert.equal(outsideInterval(0.6, 0.4, 0.6), false);
  assert.equal(outsideInterval(0.6 + 1e-12, 0.4, 0.6), false);
  assert.equal(outsideInterval(0.7, 0.4, 0.6), true);
  assert.equal(outsideInterval(null, 0.4, 0.6), false);
});
