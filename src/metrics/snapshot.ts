/**
 * The host-side metric state: a fixed-size set of counts, histograms and
 * float64 sums (plus optional per-sample records) from which every metric is
 * finished. The GPU {@link MetricState} reads back into this shape; the
 * float64 CPU reference builds the same shape directly from arrays. Shards
 * add: {@link mergeSnapshots} of any split equals the snapshot of the whole.
 *
 * Binning rules (shared by the GPU kernel and the CPU reference):
 * - calibration bin of a value c in [0, 1] with B equal-width bins `(lo, hi]`:
 *   `min(max(ceil(c * B) - 1, 0), B - 1)` (0 goes to bin 0, 1 to bin B-1);
 * - ranking (score) bin: equal width in log-odds `u = ln(p / (1 - p))` over
 *   [-48, 16] (p from 1.4e-21 to 1 - 1.1e-7, about where float32 stops
 *   resolving 1 - p) with S bins, clamped at both ends. Log-odds spread the
 *   small probabilities of many-class (and over-confident) softmax outputs
 *   over many bins, where equal width in p would put them all in bin 0.
 */
import { MetricsInputError } from "../errors.ts";
import {
  checkMergeable,
  checkProvenance,
  mergedProvenance,
  type StateProvenance,
} from "./provenance.ts";

/** Highest rank recorded for top-k accuracy (k ≤ 10). */
export const MAX_TOPK = 10;
/** Log-odds range [min, max] of the ranking histograms. */
export const SCORE_LOGIT_MIN = -48;
/** Upper end of the ranking histograms' log-odds range. */
export const SCORE_LOGIT_MAX = 16;
/** sklearn's log-loss clipping: probabilities are clipped to [eps, 1 - eps]. */
export const LOG_LOSS_EPS = 2.220446049250313e-16;

/** What the values given to the state are. */
export type MetricInputKind = "logits" | "probs";

/** Per-sample records kept for adaptive ECE and the bootstrap. */
export interface SampleRecords {
  /** Global sample index (order of the whole evaluation; shards keep theirs). */
  index: Float64Array;
  /** True label. */
  label: Int32Array;
  /** Predicted class (argmax, lowest index on ties). */
  pred: Int32Array;
  /** Confidence: the largest probability. */
  conf: Float64Array;
}

/** The mergeable metric state (host copy). Counts are exact integers held as float64. */
export interface MetricSnapshot {
  /** Format tag of the serialized file. */
  format: "visioneval-metric-state";
  /** Format version. */
  version: 1;
  /** Number of classes C. */
  numClasses: number;
  /** Equal-width calibration bins B. */
  calibrationBins: number;
  /** Ranking histogram bins S (log-odds scale). */
  scoreBins: number;
  /** Whether logits or probabilities were given. */
  input: MetricInputKind;
  /** Softmax temperature the logits were divided by. */
  temperature: number;
  /** Samples accumulated. */
  numSamples: number;
  /** rankLower[r]: samples whose label is ranked r-th (ties: lower class index first). */
  rankLower: Float64Array;
  /** The same with scikit-learn's tie rule (higher class index first). */
  rankSklearn: Float64Array;
  /** Σ per-sample log loss (probabilities clipped to [eps, 1-eps] and renormalized). */
  nllSum: number;
  /** Σ per-sample Brier score Σ_c (p_c - onehot_c)². */
  brierSum: number;
  /** Samples per true class (support). */
  labelCount: Float64Array;
  /** Samples per predicted class. */
  predCount: Float64Array;
  /** Correct predictions per class. */
  truePositive: Float64Array;
  /** C×C confusion counts (rows true, columns predicted), or null when not kept (large C). */
  confusion: Float64Array | null;
  /** Calibration bins: samples per bin. */
  calibCount: Float64Array;
  /** Calibration bins: Σ confidence. */
  calibConfSum: Float64Array;
  /** Calibration bins: Σ correct. */
  calibCorrect: Float64Array;
  /** Class-wise calibration [C, B]: samples whose p_k falls in bin b. */
  classwiseCount: Float64Array;
  /** Class-wise calibration [C, B]: Σ p_k in bin b. */
  classwiseProbSum: Float64Array;
  /** Class-wise calibration [C, B]: samples of class k in bin b. */
  classwisePositives: Float64Array;
  /** Ranking histogram [C, S]: all samples by score bin of p_k. */
  scoreAll: Float64Array;
  /** Ranking histogram [C, S]: samples of class k by score bin of p_k. */
  scorePositives: Float64Array;
  /** Per-sample records (adaptive ECE, bootstrap), or null. */
  samples: SampleRecords | null;
  /** Per-sample probabilities [n, C] for exact AUROC / AP, or null. */
  scores: Float32Array | Float64Array | null;
  /** Per-sample logits [n, C] (before temperature) for temperature scaling, or null. */
  logits: Float32Array | Float64Array | null;
  /**
   * What the state is (model, dataset, classes, pipeline, shard, sample
   * ranges), checked by {@link mergeSnapshots}; absent in states written by
   * older versions and in states not written by `eval` / `metrics` / `merge`.
   */
  provenance?: StateProvenance | null;
}

