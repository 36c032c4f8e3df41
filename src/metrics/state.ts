/**
 * The GPU metric state. Per batch, {@link MetricState.update} records one
 * dispatch of `shaders/metrics_update.wgsl` into the engine's current
 * command encoder (no await, no readback): softmax with temperature, the
 * label's rank (top-k), NLL and Brier, per-class and confusion counts,
 * calibration and class-wise calibration bins, ranking histograms, and the
 * per-sample records. {@link MetricState.snapshot} reads everything back
 * once into a {@link MetricSnapshot} (float sums decoded from 64-bit fixed
 * point, see the shader), from which `computeMetrics` finishes the metrics.
 */
import code from "../../shaders/metrics_update.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";
import { MetricsInputError, NonFiniteValuesError } from "../errors.ts";
import {
  defaultScoreBins,
  emptySnapshot,
  MAX_TOPK,
  type MetricSnapshot,
  type SnapshotShape,
} from "./snapshot.ts";

const PER_CLASS = 32;
const FIXED_UNIT = 2 ** -24;
const TWO32 = 2 ** 32;

/** On a GPU, up to this many classes a row gets one thread instead of a workgroup. */
const SERIAL_MAX_CLASSES = 32;
/**
 * Longest row a single thread handles. On lavapipe, rows of 21,843 classes
 * processed by one thread lost the classes past index 20,480 (rows up to
 * 20,000 were exact), so long rows always use the workgroup layout.
 */
const SERIAL_LIMIT = 16384;

/**
 * Threads per row for the row-per-workgroup layout. Software adapters
 * (lavapipe) pay per thread and per barrier, so rows get few threads there
 * (the auto layout there is row-per-thread anyway); GPUs get enough to cover C.
 */
function threadsPerRow(C: number, software: boolean): number {
  if (software) return 64;
  return C <= 2048 ? 128 : 256;
}

/** Options of {@link MetricState.create}. */
export interface MetricStateOptions extends SnapshotShape {
  /** Keep per-sample label / pred / confidence for adaptive ECE and the bootstrap (default true). */
  keepSamples?: boolean;
  /** Keep per-sample probabilities for exact AUROC / AP (n×C floats; default false). */
  keepScores?: boolean;
  /** Keep per-sample logits for temperature scaling (n×C floats; default false). */
  keepLogits?: boolean;
  /** Global index of this state's first sample (shards: where the shard starts; default 0). */
  sampleOffset?: number;
  /**
   * Kernel layout: "row-per-thread" (no barriers; best on software adapters
   * and for few classes; rows of more than 16,384 classes always use the
   * workgroup layout), "row-per-workgroup" (threads split the classes; best
   * on GPUs for many classes), or "auto" (default). Same results.
   */
  layout?: "auto" | "row-per-thread" | "row-per-workgroup";
}

/** Options of {@link MetricState.update}. */
export interface UpdateOptions {
  /**
   * Global indices of the batch's samples (default: consecutive from
   * `sampleOffset`). They order the per-sample records of merged shards and
   * seed the bootstrap weights, so shards of any split merge to one pass.
   */
  indices?: ArrayLike<number>;
}

/** Staging bytes per readback: kept scores of a large run are read in a few maps, not one huge buffer. */
const READ_GROUP_BYTES = 128 * 2 ** 20;

/** Reads tensors back in order, in groups of at most {@link READ_GROUP_BYTES} (one map per group). */
async function readInGroups(
  engine: Engine,
  tensors: Tensor[],
): Promise<(Float32Array | Uint32Array | Int32Array)[]> {
  const out: (Float32Array | Uint32Array | Int32Array)[] = [];
  let group: Tensor[] = [];
  let bytes = 0;
  for (const t of [...tensors, null]) {
    if (group.length && (t === null || bytes + t.byteLength > READ_GROUP_BYTES)) {
      out.push(...await engine.read(...group));
      group = [];
      bytes = 0;
    }
    if (t) {
      group.push(t);
      bytes += t.byteLength;
    }
  }
  return out;
}

