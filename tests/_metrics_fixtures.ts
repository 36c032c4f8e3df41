/** Loads the metric fixture cases and compares a report with their expected values. */
import assert from "node:assert/strict";
import { fixture, HAVE_FIXTURES } from "./_helpers.ts";
import type { MetricsReport } from "../src/metrics/report.ts";

/** One case of ../shared/fixtures/metrics. */
export interface MetricCase {
  name: string;
  num_classes: number;
  n: number;
  generated_from_logits: boolean;
  labels: number[];
  probs: number[][];
  logits?: number[][];
  // deno-lint-ignore no-explicit-any
  expected: any;
}

/** Names of the metric cases (empty without fixtures). */
export function metricCaseNames(): string[] {
  if (!HAVE_FIXTURES) return [];
  return [...Deno.readDirSync(fixture("metrics"))]
    .map((e) => e.name)
    .filter((n) => n.endsWith(".json"))
    .sort();
}

/** Reads one case. */
export function loadCase(name: string): MetricCase {
  return JSON.parse(Deno.readTextFileSync(fixture("metrics", name)));
}

/** Row-major flattening of a list of rows. */
export function flat(rows: number[][]): Float64Array {
  const C = rows[0].length;
  const out = new Float64Array(rows.length * C);
  rows.forEach((r, i) => out.set(r, i * C));
  return out;
}

/** Largest differences found per group (for the report). */
export interface CaseDiffs {
  exact: number;
  ranking: number;
  summed: number;
  calibration: number;
}

function close(a: number | null, b: number | null, tol: number, what: string): number {
  if (b === null || b === undefined) {
    assert.equal(a, null, `${what}: expected null, got ${a}`);
    return 0;
  }
  assert.ok(a !== null && Number.isFinite(a), `${what}: got ${a}, expected ${b}`);
  const d = Math.abs(a - b);
  assert.ok(d <= tol, `${what}: ${a} vs expected ${b} (|diff| ${d.toExponential(2)} > ${tol})`);
  return d;
}

function closeAll(a: (number | null)[], b: (number | null)[], tol: number, what: string): number {
  assert.equal(a.length, b.length, `${what}: length`);
  return Math.max(0, ...a.map((v, i) => close(v, b[i], tol, `${what}[${i}]`)));
}

/**
 * Asserts `r` reproduces `c.expected`: `exactTol` for count-based and
 * ranking metrics, `summedTol` for float sums (log loss, Brier), `calTol`
 * for the calibration values.
 */
export function assertReportMatches(
  r: MetricsReport,
  c: MetricCase,
  tol: { exact: number; summed: number; calibration: number; ranking?: number },
): CaseDiffs {
  const e = c.expected;
  const name = c.name;
  let exact = 0, summed = 0, calibration = 0, ranking = 0;
  const ex = (d: number) => (exact = Math.max(exact, d));
  const rk = (d: number) => (ranking = Math.max(ranking, d));
  assert.equal(r.num_samples, c.n);
  assert.equal(r.num_classes, c.num_classes);
  ex(close(r.top1, e.accuracy, tol.exact, `${name} top1`));
  if (e.top5_accuracy_ties_lower_index_first !== undefined) {
    ex(close(r.top5, e.top5_accuracy_ties_lower_index_first, tol.exact, `${name} top5`));
    ex(close(r.topk.accuracy_sklearn_ties, e.top5_accuracy, tol.exact, `${name} top5 sklearn`));
  }
  ex(close(r.balanced_accuracy, e.balanced_accuracy, tol.exact, `${name} balanced_accuracy`));
  for (const m of ["precision", "recall", "f1"] as const) {
    for (const avg of ["macro", "weighted", "micro"] as const) {
      ex(close(r[m][avg], e[m][avg], tol.exact, `${name} ${m}.${avg}`));
    }
    ex(closeAll(r[m].per_class, e[m].per_class, tol.exact, `${name} ${m}.per_class`));
  }
  assert.deepEqual(r.support, e.support);
  ex(close(r.mcc, e.mcc, tol.exact, `${name} mcc`));
  ex(close(r.cohen_kappa, e.cohen_kappa, tol.exact, `${name} kappa`));
  assert.deepEqual(r.confusion_matrix, e.confusion_matrix);
  summed = Math.max(
    close(r.log_loss, e.log_loss, tol.summed, `${name} log_loss`),
    close(r.brier, e.brier, tol.summed, `${name} brier`),
  );
  const rt = tol.ranking ?? tol.exact;
  rk(close(r.auroc.macro, e.roc_auc.macro, rt, `${name} auroc.macro`));
  rk(close(r.auroc.weighted, e.roc_auc.weighted, rt, `${name} auroc.weighted`));
  rk(closeAll(r.auroc.per_class, e.roc_auc.per_class, rt, `${name} auroc.per_class`));
  assert.deepEqual(r.auroc.skipped_classes, e.roc_auc.skipped_classes);
  rk(close(r.auprc.macro, e.average_precision.macro, rt, `${name} auprc.macro`));
  rk(closeAll(r.auprc.per_class, e.average_precision.per_class, rt, `${name} auprc.per_class`));
  const ct = tol.calibration;
  calibration = Math.max(
    close(r.ece, e.ece, ct, `${name} ece`),
    close(r.mce, e.mce, ct, `${name} mce`),
    close(r.ace, e.adaptive_ece, ct, `${name} ace`),
    close(r.classwise_ece, e.classwise_ece, ct, `${name} classwise_ece`),
    closeAll(
      r.classwise_ece_per_class,
      e.classwise_ece_per_class,
      ct,
      `${name} classwise per class`,
    ),
    closeAll(
      r.reliability.map((b) => b.confidence),
      e.ece_bins.mean_confidence,
      ct,
      `${name} bin conf`,
    ),
    closeAll(r.reliability.map((b) => b.accuracy), e.ece_bins.accuracy, ct, `${name} bin acc`),
  );
  assert.deepEqual(r.reliability.map((b) => b.count), e.ece_bins.count, `${name} bin counts`);
  return { exact, ranking, summed, calibration };
}