/** Calibration bin of `c` (see the module doc). */
export function calibrationBin(c: number, bins: number): number {
  return Math.min(Math.max(Math.ceil(c * bins) - 1, 0), bins - 1);
}

/** Ranking-histogram bin of probability `p` (see the module doc). */
export function scoreBin(p: number, bins: number): number {
  if (!(p > 0)) return 0;
  if (p >= 1) return bins - 1;
  const u = Math.log(p) - Math.log1p(-p);
  const f = Math.floor((u - SCORE_LOGIT_MIN) / (SCORE_LOGIT_MAX - SCORE_LOGIT_MIN) * bins);
  return Math.min(Math.max(f, 0), bins - 1);
}

/** Default ranking-histogram size for C classes: 4096, fewer when C·S would exceed 2^24. */
export function defaultScoreBins(numClasses: number): number {
  return Math.max(64, Math.min(4096, Math.floor(2 ** 24 / numClasses)));
}

/** Shape options of an empty snapshot. */
export interface SnapshotShape {
  /** Number of classes C (the logits' last dimension). */
  numClasses: number;
  /** Equal-width calibration bins (default 15). */
  calibrationBins?: number;
  /** Ranking-histogram bins (default {@link defaultScoreBins}: 4096, fewer for very many classes). */
  scoreBins?: number;
  /** Whether the scores are logits (softmax applied) or probabilities (default "logits"). */
  input?: MetricInputKind;
  /** Temperature (default 1). */
  temperature?: number;
  /** Keep the C×C confusion matrix (default: C ≤ 4096). */
  confusion?: boolean;
}

/** An empty snapshot (all counts zero, no per-sample records). */
export function emptySnapshot(shape: SnapshotShape): MetricSnapshot {
  const C = shape.numClasses;
  const B = shape.calibrationBins ?? 15;
  const S = shape.scoreBins ?? defaultScoreBins(C);
  if (!Number.isInteger(C) || C < 1) {
    throw new MetricsInputError(`numClasses must be ≥ 1, got ${C}`);
  }
  if (!Number.isInteger(B) || B < 1) throw new MetricsInputError(`bins must be ≥ 1, got ${B}`);
  // Untyped (JavaScript) callers: any other string would silently be read as probabilities.
  if (shape.input !== undefined && shape.input !== "logits" && shape.input !== "probs") {
    throw new MetricsInputError(
      `input must be "logits" or "probs", got ${JSON.stringify(shape.input)}`,
    );
  }
  const T = shape.temperature ?? 1;
  if (!(T > 0 && Number.isFinite(T))) {
    throw new MetricsInputError(`temperature must be a finite number > 0, got ${T}`);
  }
  const keepConfusion = shape.confusion ?? C <= 4096;
  return {
    format: "visioneval-metric-state",
    version: 1,
    numClasses: C,
    calibrationBins: B,
    scoreBins: S,
    input: shape.input ?? "logits",
    temperature: T,
    numSamples: 0,
    rankLower: new Float64Array(MAX_TOPK),
    rankSklearn: new Float64Array(MAX_TOPK),
    nllSum: 0,
    brierSum: 0,
    labelCount: new Float64Array(C),
    predCount: new Float64Array(C),
    truePositive: new Float64Array(C),
    confusion: keepConfusion ? new Float64Array(C * C) : null,
    calibCount: new Float64Array(B),
    calibConfSum: new Float64Array(B),
    calibCorrect: new Float64Array(B),
    classwiseCount: new Float64Array(C * B),
    classwiseProbSum: new Float64Array(C * B),
    classwisePositives: new Float64Array(C * B),
    scoreAll: new Float64Array(C * S),
    scorePositives: new Float64Array(C * S),
    samples: null,
    scores: null,
    logits: null,
  };
}

