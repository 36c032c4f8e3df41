/**
 * The input of the report layer. The types are structural and mostly optional
 * so that the metrics object written to `metrics.json` (src/metrics) can be
 * passed as it is; anything missing is shown as "n/a" or its section is left out.
 */

import type { TtaFlipExample, TtaLike } from "./tta_section.ts";

/** A metric that may be absent or undefined (e.g. AUROC of a class with no positives). */
export type MaybeNumber = number | null | undefined;

/** A score averaged over classes, as in scikit-learn's `average=` options. */
export interface AveragedScore {
  /** Unweighted mean over classes. */
  readonly macro?: MaybeNumber;
  /** Mean weighted by class support. */
  readonly weighted?: MaybeNumber;
  /** Pooled over all samples (equals accuracy for single-label P/R/F1). */
  readonly micro?: MaybeNumber;
  /** One value per class, `null` where the class is skipped. */
  readonly per_class?: readonly MaybeNumber[];
  /** How it was computed, e.g. "exact" or "binned" (ranking metrics). */
  readonly method?: string;
}

/** One equal-width confidence bin `(lo, hi]` of the reliability diagram. */
export interface ReliabilityBin {
  /** Lower edge (exclusive, except 0). */
  readonly lo: number;
  /** Upper edge (inclusive). */
  readonly hi: number;
  /** Number of samples whose confidence falls in the bin. */
  readonly count: number;
  /** Mean confidence in the bin; null/undefined when empty. */
  readonly confidence?: MaybeNumber;
  /** Fraction of correct predictions in the bin; null/undefined when empty. */
  readonly accuracy?: MaybeNumber;
}

/** An image that could not be used, and why. */
export interface FailedImage {
  /** Path of the image. */
  readonly path: string;
  /** Why it was skipped (decode error, missing label, ...). */
  readonly reason: string;
}

/**
 * The metrics object (the content of `metrics.json`). Fields the report does
 * not know are shown in the run-metadata table.
 */
export interface MetricsLike {
  /** Number of evaluated samples. */
  readonly num_samples?: number;
  /** Number of classes C. */
  readonly num_classes?: number;
  /** Top-1 accuracy (fraction). */
  readonly top1?: MaybeNumber;
  /** Top-5 accuracy (fraction). */
  readonly top5?: MaybeNumber;
  /** Mean recall over classes present in the labels. */
  readonly balanced_accuracy?: MaybeNumber;
  /** Precision. */
  readonly precision?: AveragedScore;
  /** Recall. */
  readonly recall?: AveragedScore;
  /** F1 score. */
  readonly f1?: AveragedScore;
  /** Matthews correlation coefficient. */
  readonly mcc?: MaybeNumber;
  /** Cohen's kappa. */
  readonly cohen_kappa?: MaybeNumber;
  /** Mean negative log-likelihood of the true class. */
  readonly log_loss?: MaybeNumber;
  /** Multiclass Brier score (0..2). */
  readonly brier?: MaybeNumber;
  /** One-vs-rest ROC AUC. */
  readonly auroc?: AveragedScore;
  /** One-vs-rest average precision. */
  readonly auprc?: AveragedScore;
  /** Expected calibration error (equal-width bins). */
  readonly ece?: MaybeNumber;
  /** Maximum calibration error. */
  readonly mce?: MaybeNumber;
  /** Adaptive (equal-mass) calibration error. */
  readonly ace?: MaybeNumber;
  /** Mean classwise ECE. */
  readonly classwise_ece?: MaybeNumber;
  /** Reliability-diagram bins. */
  readonly reliability?: readonly ReliabilityBin[];
  /** Class-wise ECE per class (shown in the per-class table). */
  readonly classwise_ece_per_class?: readonly MaybeNumber[];
  /** C×C counts, rows = true label, columns = predicted label; null when not kept. */
  readonly confusion_matrix?: readonly (readonly number[])[] | null;
  /** Number of true samples per class (derived from the confusion matrix when absent). */
  readonly support?: readonly number[];
  /** Images that were skipped. */
  readonly failed?: readonly FailedImage[];
  /** Temperature scaling, when it was fitted (shown as before/after reliability diagrams). */
  readonly temperature_scaling?: TemperatureScalingLike;
  /** Bootstrap confidence intervals of the headline metrics. */
  readonly bootstrap?: BootstrapLike;
  /** Calibration methods fitted on one part and measured on the other (`--calibration-split`). */
  readonly calibration_split?: CalibrationTableLike;
  /** A stored calibrator applied to every sample (`--calibrator`). */
  readonly calibrated?: CalibrationTableLike;
  /** Test-time augmentation: the metrics with it and what it changed. */
  readonly tta?: TtaLike;
}