/** Fixed-size metric counters on the GPU, updated batch by batch and read back once. */
export class MetricState {
  readonly #engine: Engine;
  readonly #opts: Required<Omit<MetricStateOptions, "confusion" | "layout">> & {
    confusion: boolean;
    serial: boolean;
  };
  readonly #counters: Tensor;
  readonly #confusion: Tensor;
  readonly #classwise: Tensor;
  readonly #scoreHist: Tensor;
  readonly #dummy: Tensor;
  #batches: {
    samples: Tensor;
    scores?: Tensor;
    logits?: Tensor;
    labels?: Tensor;
    rows: number;
    indices?: ArrayLike<number>;
  }[] = [];
  #rows = 0;
  #released = false;

  private constructor(engine: Engine, options: MetricStateOptions) {
    const C = options.numClasses;
    if (!Number.isInteger(C) || C < 1) {
      throw new MetricsInputError(`numClasses must be a positive integer, got ${C}`);
    }
    this.#engine = engine;
    this.#opts = {
      numClasses: C,
      calibrationBins: options.calibrationBins ?? 15,
      scoreBins: options.scoreBins ?? defaultScoreBins(C),
      input: options.input ?? "logits",
      temperature: options.temperature ?? 1,
      confusion: options.confusion ?? C <= 4096,
      keepSamples: options.keepSamples ?? true,
      keepScores: options.keepScores ?? false,
      keepLogits: options.keepLogits ?? false,
      sampleOffset: options.sampleOffset ?? 0,
      serial: C <= SERIAL_LIMIT && (options.layout === "row-per-thread" ||
        ((options.layout ?? "auto") === "auto" &&
          (C <= SERIAL_MAX_CLASSES || engine.kernels.name === "software"))),
    };
    const { calibrationBins: B, scoreBins: S } = this.#opts;
    this.#counters = engine.zeros([PER_CLASS + 3 * C + 4 * B], "u32", "metrics.counters");
    this.#confusion = engine.zeros([this.#opts.confusion ? C * C : 1], "u32", "metrics.confusion");
    this.#classwise = engine.zeros([C * B * 4], "u32", "metrics.classwise");
    this.#scoreHist = engine.zeros([2 * C * S], "u32", "metrics.scoreHist");
    this.#dummy = engine.zeros([1], "f32", "metrics.noScores");
  }

  /** A zeroed state on `engine` (the clears are recorded into its current encoder). */
  static create(engine: Engine, options: MetricStateOptions): MetricState {
    return new MetricState(engine, options);
  }

  /** The options in effect (defaults filled in). */
  get options(): Readonly<MetricStateOptions> {
    return this.#opts;
  }

  /** Rows recorded so far. */
  get rows(): number {
    return this.#rows;
  }

  /**
   * Records the update for one batch: `values` [B, C] (logits or
   * probabilities) and `labels` (B integers, host array or i32 tensor).
   * Host labels are checked here (MetricsInputError naming the sample);
   * out-of-range labels in a tensor are counted and reported by `snapshot`.
   */
  update(values: Tensor, labels: Int32Array | Tensor, options: UpdateOptions = {}): void {
    if (this.#released) throw new Error("MetricState used after release()");
    const C = this.#opts.numClasses;
    if (values.shape.length !== 2 || values.shape[1] !== C) {
      throw new MetricsInputError(
        `metric update expects values of shape [batch, ${C}], got [${values.shape}]`,
      );
    }
    const B = values.shape[0];
    const engine = this.#engine;
    let labelTensor: Tensor | undefined;
    if (labels instanceof Int32Array) {
      if (labels.length !== B) {
        throw new MetricsInputError(`${labels.length} labels for a batch of ${B} rows`);
      }
      for (let i = 0; i < B; i++) {
        if (labels[i] < 0 || labels[i] >= C) {
          throw new MetricsInputError(
            `label ${labels[i]} of sample ${this.#opts.sampleOffset + this.#rows + i} is ` +
              `outside 0..${C - 1}: labels must be class indices of the model's ${C} classes`,
          );
        }
      }
      // Held until the snapshot: a pooled buffer reused before submission
      // would be overwritten by the next queue write.
      labelTensor = engine.upload(labels, [B], "metrics.labels");
    } else if (labels.size !== B) {
      throw new MetricsInputError(`${labels.size} labels for a batch of ${B} rows`);
    }
    if (options.indices && options.indices.length !== B) {
      throw new MetricsInputError(
        `${options.indices.length} sample indices for a batch of ${B} rows`,
      );
    }
    if (B === 0) return;
    const samples = engine.empty([B * 3], "u32", "metrics.samples");
    const scores = this.#opts.keepScores
      ? engine.empty([B, C], "f32", "metrics.scores")
      : undefined;
    let logits: Tensor | undefined;
    if (this.#opts.keepLogits) {
      logits = engine.empty([B, C], "f32", "metrics.logits");
      engine.copy(values, logits);
    }
    const serial = this.#opts.serial;
    const wg = serial ? 64 : threadsPerRow(C, engine.kernels.name === "software");
    engine.run(
      { name: "metrics_update", code, entry: serial ? "serial" : "main", constants: { WG: wg } },
      [
        values,
        labelTensor ?? labels as Tensor,
        this.#counters,
        this.#confusion,
        this.#classwise,
        this.#scoreHist,
        samples,
        scores ?? this.#dummy,
      ],
      serial ? Math.ceil(B / wg) : B,
      packParams([
        B,
        C,
        this.#opts.calibrationBins,
        this.#opts.scoreBins,
        { f32: 1 / this.#opts.temperature },
        this.#opts.input === "logits" ? 1 : 0,
        this.#opts.confusion ? 1 : 0,
        scores ? 1 : 0,
        this.#rows,
      ]),
    );
    this.#batches.push({
      samples,
      scores,
      logits,
      labels: labelTensor,
      rows: B,
      indices: options.indices ? Array.from(options.indices) : undefined,
    });
    this.#rows += B;
  }

  /**
   * Reads the state back (one readback for everything) as a host snapshot.
   * The state stays valid: more batches may follow.
   */
  async snapshot(): Promise<MetricSnapshot> {
    if (this.#released) throw new Error("MetricState used after release()");
    const o = this.#opts;
    const C = o.numClasses, B = o.calibrationBins, S = o.scoreBins;
    const keep = this.#batches;
    const tensors: Tensor[] = [this.#counters, this.#classwise, this.#scoreHist];
    if (o.confusion) tensors.push(this.#confusion);
    for (const b of keep) {
      if (o.keepSamples) tensors.push(b.samples);
      if (b.scores) tensors.push(b.scores);
      if (b.logits) tensors.push(b.logits);
    }
    const data = await readInGroups(this.#engine, tensors);
    const counters = data[0] as Uint32Array;
    const classwise = data[1] as Uint32Array;
    const hist = data[2] as Uint32Array;
    let next = 3;
    const s = emptySnapshot({
      numClasses: C,
      calibrationBins: B,
      scoreBins: S,
      input: o.input,
      temperature: o.temperature,
      confusion: o.confusion,
    });
    const invalid = counters[1];
    if (invalid > 0) {
      throw new MetricsInputError(
        `${invalid} samples had labels outside 0..${C - 1}: labels must be class indices of ` +
          `the model's ${C} classes`,
      );
    }
    const nonFinite = counters[26];
    if (nonFinite > 0) {
      const firstRow = ~counters[27] >>> 0;
      let at = 0, firstIndex = o.sampleOffset + firstRow;
      for (const b of keep) {
        if (firstRow < at + b.rows) {
          if (b.indices) firstIndex = b.indices[firstRow - at];
          break;
        }
        at += b.rows;
      }
      throw new NonFiniteValuesError(
        `${nonFinite} of ${this.#rows} samples have NaN or infinite ${o.input} (first: sample ` +
          `${firstIndex}): metrics computed from them would be meaningless. Check the model's ` +
          `weights and the preprocessing (e.g. a zero --std), or the predictions file.`,
        nonFinite,
        firstRow,
        firstIndex,
      );
    }
    const fixed = (i: number) => (counters[i] + counters[i + 1] * TWO32) * FIXED_UNIT;
    s.numSamples = counters[0];
    for (let r = 0; r < MAX_TOPK; r++) {
      s.rankLower[r] = counters[2 + r];
      s.rankSklearn[r] = counters[12 + r];
    }
    s.nllSum = fixed(22);
    s.brierSum = fixed(24);
    for (let k = 0; k < C; k++) {
      s.labelCount[k] = counters[PER_CLASS + k];
      s.predCount[k] = counters[PER_CLASS + C + k];
      s.truePositive[k] = counters[PER_CLASS + 2 * C + k];
    }
    for (let b = 0; b < B; b++) {
      const i = PER_CLASS + 3 * C + 4 * b;
      s.calibCount[b] = counters[i];
      s.calibConfSum[b] = fixed(i + 1);
      s.calibCorrect[b] = counters[i + 3];
    }
    for (let j = 0; j < C * B; j++) {
      // Bin 0 is not counted on the GPU (see the shader): n minus the rest.
      if (j % B === 0) {
        let rest = 0;
        for (let b = 1; b < B; b++) rest += classwise[4 * (j + b)];
        s.classwiseCount[j] = s.numSamples - rest;
      } else s.classwiseCount[j] = classwise[4 * j];
      s.classwiseProbSum[j] = (classwise[4 * j + 1] + classwise[4 * j + 2] * TWO32) * FIXED_UNIT;
      s.classwisePositives[j] = classwise[4 * j + 3];
    }
    for (let j = 0; j < C * S; j++) {
      s.scoreAll[j] = hist[j];
      s.scorePositives[j] = hist[C * S + j];
    }
    if (o.confusion) {
      const conf = data[next++] as Uint32Array;
      for (let j = 0; j < C * C; j++) s.confusion![j] = conf[j];
    }
    const n = this.#rows;
    if (o.keepSamples) {
      s.samples = {
        index: new Float64Array(n),
        label: new Int32Array(n),
        pred: new Int32Array(n),
        conf: new Float64Array(n),
      };
    }
    if (o.keepScores) s.scores = new Float32Array(n * C);
    if (o.keepLogits) s.logits = new Float32Array(n * C);
    let at = 0;
    for (const b of keep) {
      if (o.keepSamples) {
        const rec = data[next++] as Uint32Array;
        const confBits = new Float32Array(rec.buffer, rec.byteOffset, rec.length);
        for (let i = 0; i < b.rows; i++) {
          s.samples!.index[at + i] = b.indices ? b.indices[i] : o.sampleOffset + at + i;
          s.samples!.label[at + i] = rec[3 * i];
          s.samples!.pred[at + i] = rec[3 * i + 1];
          s.samples!.conf[at + i] = confBits[3 * i + 2];
        }
      }
      if (b.scores) s.scores!.set(data[next++] as Float32Array, at * C);
      if (b.logits) s.logits!.set(data[next++] as Float32Array, at * C);
      at += b.rows;
    }
    return s;
  }

  /** Alias of {@link MetricState.snapshot} for the end of an evaluation. */
  finish(): Promise<MetricSnapshot> {
    return this.snapshot();
  }

  /** Frees the GPU buffers. */
  release(): void {
    if (this.#released) return;
    this.#released = true;
    for (
      const t of [this.#counters, this.#confusion, this.#classwise, this.#scoreHist, this.#dummy]
    ) {
      t.release();
    }
    for (const b of this.#batches) {
      b.samples.release();
      b.scores?.release();
      b.logits?.release();
      b.labels?.release();
    }
    this.#batches = [];
  }
}

/**
 * Runs host predictions (n×C values, n labels) through a GPU
 * {@link MetricState} in batches of at most `batchRows` rows (default: 64 MiB
 * of float32 per upload) and returns the snapshot. Used by the `metrics`
 * command and the benchmarks.
 */
export async function snapshotFromArrays(
  engine: Engine,
  values: ArrayLike<number> & { subarray(a: number, b: number): ArrayLike<number> },
  labels: Int32Array,
  options: MetricStateOptions & { batchRows?: number },
): Promise<MetricSnapshot> {
  const C = options.numClasses, n = labels.length;
  const batch = Math.max(1, Math.min(n, options.batchRows ?? Math.floor(2 ** 24 / C)));
  const state = MetricState.create(engine, options);
  const uploads: Tensor[] = [];
  try {
    for (let i = 0; i < n; i += batch) {
      const rows = Math.min(batch, n - i);
      const chunk = values.subarray(i * C, (i + rows) * C);
      const t = engine.upload(
        chunk instanceof Float32Array ? chunk : Float32Array.from(chunk),
        [rows, C],
        "metrics.values",
      );
      state.update(t, labels.subarray(i, i + rows));
      // Submit per batch so the next upload cannot overwrite a pooled buffer
      // the recorded dispatch still has to read.
      engine.submit();
      uploads.push(t);
      if (uploads.length > 2) uploads.shift()!.release();
    }
    return await state.snapshot();
  } finally {
    uploads.forEach((t) => t.release());
    state.release();
  }
}
