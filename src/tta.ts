/**
 * Test-time augmentation in an evaluation (`eval --tta`): per batch, every
 * view of every image goes through the model in one forward pass per input
 * size, and the views are averaged on the GPU (softmax probabilities by
 * default, or logits) into their own metric state and top-k store. The plain
 * view (the pipeline without TTA) is taken from the same passes, so one run
 * reports the metrics with and without TTA side by side, and which images'
 * predictions TTA changed. No logits come back to the host per view: the
 * averaged rows feed the metric state like any batch of logits.
 *
 * Averaged probabilities p are handed on as log p (softmax(log p) = p), so
 * the metric state, top-k and everything after them work unchanged.
 */
import type { Engine } from "./gpu/engine.ts";
import type { Tensor } from "./tensor.ts";
import type { ClassifierModel } from "./models/model.ts";
import type { Batch } from "./data/loader.ts";
import { describeTta, type TtaPlan } from "./data/tta.ts";
import { MetricState } from "./metrics/state.ts";
import { computeMetrics, type MetricsReport } from "./metrics/report.ts";
import { gatherColumns } from "./ops/gather_columns.ts";
import { softmaxRows } from "./ops/softmax.ts";
import { ttaReduce, ttaViews } from "./ops/tta.ts";
import type { PredictionRow } from "./report/csv.ts";
import type { TopKStore } from "./evaluate.ts";

/** A metric with and without TTA. */
export interface TtaChange {
  /** Without TTA (the plain view). */
  without: number | null;
  /** With TTA. */
  with: number | null;
  /** with - without. */
  delta: number | null;
}

/** An image whose top-1 prediction TTA changed. */
export interface FlippedPrediction {
  /** Image path. */
  path: string;
  /** True class (model label space). */
  label: number;
  /** Prediction without TTA. */
  before: number;
  /** Prediction with TTA. */
  after: number;
  /** Confidence without TTA. */
  confidence_before: number;
  /** Confidence with TTA. */
  confidence_after: number;
}

/** metrics.json's `tta` block. */
export interface TtaReport {
  /** What was averaged, in one line. */
  spec: string;
  /** Views averaged per image. */
  views: number;
  /** Per input size: [H, W] and the views run at it (including a plain view computed on the side). */
  groups: { size: [number, number]; views: number }[];
  /** Every metric with TTA (the top-level metrics are without). */
  metrics: MetricsReport;
  /** The headline metrics with and without TTA. */
  changes: Record<"top1" | "top5" | "macro_f1" | "log_loss" | "brier" | "ece", TtaChange>;
  /** Images whose prediction changed: how many, how many became right / wrong, and which. */
  flipped: { count: number; fixed: number; broken: number; images: FlippedPrediction[] };
}

/** Most flipped images listed in metrics.json (the counts are always complete). */
const MAX_LISTED = 10000;

/** The TTA side of an evaluation: its GPU tables, metric state and top-k store. */
export class TtaRunner {
  /** The metric state of the averaged views. */
  readonly state: MetricState;
  readonly #tables: Tensor[];
  readonly #meanWeights: (Tensor | null)[];
  readonly #plainWeight: Tensor;
  readonly #lastMeanGroup: number;

