/**
 * The metrics.json object and how it is finished from a metric state:
 * {@link computeMetrics} turns a {@link MetricSnapshot} (GPU state read
 * back, a merged set of shards, or the CPU reference) into a
 * {@link MetricsReport}, all in float64. Fractions are fractions (0.827).
 */
import { accumulateArrays, type AccumulateOptions, type MetricSnapshot } from "./snapshot.ts";
import {
  type Averaged,
  classificationMetrics,
  confusionRows,
  topkAccuracy,
} from "./classification.ts";
import {
  binnedRanking,
  exactRanking,
  type RankingMetric,
  rankingScoresFromLogits,
} from "./ranking.ts";
import {
  adaptiveEce,
  classwiseEce,
  fitTemperature,
  type ReliabilityBin,
  snapshotCalibration,
  type TemperatureScaling,
} from "./calibration.ts";
import { type BootstrapIntervals, bootstrapIntervals } from "./bootstrap.ts";

/** The metrics.json object. */
export interface MetricsReport {
  /** Samples evaluated. */
  num_samples: number;
  /** Number of classes. */
  num_classes: number;
  /** Top-1 accuracy. */
  top1: number;
  /** Top-5 accuracy (ties: lower class index first; null when C ≤ 5). */
  top5: number | null;
  /** Top-k accuracy for the requested k, both tie rules. */
  topk: { k: number; accuracy: number; accuracy_sklearn_ties: number };
  /** Mean recall over the classes present in the labels. */
  balanced_accuracy: number;
  /** Precision per class and averaged. */
  precision: Averaged;
  /** Recall per class and averaged. */
  recall: Averaged;
  /** F1 per class and averaged. */
  f1: Averaged;
  /** Samples per true class. */
  support: number[];
  /** Multiclass Matthews correlation coefficient. */
  mcc: number;
  /** Cohen's kappa. */
  cohen_kappa: number;
  /** Mean log loss (scikit-learn clipping). */
  log_loss: number;
  /** Mean multiclass Brier score Σ_c (p_c - onehot_c)² (0..2). */
  brier: number;
  /** One-vs-rest ROC AUC. */
  auroc: RankingMetric;
  /** Average precision (area under the precision-recall curve). */
  auprc: RankingMetric;
  /** The binned (histogram) values and their error bound, when `auroc` is exact. */
  auroc_binned?: RankingMetric;
  /** Binned AP, when `auprc` is exact. */
  auprc_binned?: RankingMetric;
  /** Expected calibration error (equal-width bins). */
  ece: number;
  /** Maximum calibration error. */
  mce: number;
  /** Adaptive (equal-mass) ECE; null when per-sample records were not kept. */
  ace: number | null;
  /** Mean class-wise ECE. */
  classwise_ece: number;
  /** Class-wise ECE per class. */
  classwise_ece_per_class: number[];
  /** Reliability table of the confidence bins. */
  reliability: ReliabilityBin[];
  /** Confusion matrix (rows true, columns predicted); null when not kept (large C). */
  confusion_matrix: number[][] | null;
  /** Bootstrap intervals, when requested. */
  bootstrap?: BootstrapIntervals;
  /** Temperature scaling, when requested and logits were kept. */
  temperature_scaling?: TemperatureScaling;
  /** Settings the numbers depend on. */
  settings: {
    calibration_bins: number;
    score_bins: number;
    input: "logits" | "probs";
    temperature: number;
  };
}

/** Options of {@link computeMetrics}. */
export interface ComputeOptions {
  /** k of the `topk` entry (1..10, default 5). */
  topk?: number;
  /** Bootstrap replicates (0 = none, default 0). */
  bootstrap?: number;
  /** Bootstrap seed (default 0). */
  seed?: number;
  /** Fit a temperature when logits were kept (default false). */
  temperatureScaling?: boolean;
  /** Use exact AUROC / AP when per-sample scores were kept (default true). */
  exactRanking?: boolean;
}

/** Finishes every metric from a snapshot in float64. */
export function computeMetrics(s: MetricSnapshot, options: ComputeOptions = {}): MetricsReport {
  const k = Math.min(Math.max(options.topk ?? 5, 1), 10);
  const cls = classificationMetrics(s);
  const binned = binnedRanking(s);
  let auroc = binned.auroc, auprc = binned.auprc;
  let extra: Partial<MetricsReport> = {};
  if (s.scores && s.samples && (options.exactRanking ?? true)) {
    // Kept logits give float64 probabilities (see rankingScoresFromLogits).
    const scores = s.input === "logits" && s.logits
      ? rankingScoresFromLogits(s.logits, s.numClasses, s.temperature)
      : s.scores;
    const exact = exactRanking(scores, s.samples.label, s.numClasses);
    auroc = exact.auroc;
    auprc = exact.auprc;
    extra = { auroc_binned: binned.auroc, auprc_binned: binned.auprc };
  }
  const cal = snapshotCalibration(s);
  const cw = classwiseEce(s);
  let ace: number | null = null;
  if (s.samples) {
    const correct = s.samples.label.map((y, i) => (y === s.samples!.pred[i] ? 1 : 0));
    ace = adaptiveEce(s.samples.conf, correct, s.calibrationBins);
  }
  const report: MetricsReport = {
    num_samples: s.numSamples,
    num_classes: s.numClasses,
    top1: cls.top1,
    top5: s.numClasses > 5 ? topkAccuracy(s, 5) : null,
    topk: { k, accuracy: topkAccuracy(s, k), accuracy_sklearn_ties: topkAccuracy(s, k, true) },
    balanced_accuracy: cls.balanced_accuracy,
    precision: cls.precision,
    recall: cls.recall,
    f1: cls.f1,
    support: cls.support,
    mcc: cls.mcc,
    cohen_kappa: cls.cohen_kappa,
    log_loss: s.numSamples ? s.nllSum / s.numSamples : 0,
    brier: s.numSamples ? s.brierSum / s.numSamples : 0,
    auroc,
    auprc,
    ...extra,
    ece: cal.ece,
    mce: cal.mce,
    ace,
    classwise_ece: cw.mean,
    classwise_ece_per_class: cw.perClass,
    reliability: cal.reliability,
    confusion_matrix: confusionRows(s),
    settings: {
      calibration_bins: s.calibrationBins,
      score_bins: s.scoreBins,
      input: s.input,
      temperature: s.temperature,
    },
  };
  if (options.bootstrap && s.samples) {
    report.bootstrap = bootstrapIntervals(s.samples, s.numClasses, s.calibrationBins, {
      replicates: options.bootstrap,
      seed: options.seed ?? 0,
    });
  }
  if (options.temperatureScaling && s.logits && s.samples) {
    report.temperature_scaling = fitTemperature(
      s.logits,
      s.samples.label,
      s.numClasses,
      s.calibrationBins,
    );
  }
  return report;
}

/**
 * The float64 CPU reference path: metrics of `labels` (n) and `values`
 * (n×C row-major logits or probabilities, see `options.input`).
 */
export function computeMetricsFromArrays(
  labels: ArrayLike<number>,
  values: ArrayLike<number>,
  options: AccumulateOptions & ComputeOptions,
): MetricsReport {
  return computeMetrics(accumulateArrays(labels, values, options), options);
}
