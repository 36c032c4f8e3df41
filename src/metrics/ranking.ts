/**
 * One-vs-rest ranking metrics: ROC AUC and average precision (AUPRC) per
 * class, exact (from kept per-sample scores) or binned (from the ranking
 * histograms). Tied scores count one half in the AUC and form one threshold
 * in AP (scikit-learn, no interpolation). A class with no positive or no
 * negative sample is skipped: its entry is null and it is listed in
 * `skipped_classes`; the averages run over the evaluated classes.
 *
 * Binned error bound: the histogram AUC differs from the exact AUC only
 * through (positive, negative) pairs whose scores share a bin, which it
 * counts as ties. So |AUC_binned - AUC_exact| ≤ ½ Σ_s pos_s·neg_s / (P·N),
 * reported per class as `max_error` (a rigorous, data-dependent bound).
 */
import { MetricsInputError } from "../errors.ts";
import type { MetricSnapshot } from "./snapshot.ts";

/** AUROC or AUPRC per class with averages. */
export interface RankingMetric {
  /** Mean over the evaluated classes (null when none could be evaluated). */
  macro: number | null;
  /** Mean weighted by support over the evaluated classes. */
  weighted: number | null;
  /** Value per class, null for skipped classes. */
  per_class: (number | null)[];
  /** Classes without positive or without negative samples. */
  skipped_classes: number[];
  /** "exact" (from per-sample scores) or "binned" (from histograms). */
  method: "exact" | "binned";
  /** Binned AUROC only: upper bound of |binned - exact| per class (see module doc). */
  max_error?: (number | null)[];
}

/** AUC and AP of one class from groups of tied scores, ordered by score ascending. */
function fromGroups(
  pos: ArrayLike<number>,
  neg: ArrayLike<number>,
  P: number,
  N: number,
): { auc: number; ap: number; tiedPairs: number } {
  let negBelow = 0, auc = 0, tiedPairs = 0;
  const G = pos.length;
  for (let g = 0; g < G; g++) {
    auc += pos[g] * (negBelow + 0.5 * neg[g]);
    tiedPairs += pos[g] * neg[g];
    negBelow += neg[g];
  }
  // AP: thresholds from the highest score down.
  let tp = 0, fp = 0, ap = 0, prevRecall = 0;
  for (let g = G - 1; g >= 0; g--) {
    if (pos[g] === 0 && neg[g] === 0) continue;
    tp += pos[g];
    fp += neg[g];
    const recall = tp / P;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
  }
  return { auc: auc / (P * N), ap, tiedPairs };
}

/** Score equality that also holds NaN equal to itself, so a group is never empty. */
function same(a: number, b: number): boolean {
  return a === b || (a !== a && b !== b);
}

/**
 * Groups sorted positive and negative scores into runs of equal score
 * (ascending). Safe on any input: typed-array sort puts NaN last, NaN is one
 * group, and every step consumes at least one score, so it always ends.
 */
export function tieGroups(
  posScores: Float64Array,
  negScores: Float64Array,
): { pos: number[]; neg: number[] } {
  posScores.sort();
  negScores.sort();
  const pos: number[] = [], neg: number[] = [];
  const P = posScores.length, N = negScores.length;
  let i = 0, j = 0;
  while (i < P || j < N) {
    let v: number;
    if (i >= P) v = negScores[j];
    else if (j >= N) v = posScores[i];
    else {
      const a = posScores[i], b = negScores[j];
      v = a !== a ? b : b !== b ? a : Math.min(a, b);
    }
    let a = 0, b = 0;
    while (i < P && same(posScores[i], v)) {
      i++;
      a++;
    }
    while (j < N && same(negScores[j], v)) {
      j++;
      b++;
    }
    pos.push(a);
    neg.push(b);
  }
  return { pos, neg };
}

function finish(
  values: (number | null)[],
  support: Float64Array,
  method: "exact" | "binned",
): RankingMetric {
  const skipped: number[] = [];
  let sum = 0, wsum = 0, wtot = 0, count = 0;
  values.forEach((v, k) => {
    if (v === null) skipped.push(k);
    else {
      sum += v;
      count++;
      wsum += v * support[k];
      wtot += support[k];
    }
  });
  return {
    macro: count ? sum / count : null,
    weighted: wtot ? wsum / wtot : null,
    per_class: values,
    skipped_classes: skipped,
    method,
  };
}