/** Options of {@link accumulateArrays}. */
export interface AccumulateOptions extends SnapshotShape {
  /** Keep per-sample records (default true). */
  keepSamples?: boolean;
  /** Keep per-sample probabilities for exact ranking metrics (default true). */
  keepScores?: boolean;
  /** Keep logits for temperature scaling (default: true when input is "logits"). */
  keepLogits?: boolean;
  /** Global index of the first sample (default 0). */
  sampleOffset?: number;
}

/**
 * The float64 CPU reference: builds the snapshot of `labels` (n values) and
 * `values` (n×C row-major logits or probabilities). Probabilities are used
 * as given (only the log loss renormalizes after clipping, as scikit-learn).
 */
export function accumulateArrays(
  labels: ArrayLike<number>,
  values: ArrayLike<number>,
  options: AccumulateOptions,
): MetricSnapshot {
  const s = emptySnapshot(options);
  const C = s.numClasses, B = s.calibrationBins, S = s.scoreBins;
  const n = labels.length;
  if (values.length !== n * C) {
    throw new MetricsInputError(
      `${values.length} values do not form ${n} rows of ${C} classes`,
    );
  }
  const invT = 1 / s.temperature;
  const keepSamples = options.keepSamples ?? true;
  const keepScores = options.keepScores ?? true;
  const keepLogits = options.keepLogits ?? s.input === "logits";
  const offset = options.sampleOffset ?? 0;
  const samples: SampleRecords | null = keepSamples
    ? {
      index: new Float64Array(n),
      label: new Int32Array(n),
      pred: new Int32Array(n),
      conf: new Float64Array(n),
    }
    : null;
  const scores = keepScores ? new Float64Array(n * C) : null;
  const p = new Float64Array(C);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= C) {
      throw new MetricsInputError(
        `label ${y} of sample ${offset + i} is outside 0..${C - 1}`,
      );
    }
    const row = i * C;
    // Argmax of the given values (lowest index on ties) and the softmax.
    let pred = 0, m = values[row];
    for (let c = 1; c < C; c++) if (values[row + c] > m) m = values[row + (pred = c)];
    if (s.input === "logits") {
      let sum = 0;
      for (let c = 0; c < C; c++) sum += p[c] = Math.exp((values[row + c] - m) * invT);
      for (let c = 0; c < C; c++) p[c] /= sum;
    } else {
      for (let c = 0; c < C; c++) p[c] = values[row + c];
    }
    const conf = p[pred];
    const correct = pred === y ? 1 : 0;
    // Rank of the label under both tie rules.
    const vy = values[row + y];
    let greater = 0, tieBelow = 0, tieAbove = 0;
    for (let c = 0; c < C; c++) {
      const v = values[row + c];
      if (v > vy) greater++;
      else if (v === vy && c < y) tieBelow++;
      else if (v === vy && c > y) tieAbove++;
    }
    if (greater + tieBelow < MAX_TOPK) s.rankLower[greater + tieBelow]++;
    if (greater + tieAbove < MAX_TOPK) s.rankSklearn[greater + tieAbove]++;
    // Log loss with scikit-learn's clipping and renormalization.
    let clippedSum = 0;
    for (let c = 0; c < C; c++) clippedSum += clip(p[c]);
    s.nllSum += -Math.log(clip(p[y]) / clippedSum);
    let brier = 0;
    for (let c = 0; c < C; c++) brier += (p[c] - (c === y ? 1 : 0)) ** 2;
    s.brierSum += brier;
    s.labelCount[y]++;
    s.predCount[pred]++;
    s.truePositive[y] += correct;
    if (s.confusion) s.confusion[y * C + pred]++;
    const b = calibrationBin(conf, B);
    s.calibCount[b]++;
    s.calibConfSum[b] += conf;
    s.calibCorrect[b] += correct;
    for (let c = 0; c < C; c++) {
      const cb = c * B + calibrationBin(p[c], B);
      s.classwiseCount[cb]++;
      s.classwiseProbSum[cb] += p[c];
      s.scoreAll[c * S + scoreBin(p[c], S)]++;
    }
    s.classwisePositives[y * B + calibrationBin(p[y], B)]++;
    s.scorePositives[y * S + scoreBin(p[y], S)]++;
    if (samples) {
      samples.index[i] = offset + i;
      samples.label[i] = y;
      samples.pred[i] = pred;
      samples.conf[i] = conf;
    }
    if (scores) scores.set(p, row);
  }
  s.numSamples = n;
  s.samples = samples;
  s.scores = scores;
  s.logits = keepLogits && s.input === "logits" ? Float64Array.from(values) : null;
  return s;
}

