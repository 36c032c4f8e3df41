/**
 * Count-based classification metrics, finished in float64 from the per-class
 * counts of a {@link MetricSnapshot}. Conventions (scikit-learn 1.2 with
 * zero_division = 0): a ratio whose denominator is 0 is 0; macro averages run
 * over all C classes, including classes absent from labels and predictions;
 * balanced accuracy averages recall over the classes present in the labels.
 */
import type { MetricSnapshot } from "./snapshot.ts";

/** A per-class metric with its averages. */
export interface Averaged {
  /** Unweighted mean over all classes. */
  macro: number;
  /** Mean weighted by support (true samples per class). */
  weighted: number;
  /** Global ratio over all samples (equals accuracy for single-label data). */
  micro: number;
  /** One value per class. */
  per_class: number[];
}

/** Precision, recall, F1 and the agreement statistics of a snapshot. */
export interface ClassificationMetrics {
  /** Fraction of samples whose argmax equals the label. */
  top1: number;
  /** Mean recall over the classes present in the labels. */
  balanced_accuracy: number;
  /** Precision per class and averaged. */
  precision: Averaged;
  /** Recall per class and averaged. */
  recall: Averaged;
  /** F1 per class and averaged. */
  f1: Averaged;
  /** Multiclass Matthews correlation (Gorodkin's R_K); 0 when undefined. */
  mcc: number;
  /** Unweighted Cohen's kappa of predictions against labels; 0 when undefined. */
  cohen_kappa: number;
  /** Samples per true class. */
  support: number[];
}

/** a / b, or 0 when b is 0 (the zero_division = 0 convention). */
export function safeDiv(a: number, b: number): number {
  return b === 0 ? 0 : a / b;
}

function averaged(perClass: number[], support: Float64Array, n: number, micro: number): Averaged {
  let sum = 0, weighted = 0;
  perClass.forEach((v, k) => {
    sum += v;
    weighted += v * support[k];
  });
  return {
    macro: safeDiv(sum, perClass.length),
    weighted: safeDiv(weighted, n),
    micro,
    per_class: perClass,
  };
}

/** Count-based metrics of `s`. */
export function classificationMetrics(s: MetricSnapshot): ClassificationMetrics {
  const C = s.numClasses, n = s.numSamples;
  const tp = s.truePositive, pred = s.predCount, support = s.labelCount;
  let correct = 0;
  for (let k = 0; k < C; k++) correct += tp[k];
  const accuracy = safeDiv(correct, n);
  const precision: number[] = [], recall: number[] = [], f1: number[] = [];
  let recallSum = 0, present = 0;
  for (let k = 0; k < C; k++) {
    precision.push(safeDiv(tp[k], pred[k]));
    recall.push(safeDiv(tp[k], support[k]));
    f1.push(safeDiv(2 * tp[k], pred[k] + support[k]));
    if (support[k] > 0) {
      recallSum += recall[k];
      present++;
    }
  }
  // Gorodkin's R_K and Cohen's kappa need only the marginals and the trace.
  let sumPT = 0, sumPP = 0, sumTT = 0;
  for (let k = 0; k < C; k++) {
    sumPT += pred[k] * support[k];
    sumPP += pred[k] * pred[k];
    sumTT += support[k] * support[k];
  }
  const mccDen = Math.sqrt((n * n - sumPP) * (n * n - sumTT));
  const mcc = safeDiv(correct * n - sumPT, mccDen);
  const pe = safeDiv(sumPT, n * n);
  const kappa = safeDiv(accuracy - pe, 1 - pe);
  return {
    top1: accuracy,
    balanced_accuracy: safeDiv(recallSum, present),
    precision: averaged(precision, support, n, accuracy),
    recall: averaged(recall, support, n, accuracy),
    f1: averaged(f1, support, n, accuracy),
    mcc,
    cohen_kappa: kappa,
    support: Array.from(support),
  };
}

/** Top-k accuracy from the rank counts (k ≤ 10); `sklearnTies` uses scikit-learn's tie rule. */
export function topkAccuracy(s: MetricSnapshot, k: number, sklearnTies = false): number {
  const ranks = sklearnTies ? s.rankSklearn : s.rankLower;
  let hits = 0;
  for (let r = 0; r < Math.min(k, ranks.length); r++) hits += ranks[r];
  return safeDiv(hits, s.numSamples);
}

/** The confusion matrix as rows (true) of columns (predicted), or null when not kept. */
export function confusionRows(s: MetricSnapshot): number[][] | null {
  if (!s.confusion) return null;
  const C = s.numClasses;
  return Array.from({ length: C }, (_, i) => Array.from(s.confusion!.subarray(i * C, i * C + C)));
}