/**
 * The probabilities exact AUROC / AP rank, in float64, from kept logits [n, C]
 * divided by `temperature`. Why not the GPU's float32 softmax: float32 breaks
 * ties that the probabilities truly have (rows that are permutations of each
 * other sum their exponentials in different orders, so equal probabilities
 * differ in the last bit) and flushes probabilities below ~1e-38 to a tied 0,
 * and AUROC / AP count ties. Each row's exponentials are summed in ascending
 * order, so equal multisets give bit-equal sums and equal logits equal scores.
 */
export function rankingScoresFromLogits(
  logits: ArrayLike<number>,
  numClasses: number,
  temperature = 1,
): Float64Array {
  const C = numClasses, n = logits.length / C;
  const p = new Float64Array(n * C), sorted = new Float64Array(C);
  for (let i = 0; i < n; i++) {
    const row = i * C;
    let m = -Infinity;
    for (let c = 0; c < C; c++) m = Math.max(m, logits[row + c]);
    for (let c = 0; c < C; c++) {
      sorted[c] = p[row + c] = Math.exp((logits[row + c] - m) / temperature);
    }
    sorted.sort();
    let sum = 0;
    for (let c = 0; c < C; c++) sum += sorted[c];
    for (let c = 0; c < C; c++) p[row + c] /= sum;
  }
  return p;
}

/** Exact AUROC and AP from kept per-sample probabilities and labels. */
export function exactRanking(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  numClasses: number,
): { auroc: RankingMetric; auprc: RankingMetric } {
  const C = numClasses, n = labels.length;
  if (scores.length !== n * C) {
    throw new MetricsInputError(`${scores.length} scores do not form ${n} rows of ${C} classes`);
  }
  const support = new Float64Array(C);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < C)) {
      throw new MetricsInputError(`label ${y} of sample row ${i} is outside 0..${C - 1}`);
    }
    support[y]++;
  }
  for (let i = 0; i < n * C; i++) {
    if (!Number.isFinite(scores[i])) {
      throw new MetricsInputError(
        `score ${scores[i]} of sample row ${Math.floor(i / C)}, class ${i % C} is not a finite ` +
          `number: AUROC / AP cannot rank it. Check the predictions for NaN or infinite values.`,
      );
    }
  }
  const auc: (number | null)[] = [], ap: (number | null)[] = [];
  for (let k = 0; k < C; k++) {
    const P = support[k], N = n - P;
    if (P === 0 || N === 0) {
      auc.push(null);
      ap.push(null);
      continue;
    }
    const posScores = new Float64Array(P), negScores = new Float64Array(N);
    let a = 0, b = 0;
    for (let i = 0; i < n; i++) {
      if (labels[i] === k) posScores[a++] = scores[i * C + k];
      else negScores[b++] = scores[i * C + k];
    }
    const g = tieGroups(posScores, negScores);
    const r = fromGroups(g.pos, g.neg, P, N);
    auc.push(r.auc);
    ap.push(r.ap);
  }
  return { auroc: finish(auc, support, "exact"), auprc: finish(ap, support, "exact") };
}

/** Binned AUROC (with its error bound) and AP from the ranking histograms. */
export function binnedRanking(s: MetricSnapshot): { auroc: RankingMetric; auprc: RankingMetric } {
  const C = s.numClasses, S = s.scoreBins, n = s.numSamples;
  const auc: (number | null)[] = [], ap: (number | null)[] = [], bound: (number | null)[] = [];
  const neg = new Float64Array(S);
  for (let k = 0; k < C; k++) {
    const P = s.labelCount[k], N = n - P;
    if (P === 0 || N === 0) {
      auc.push(null);
      ap.push(null);
      bound.push(null);
      continue;
    }
    const pos = s.scorePositives.subarray(k * S, k * S + S);
    const all = s.scoreAll.subarray(k * S, k * S + S);
    for (let b = 0; b < S; b++) neg[b] = all[b] - pos[b];
    const r = fromGroups(pos, neg, P, N);
    auc.push(r.auc);
    ap.push(r.ap);
    bound.push(0.5 * r.tiedPairs / (P * N));
  }
  const auroc = finish(auc, s.labelCount, "binned");
  auroc.max_error = bound;
  return { auroc, auprc: finish(ap, s.labelCount, "binned") };
}