/** A confidence interval. */
export interface IntervalLike {
  /** Lower bound. */
  readonly lo: number;
  /** Upper bound. */
  readonly hi: number;
}

/** The `bootstrap` entry of metrics.json. */
export interface BootstrapLike {
  /** Coverage, e.g. 0.95. */
  readonly level?: number;
  /** Number of replicates. */
  readonly replicates?: number;
  /** Interval of top-1 accuracy. */
  readonly top1?: IntervalLike;
  /** Interval of macro-F1. */
  readonly macro_f1?: IntervalLike;
  /** Interval of ECE. */
  readonly ece?: IntervalLike;
}

/** The `temperature_scaling` entry of metrics.json. */
export interface TemperatureScalingLike {
  /** The fitted temperature T. */
  readonly temperature: number;
  /** Mean NLL at T = 1. */
  readonly nll_before?: MaybeNumber;
  /** Mean NLL at the fitted T. */
  readonly nll_after?: MaybeNumber;
  /** ECE at T = 1. */
  readonly ece_before?: MaybeNumber;
  /** ECE at the fitted T. */
  readonly ece_after?: MaybeNumber;
  /** MCE at T = 1. */
  readonly mce_before?: MaybeNumber;
  /** MCE at the fitted T. */
  readonly mce_after?: MaybeNumber;
  /** Reliability table at T = 1. */
  readonly reliability_before?: readonly ReliabilityBin[];
  /** Reliability table at the fitted T. */
  readonly reliability_after?: readonly ReliabilityBin[];
}

/** An 8-bit image, row-major, interleaved; channels = data.length / (width*height): 1, 3 or 4. */
export interface RasterImage {
  /** Width in pixels. */
  readonly width: number;
  /** Height in pixels. */
  readonly height: number;
  /** Pixel bytes (gray, RGB or RGBA). */
  readonly data: Uint8Array | Uint8ClampedArray;
}

/** One ROC point. */
export interface RocPoint {
  /** False-positive rate. */
  readonly fpr: number;
  /** True-positive rate (recall). */
  readonly tpr: number;
}

/** One precision-recall point. */
export interface PrPoint {
  /** Recall. */
  readonly recall: number;
  /** Precision. */
  readonly precision: number;
}

/** One-vs-rest ROC and PR curves of one class. */
export interface ClassCurves {
  /** Class index. */
  readonly class: number;
  /** ROC points, any order (sorted by the plot). */
  readonly roc: readonly RocPoint[];
  /** PR points, any order (sorted by the plot). */
  readonly pr: readonly PrPoint[];
  /** Area under the ROC curve, when known (else integrated from the points). */
  readonly auroc?: MaybeNumber;
  /** Average precision, when known (else integrated from the points). */
  readonly auprc?: MaybeNumber;
}

/** Equal-width histograms over confidence [0, 1] of correct and wrong predictions. */
export interface ConfidenceHistograms {
  /** Counts of correct predictions per bin. */
  readonly correct: readonly number[];
  /** Counts of wrong predictions per bin. */
  readonly wrong: readonly number[];
}

/** A misclassified image for the gallery. */
export interface MistakeExample {
  /** Image path. */
  readonly path: string;
  /** True class index. */
  readonly label: number;
  /** Predicted class index. */
  readonly pred: number;
  /** Confidence of the prediction (max probability). */
  readonly confidence: number;
  /** Small image to show (encoded as PNG into the page). */
  readonly thumbnail?: RasterImage;
}