function clip(p: number): number {
  return Math.min(Math.max(p, LOG_LOSS_EPS), 1 - LOG_LOSS_EPS);
}

/** The snapshot's additive per-class / per-bin arrays (the confusion matrix, when kept, adds too). */
export const COUNT_FIELDS = [
  "rankLower",
  "rankSklearn",
  "labelCount",
  "predCount",
  "truePositive",
  "calibCount",
  "calibConfSum",
  "calibCorrect",
  "classwiseCount",
  "classwiseProbSum",
  "classwisePositives",
  "scoreAll",
  "scorePositives",
] as const;

/**
 * Checks that a snapshot is internally consistent (`name` is used in
 * messages): counts are non-negative integers, sums finite and
 * non-negative, and the marginals agree (per-class supports, predictions,
 * calibration bins, histogram rows and the confusion matrix all total the
 * sample count; true positives fit in both marginals); per-sample records,
 * when kept, have one entry per sample, distinct indices and labels in range;
 * the provenance's sample ranges match. Throws a {@link MetricsInputError}.
 */
export function validateSnapshot(s: MetricSnapshot, name: string): void {
  const damaged = (what: string) =>
    new MetricsInputError(
      `${name}: ${what}: the state is inconsistent (damaged or edited); re-run the shard that ` +
        `wrote it.`,
    );
  const C = s.numClasses, B = s.calibrationBins, S = s.scoreBins, n = s.numSamples;
  if (!Number.isInteger(C) || C < 1) throw damaged(`numClasses is ${C}`);
  if (!Number.isInteger(B) || B < 1) throw damaged(`calibrationBins is ${B}`);
  if (!Number.isInteger(S) || S < 1) throw damaged(`scoreBins is ${S}`);
  if (!Number.isSafeInteger(n) || n < 0) throw damaged(`numSamples is ${n}`);
  if (s.input !== "logits" && s.input !== "probs") throw damaged(`input is ${s.input}`);
  if (!(s.temperature > 0 && Number.isFinite(s.temperature))) {
    throw damaged(`temperature is ${s.temperature}`);
  }
  for (const key of ["nllSum", "brierSum"] as const) {
    if (!(s[key] >= 0 && Number.isFinite(s[key]))) throw damaged(`${key} is ${s[key]}`);
  }
  const sums = new Set(["calibConfSum", "classwiseProbSum"]);
  const fields = [...COUNT_FIELDS, ...(s.confusion ? ["confusion" as const] : [])];
  for (const f of fields) {
    const a = s[f]!;
    for (let i = 0; i < a.length; i++) {
      const v = a[i];
      if (!(v >= 0 && Number.isFinite(v)) || (!sums.has(f) && !Number.isInteger(v))) {
        throw damaged(`${f}[${i}] is ${v}, not a ${sums.has(f) ? "finite sum ≥ 0" : "count ≥ 0"}`);
      }
    }
  }
  const total = (a: ArrayLike<number>, from = 0, len = a.length) => {
    let t = 0;
    for (let i = from; i < from + len; i++) t += a[i];
    return t;
  };
  const expect = (what: string, got: number, want: number, of = "numSamples") => {
    if (got !== want) throw damaged(`${what} totals ${got} but ${of} is ${want}`);
  };
  expect("labelCount", total(s.labelCount), n);
  expect("predCount", total(s.predCount), n);
  expect("calibCount", total(s.calibCount), n);
  if (total(s.rankLower) > n || total(s.rankSklearn) > n) {
    throw damaged(`the top-k rank counts exceed numSamples ${n}`);
  }
  for (let k = 0; k < C; k++) {
    if (s.truePositive[k] > Math.min(s.labelCount[k], s.predCount[k])) {
      throw damaged(`class ${k} has more true positives than samples or predictions`);
    }
    expect(`scoreAll of class ${k}`, total(s.scoreAll, k * S, S), n);
    expect(`classwiseCount of class ${k}`, total(s.classwiseCount, k * B, B), n);
    const of = `labelCount[${k}]`;
    expect(`scorePositives of class ${k}`, total(s.scorePositives, k * S, S), s.labelCount[k], of);
    expect(
      `classwisePositives of class ${k}`,
      total(s.classwisePositives, k * B, B),
      s.labelCount[k],
      of,
    );
    if (s.confusion) {
      expect(`confusion row ${k}`, total(s.confusion, k * C, C), s.labelCount[k], of);
      if (s.confusion[k * C + k] !== s.truePositive[k]) {
        throw damaged(`confusion[${k}, ${k}] is not truePositive[${k}]`);
      }
    }
  }
  for (let b = 0; b < B; b++) {
    if (s.calibCorrect[b] > s.calibCount[b]) {
      throw damaged(`calibration bin ${b} has more correct than samples`);
    }
  }
  expect("calibCorrect", total(s.calibCorrect), total(s.truePositive), "the true positives' total");
  if (s.samples) {
    const r = s.samples;
    for (const key of ["index", "label", "pred", "conf"] as const) {
      if (r[key].length !== n) {
        throw damaged(`samples.${key} has ${r[key].length} entries for ${n} samples`);
      }
    }
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) {
      const idx = r.index[i];
      if (!Number.isSafeInteger(idx) || idx < 0) {
        throw damaged(`sample index ${idx} is not an index`);
      }
      if (seen.has(idx)) throw damaged(`sample index ${idx} appears twice`);
      seen.add(idx);
      if (!(r.label[i] >= 0 && r.label[i] < C) || !(r.pred[i] >= 0 && r.pred[i] < C)) {
        throw damaged(
          `sample ${idx} has label ${r.label[i]} / prediction ${r.pred[i]} outside 0..${C - 1}`,
        );
      }
    }
  }
  for (const key of ["scores", "logits"] as const) {
    const a = s[key];
    if (a && a.length !== n * C) throw damaged(`${key} has ${a.length} values for ${n} × ${C}`);
  }
  checkProvenance(s, name);
}

