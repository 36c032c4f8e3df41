/**
 * Issue 17, "never a believable wrong number": NaN / infinite logits are
 * counted on the GPU and refused with the first sample's index (both kernel
 * layouts, over several batches), and the exact ranking code terminates on
 * any input (NaN scores used to loop forever in its tie grouping).
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { MetricState } from "../src/metrics/state.ts";
import { MetricsInputError, NonFiniteValuesError } from "../src/errors.ts";
import { exactRanking, tieGroups } from "../src/metrics/ranking.ts";
import { mulberry32 } from "../src/random.ts";

const engine = await Engine.create();

Deno.test("metric state: NaN / Inf logits are counted and refused, with the first sample (both layouts)", async () => {
  for (const layout of ["row-per-thread", "row-per-workgroup"] as const) {
    for (const C of [3, 40, 300]) {
      const n = 50, batch = 16;
      const r = mulberry32(C);
      const logits = Float32Array.from({ length: n * C }, () => r() * 4 - 2);
      const labels = Int32Array.from({ length: n }, () => Math.floor(r() * C));
      // Rows 21 (NaN, in the second batch), 22 (+Inf) and 40 (-Inf, last class).
      logits[21 * C + 1] = NaN;
      logits[22 * C] = Infinity;
      logits[40 * C + C - 1] = -Infinity;
      const st = MetricState.create(engine, { numClasses: C, layout, sampleOffset: 1000 });
      for (let i = 0; i < n; i += batch) {
        const rows = Math.min(batch, n - i);
        const t = engine.upload(logits.slice(i * C, (i + rows) * C), [rows, C]);
        // The second batch carries explicit global indices (as `evaluate` passes them).
        const indices = i === batch
          ? Array.from({ length: rows }, (_, k) => 5000 + i + k)
          : undefined;
        st.update(t, labels.slice(i, i + rows), { indices });
        engine.submit();
        t.release();
      }
      const what = `${layout} C=${C}`;
      await assert.rejects(() => st.snapshot(), (e: unknown) => {
        assert.ok(e instanceof NonFiniteValuesError, what);
        assert.equal(e.count, 3, what);
        assert.equal(e.firstRow, 21, what);
        assert.equal(e.firstIndex, 5021, what);
        assert.match(
          e.message,
          /3 of 50 samples have NaN or infinite logits \(first: sample 5021\)/,
        );
        return true;
      });
      st.release();
    }
  }
});

Deno.test("metric state: finite extremes (±3.4e38, denormals) are not flagged", async () => {
  const C = 4;
  const logits = Float32Array.from([3.4e38, -3.4e38, 1e-45, 0, -1e-45, 0, 0, 1]);
  const st = MetricState.create(engine, { numClasses: C });
  const t = engine.upload(logits, [2, C]);
  st.update(t, Int32Array.from([0, 3]));
  engine.submit();
  const s = await st.snapshot();
  assert.equal(s.numSamples, 2);
  assert.equal(s.truePositive[0] + s.truePositive[3], 2);
  assert.ok(Number.isFinite(s.nllSum) && Number.isFinite(s.brierSum));
  st.release();
  t.release();
});

Deno.test("exact ranking: NaN scores are refused upstream, and the tie grouping ends on any input", () => {
  // Two classes, sample 1's score of class 1 is NaN.
  const scores = Float64Array.from([0.9, 0.1, 0.4, NaN, 0.3, 0.7, 0.8, 0.2]);
  assert.throws(
    () => exactRanking(scores, [0, 1, 1, 0], 2),
    (e: unknown) =>
      e instanceof MetricsInputError && /sample row 1, class 1 is not a finite/.test(e.message),
  );
  const t0 = performance.now();
  const g = tieGroups(Float64Array.from([NaN, 1, NaN, 0]), Float64Array.from([NaN, 0, 0, 2]));
  assert.deepEqual(g, { pos: [1, 1, 0, 2], neg: [2, 0, 1, 1] });
  assert.ok(performance.now() - t0 < 100);
});