/** An explanation map (Grad-CAM, rollout, ...) for one image. */
export interface ExplanationExample {
  /** Image path. */
  readonly path: string;
  /** Method name, e.g. "gradcam", "rollout". */
  readonly method: string;
  /** Class the map explains. */
  readonly class: number;
  /** The overlay: encoded PNG/JPEG bytes or raw pixels. */
  readonly overlay: Uint8Array | RasterImage;
  /** The input image without the map, shown beside it when given. */
  readonly image?: RasterImage;
  /** True class, when known. */
  readonly label?: number;
  /** Predicted class, when known. */
  readonly pred?: number;
  /** Confidence of the prediction, when known. */
  readonly confidence?: number;
}

/** One projected sample. */
export interface EmbeddingPoint {
  /** First projected coordinate. */
  readonly x: number;
  /** Second projected coordinate. */
  readonly y: number;
  /** True class (negative or undefined when unknown). */
  readonly label?: number;
  /** Predicted class. */
  readonly pred?: number;
  /** Image path. */
  readonly path?: string;
}

/** A 2-D projection of the penultimate features. */
export interface EmbeddingInput {
  /** "pca", "umap", "tsne", ... */
  readonly method: string;
  /** The points. */
  readonly points: readonly EmbeddingPoint[];
}

/** One method's calibration metrics (metrics.json `calibration_split.rows[i]`). */
export interface CalibrationRowLike {
  /** The method ("none" = uncalibrated). */
  readonly method: string;
  /** Why it was not fitted. */
  readonly refused?: string;
  /** Mean negative log-likelihood. */
  readonly nll?: MaybeNumber;
  /** Multiclass Brier score. */
  readonly brier?: MaybeNumber;
  /** Expected calibration error. */
  readonly ece?: MaybeNumber;
  /** Adaptive ECE. */
  readonly ace?: MaybeNumber;
  /** Mean class-wise ECE. */
  readonly classwise_ece?: MaybeNumber;
  /** Top-1 accuracy. */
  readonly accuracy?: MaybeNumber;
  /** Reliability bins. */
  readonly reliability?: readonly ReliabilityBin[] | null;
}

/** A table of calibration rows and what they were measured on. */
export interface CalibrationTableLike {
  /** The rows, "none" first. */
  readonly rows: readonly CalibrationRowLike[];
  /** Samples fitted on (split). */
  readonly fit_samples?: number;
  /** Samples measured on (split). */
  readonly eval_samples?: number;
  /** Samples measured on (calibrator). */
  readonly samples?: number;
  /** The calibrator file. */
  readonly calibrator?: string;
}

/** Calibration numbers at one temperature. */
export interface CalibrationSide {
  /** Negative log-likelihood. */
  readonly nll?: MaybeNumber;
  /** Expected calibration error. */
  readonly ece?: MaybeNumber;
  /** Maximum calibration error. */
  readonly mce?: MaybeNumber;
  /** Reliability bins. */
  readonly reliability?: readonly ReliabilityBin[];
}

/** Temperature scaling result: before (T = 1) and after (fitted T). */
export interface CalibrationInput {
  /** The fitted temperature. */
  readonly temperature: number;
  /** Values at T = 1. */
  readonly before: CalibrationSide;
  /** Values at the fitted T. */
  readonly after: CalibrationSide;
}

/** Everything `writeHtmlReport` can show; only `metrics` is required. */
export interface ReportInput {
  /** The metrics object (metrics.json). */
  readonly metrics: MetricsLike;
  /** Class names by index (else "class k"). */
  readonly classNames?: readonly string[];
  /** Page title. */
  readonly title?: string;
  /** ROC/PR curves of selected classes. */
  readonly curves?: readonly ClassCurves[];
  /** Confidence histograms of correct vs wrong (derived from the reliability bins when absent). */
  readonly confidenceHistograms?: ConfidenceHistograms;
  /** Most confident mistakes, in display order. */
  readonly mistakes?: readonly MistakeExample[];
  /** Explanation maps. */
  readonly explanations?: readonly ExplanationExample[];
  /** Embedding projection. */
  readonly embedding?: EmbeddingInput;
  /** Temperature-scaling result (default: from `metrics.temperature_scaling`). */
  readonly calibration?: CalibrationInput;
  /** Extra run metadata (model, data, adapter, timings, ...), shown as a table. */
  readonly meta?: Readonly<Record<string, unknown>>;
  /** Images whose prediction test-time augmentation changed (with `metrics.tta`). */
  readonly ttaFlips?: readonly TtaFlipExample[];
}