/** Options of {@link mergeSnapshots}. */
export interface MergeOptions {
  /** Names of the parts in messages (their files; default "state 1", "state 2", ...). */
  names?: readonly string[];
  /** Called with each warning (e.g. a part without provenance); default: ignored. */
  onWarning?: (message: string) => void;
}

/**
 * Combines shard snapshots into the snapshot of all their samples. Counts and
 * sums add; per-sample records (and kept scores / logits) are concatenated
 * and ordered by global sample index, so any split gives the same result.
 * Per-sample data is kept only when every shard has it. Every part is
 * validated first ({@link validateSnapshot}), and parts that are not shards
 * of one evaluation are refused (`checkMergeable` in provenance.ts:
 * overlapping samples, different models / datasets / classes / pipelines),
 * naming both parts.
 */
export function mergeSnapshots(
  parts: readonly MetricSnapshot[],
  options: MergeOptions = {},
): MetricSnapshot {
  if (parts.length === 0) throw new MetricsInputError("merge needs at least one state");
  const names = parts.map((_, k) => options.names?.[k] ?? `state ${k + 1}`);
  parts.forEach((p, k) => validateSnapshot(p, names[k]));
  const first = parts[0];
  parts.forEach((p, k) => {
    for (
      const key of ["numClasses", "calibrationBins", "scoreBins", "input", "temperature"] as const
    ) {
      if (p[key] !== first[key]) {
        throw new MetricsInputError(
          `cannot merge ${names[k]} with ${names[0]}: ${names[k]} has ${key} = ${p[key]} but ` +
            `${names[0]} has ${first[key]}: only states of the same evaluation settings can be ` +
            `merged`,
        );
      }
    }
  });
  for (const w of checkMergeable(parts.map((snapshot, k) => ({ name: names[k], snapshot })))) {
    options.onWarning?.(w);
  }
  const out = emptySnapshot({
    numClasses: first.numClasses,
    calibrationBins: first.calibrationBins,
    scoreBins: first.scoreBins,
    input: first.input,
    temperature: first.temperature,
    confusion: parts.every((p) => p.confusion !== null),
  });
  out.provenance = mergedProvenance(parts);
  for (const p of parts) {
    out.numSamples += p.numSamples;
    out.nllSum += p.nllSum;
    out.brierSum += p.brierSum;
    for (const f of COUNT_FIELDS) addInto(out[f], p[f]);
    if (out.confusion && p.confusion) addInto(out.confusion, p.confusion);
  }
  const C = first.numClasses;
  if (parts.every((p) => p.samples)) {
    const n = parts.reduce((a, p) => a + p.samples!.label.length, 0);
    const index = new Float64Array(n);
    let at = 0;
    for (const p of parts) {
      index.set(p.samples!.index, (at += p.samples!.index.length) - p.samples!.index.length);
    }
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => index[a] - index[b]);
    const gather = <T extends Float64Array | Int32Array | Float32Array>(
      get: (p: MetricSnapshot) => T | null,
      width: number,
      make: (n: number) => T,
    ): T => {
      const all = make(n * width);
      let o = 0;
      for (const p of parts) {
        const a = get(p)!;
        all.set(a, o);
        o += a.length;
      }
      const sorted = make(n * width);
      order.forEach((src, dst) =>
        sorted.set(all.subarray(src * width, src * width + width), dst * width)
      );
      return sorted;
    };
    out.samples = {
      index: gather((p) => p.samples!.index, 1, (m) => new Float64Array(m)),
      label: gather((p) => p.samples!.label, 1, (m) => new Int32Array(m)),
      pred: gather((p) => p.samples!.pred, 1, (m) => new Int32Array(m)),
      conf: gather((p) => p.samples!.conf, 1, (m) => new Float64Array(m)),
    };
    if (parts.every((p) => p.scores)) {
      out.scores = gather((p) => Float64Array.from(p.scores!), C, (m) => new Float64Array(m));
    }
    if (parts.every((p) => p.logits)) {
      out.logits = gather((p) => Float64Array.from(p.logits!), C, (m) => new Float64Array(m));
    }
  }
  return out;
}

function addInto(dst: Float64Array, src: Float64Array): void {
  for (let i = 0; i < dst.length; i++) dst[i] += src[i];
}