  /** Uploads the view tables; `state` options as the evaluation's own state. */
  constructor(
    readonly engine: Engine,
    readonly plan: TtaPlan,
    readonly store: TopKStore,
    stateOptions: Parameters<typeof MetricState.create>[1],
  ) {
    this.state = MetricState.create(engine, { ...stateOptions, keepLogits: false });
    const w = 1 / plan.meanViews;
    this.#tables = plan.groups.map((g) =>
      engine.upload(
        Uint32Array.from(g.views.flatMap((v) => [v.crop, v.flip ? 1 : 0])),
        [g.views.length, 2],
        "tta.table",
        true,
      )
    );
    this.#meanWeights = plan.groups.map((g) =>
      g.views.some((v) => v.mean)
        ? engine.upload(
          Float32Array.from(g.views, (v) => (v.mean ? w : 0)),
          [g.views.length],
          "tta.weights",
          true,
        )
        : null
    );
    const pg = plan.groups[plan.plain.group];
    this.#plainWeight = engine.upload(
      Float32Array.from(pg.views, (_, i) => (i === plan.plain.view ? 1 : 0)),
      [pg.views.length],
      "tta.plain",
      true,
    );
    this.#lastMeanGroup = this.#meanWeights.findLastIndex((t) => t !== null);
  }

  /**
   * Runs the views of one batch, records the TTA average in this state and
   * store, and returns the plain view's scores [B, C] (metric label space)
   * for the evaluation's own state.
   */
  update(
    model: ClassifierModel,
    batch: Batch,
    subset: Tensor | undefined,
    labels: Int32Array,
    indices: number[],
  ): Tensor {
    const e = this.engine, B = batch.items.length;
    let plain: Tensor | undefined;
    let acc: Tensor | undefined;
    this.plan.groups.forEach((_, k) => {
      const { pixels, shape } = batch.groups![k];
      const crops = e.upload(pixels, shape, "tta.crops");
      const views = ttaViews(e, crops, this.#tables[k], B);
      crops.release();
      const logits = model.forward(e, views).logits;
      views.release();
      const scores = subset ? gatherColumns(e, logits, subset) : logits;
      if (scores !== logits) logits.release();
      const C = scores.shape[1];
      if (k === this.plan.plain.group) {
        plain = ttaReduce(e, scores, this.#plainWeight, e.empty([B, C], "f32", "tta.plain"));
      }
      const weight = this.#meanWeights[k];
      if (weight) {
        const probs = this.plan.spec.mean === "probs";
        const src = probs ? softmaxRows(e, scores) : scores;
        const first = !acc;
        acc ??= e.empty([B, C], "f32", "tta.mean");
        ttaReduce(e, src, weight, acc, {
          accumulate: !first,
          finishLog: probs && k === this.#lastMeanGroup,
        });
        if (src !== scores) src.release();
      }
      scores.release();
    });
    this.state.update(acc!, labels, { indices });
    this.store.add(acc!);
    acc!.release();
    return plain!;
  }

  /** Frees the GPU tables, state and store (a failed run). */
  release(): void {
    for (const t of [...this.#tables, ...this.#meanWeights, this.#plainWeight]) t?.release();
    this.state.release();
    this.store.release();
  }

  /**
   * Reads the TTA state back once and compares it with the plain run:
   * `plain` is the evaluation's metrics and predictions (the same images in
   * the same order), `toModel` maps metric classes to model classes.
   */
  async finish(
    plain: { metrics: MetricsReport; predictions: PredictionRow[] },
    toModel: (j: number) => number,
    opts: { topk: number; bootstrap: number; seed: number },
  ): Promise<TtaReport> {
    try {
      const snapshot = await this.state.snapshot();
      const top = await this.store.read();
      const metrics = computeMetrics(snapshot, { ...opts, temperatureScaling: false });
      const k = this.store.k;
      const images: FlippedPrediction[] = [];
      let count = 0, fixed = 0, broken = 0;
      plain.predictions.forEach((p, i) => {
        const after = toModel(top.indices[i * k]);
        if (after === p.pred) return;
        count++;
        if (after === p.label) fixed++;
        if (p.pred === p.label) broken++;
        if (images.length < MAX_LISTED) {
          images.push({
            path: p.path,
            label: p.label as number,
            before: p.pred,
            after,
            confidence_before: p.confidence,
            confidence_after: top.probs[i * k],
          });
        }
      });
      const m0 = plain.metrics;
      const change = (a: number | null, b: number | null): TtaChange => ({
        without: a,
        with: b,
        delta: a === null || b === null ? null : b - a,
      });
      return {
        spec: describeTta(this.plan.spec),
        views: this.plan.meanViews,
        groups: this.plan.groups.map((g) => ({ size: g.outSize, views: g.views.length })),
        metrics,
        changes: {
          top1: change(m0.top1, metrics.top1),
          top5: change(m0.top5, metrics.top5),
          macro_f1: change(m0.f1.macro, metrics.f1.macro),
          log_loss: change(m0.log_loss, metrics.log_loss),
          brier: change(m0.brier, metrics.brier),
          ece: change(m0.ece, metrics.ece),
        },
        flipped: { count, fixed, broken, images },
      };
    } finally {
      this.release();
    }
  }
}

/** The printed TTA lines: each headline metric without and with TTA, and the flips. */
export function ttaSummary(t: TtaReport): string[] {
  const f = (x: number | null) => (x === null ? "n/a" : x.toFixed(4));
  const sign = (x: number | null) => (x === null ? "n/a" : (x >= 0 ? "+" : "") + x.toFixed(4));
  return [
    `TTA ${t.spec}, ${t.views} views:`,
    `  ${"".padEnd(10)}  ${"without".padStart(8)}  ${"with".padStart(8)}  ${"change".padStart(8)}`,
    ...Object.entries(t.changes).map(([k, c]) =>
      `  ${k.padEnd(10)}  ${f(c.without).padStart(8)}  ${f(c.with).padStart(8)}  ${
        sign(c.delta).padStart(8)
      }`
    ),
    `  ${t.flipped.count} predictions changed: ${t.flipped.fixed} became right, ` +
    `${t.flipped.broken} became wrong`,
  ];
}
