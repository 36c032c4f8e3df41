/**
 * Report extras from a metric state (src/metrics MetricSnapshot): ROC/PR
 * curves of the worst classes, correct-vs-wrong confidence histograms, and
 * the most confident mistakes. Curves are exact when the per-sample scores
 * were kept, else drawn from the ranking histograms (one point per score bin).
 */
import type { MetricSnapshot } from "../metrics/snapshot.ts";
import { curvesFromHistograms, curvesFromScores } from "./curves.ts";
import { isNum } from "./format.ts";
import type { ClassCurves, ConfidenceHistograms, MaybeNumber } from "./types.ts";

/**
 * Curves of the `k` classes with the lowest AUROC (classes without positives
 * or negatives are skipped). `auroc` (per class, e.g. `metrics.auroc.per_class`)
 * picks the classes when given; otherwise the binned AUROC does.
 */
export function worstClassCurves(
  s: MetricSnapshot,
  k = 5,
  auroc?: readonly MaybeNumber[],
): ClassCurves[] {
  const C = s.numClasses, S = s.scoreBins, n = s.numSamples;
  const binned = (c: number) => {
    const pos = s.scorePositives.subarray(c * S, (c + 1) * S);
    const all = s.scoreAll.subarray(c * S, (c + 1) * S);
    return curvesFromHistograms(pos, Array.from(all, (a, b) => a - pos[b]));
  };
  const candidates: { c: number; auc: number }[] = [];
  for (let c = 0; c < C; c++) {
    const P = s.labelCount[c];
    if (P === 0 || P === n) continue;
    const a = auroc?.[c];
    candidates.push({ c, auc: isNum(a) ? a : binned(c).auroc });
  }
  candidates.sort((x, y) => x.auc - y.auc || x.c - y.c);
  return candidates.slice(0, k).map(({ c }) => {
    let pts;
    if (s.scores && s.samples) {
      const scores = new Float64Array(n), positive = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        scores[i] = s.scores[i * C + c];
        positive[i] = s.samples.label[i] === c ? 1 : 0;
      }
      pts = curvesFromScores(scores, positive);
    } else pts = binned(c);
    return { class: c, roc: pts.roc, pr: pts.pr, auroc: pts.auroc, auprc: pts.auprc };
  });
}

/**
 * Correct/wrong counts per confidence bin. With per-sample records, `bins`
 * equal-width bins over [0, 1] (default 30); otherwise the state's calibration bins.
 */
export function confidenceHistogramsFromSnapshot(
  s: MetricSnapshot,
  bins = 30,
): ConfidenceHistograms {
  if (s.samples) {
    const correct = new Array(bins).fill(0), wrong = new Array(bins).fill(0);
    const { label, pred, conf } = s.samples;
    for (let i = 0; i < conf.length; i++) {
      // Same (lo, hi] rule as the calibration bins.
      const b = Math.min(Math.max(Math.ceil(conf[i] * bins) - 1, 0), bins - 1);
      if (label[i] === pred[i]) correct[b]++;
      else wrong[b]++;
    }
    return { correct, wrong };
  }
  const correct = Array.from(s.calibCorrect);
  return { correct, wrong: Array.from(s.calibCount, (n, b) => n - correct[b]) };
}

/** A wrong prediction, by its global sample index. */
export interface MistakeRecord {
  /** Global sample index (maps to the dataset item / image path). */
  index: number;
  /** True class. */
  label: number;
  /** Predicted class. */
  pred: number;
  /** Confidence of the prediction. */
  confidence: number;
}

/** The `k` wrong predictions with the highest confidence (ties: lower sample index first). */
export function mostConfidentMistakes(s: MetricSnapshot, k = 24): MistakeRecord[] {
  if (!s.samples) return [];
  const { index, label, pred, conf } = s.samples;
  const out: MistakeRecord[] = [];
  for (let i = 0; i < label.length; i++) {
    if (label[i] !== pred[i]) {
      out.push({ index: index[i], label: label[i], pred: pred[i], confidence: conf[i] });
    }
  }
  out.sort((a, b) => b.confidence - a.confidence || a.index - b.index);
  return out.slice(0, k);
}
