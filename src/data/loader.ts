/**
 * The batch loader: decodes and preprocesses ahead of the GPU in Web Workers,
 * with a bounded prefetch window so memory stays bounded whatever the
 * dataset size (at most `prefetch` batches exist at once, ready or in
 * flight). Batches come out in dataset order.
 *
 * ```ts
 * for await (const batch of loadBatches(items, { preprocess: cfg, batchSize: 32 })) {
 *   // batch.pixels: Float32Array [B, 3, H, W]; batch.items; batch.failed
 * }
 * ```
 *
 * A batch holds only the images that decoded; failed ones are listed in
 * `failed` with their reasons. A batch whose images all failed is not
 * yielded on its own: its failures travel with the next batch, and only the
 * very last batch can have B = 0 (to report trailing failures).
 */
import { DataError, VisionEvalError } from "../errors.ts";
import type { DatasetItem } from "./datasets.ts";
import { describePipeline, pipelineOutputSize, type PreprocessConfig } from "./preprocess.ts";
import type { TtaGroup } from "./tta.ts";
import { type BatchRequest, type FailedItem, prepareBatch, type PreparedBatch } from "./prepare.ts";
import { attachParquetBytes } from "./item_image.ts";
import { ParquetRowReader } from "./parquet_rows.ts";

/** One batch of normalised images. */
export interface Batch {
  /** Sequence number (0, 1, ...) of the batch. */
  index: number;
  /** [B, 3, H, W] float32, normalised. */
  pixels: Float32Array;
  /** Shape of `pixels`. */
  shape: [number, number, number, number];
  /** The B items in `pixels` order. */
  items: { path: string; label?: number }[];
  /** Items that failed to load since the previous batch. */
  failed: FailedItem[];
  /**
   * With `tta`: per group, the crops [B * R, 3, H, W] of the B images (and
   * `pixels` is empty).
   */
  groups?: { pixels: Float32Array; shape: [number, number, number, number] }[];
}

/** Progress counts reported after each batch. */
export interface LoaderProgress {
  /** Items processed so far (loaded or failed). */
  done: number;
  /** Items that failed so far. */
  failed: number;
  /** All items. */
  total: number;
}

/** Options of {@link loadBatches}. */
export interface LoaderOptions {
  /** The pipeline; its output size must be fixed (crop or exact resize). */
  preprocess: PreprocessConfig;
  /** Images per batch. */
  batchSize: number;
  /** Worker count: default min(2, cores); 0 runs in this thread. */
  workers?: number;
  /** Batches ready or in flight at most (default workers + 1, at least 2). */
  prefetch?: number;
  /** Test-time augmentation groups: prepare their crops instead of `pixels`. */
  tta?: Pick<TtaGroup, "cfg" | "crops" | "outSize">[];
  /** Called after each batch is handed out. */
  onProgress?: (p: LoaderProgress) => void;
  /**
   * Workers to reuse (e.g. across several passes, or in benchmarks); the
   * loader then does not start or stop workers itself. Use one loader at a
   * time per pool (a new one waits for work left by an abandoned one).
   * Overrides `workers`.
   */
  pool?: LoaderPool;
}

/** Default worker count: min(2, cores). */
export function defaultWorkerCount(): number {
  return Math.max(1, Math.min(2, navigator.hardwareConcurrency || 1));
}

interface WorkerReply extends PreparedBatch {
  id: number;
  error?: string;
}

/**
 * A pool of loader workers, each working on one batch at a time. Starting a
 * worker costs a module load (and a type check under `deno test`), so
 * long-lived callers can keep one pool and pass it to {@link loadBatches}.
 */
export class LoaderPool {
  readonly #workers: Worker[] = [];
  readonly #idle: Worker[] = [];
  #nextKey = 0;
  readonly #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #closed = false;
  readonly #pending = new Map<
    number,
    { resolve: (r: PreparedBatch) => void; reject: (e: Error) => void; worker: Worker }
  >();

  /** Starts `count` workers (default min(2, cores)). */
  constructor(count: number = defaultWorkerCount()) {
    if (!(count >= 1)) throw new DataError(`a loader pool needs at least 1 worker, got ${count}`);
    for (let i = 0; i < count; i++) {
      const w = new Worker(new URL("./loader_worker.ts", import.meta.url), { type: "module" });
      w.onmessage = (e: MessageEvent<WorkerReply>) => this.#settle(w, e.data);
      w.onerror = (e) => {
        e.preventDefault();
        this.#fail(w, new VisionEvalError(`image loader worker crashed: ${e.message}`));
      };
      this.#workers.push(w);
      this.#idle.push(w);
    }
  }

  /** Number of workers. */
  get size(): number {
    return this.#workers.length;
  }

  /** True if a worker is free. */
  get hasIdle(): boolean {
    return this.#idle.length > 0;
  }

  /** Resolves when a worker is free (at once if one is). */
  whenIdle(): Promise<void> {
    if (this.#closed) return Promise.reject(new VisionEvalError("loader pool is closed"));
    if (this.#idle.length) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Prepares one batch on a free worker (call only when {@link hasIdle}). */
  run(req: BatchRequest): Promise<PreparedBatch> {
    const w = this.#closed ? undefined : this.#idle.pop();
    if (!w) {
      return Promise.reject(
        new VisionEvalError(this.#closed ? "loader pool is closed" : "no free loader worker"),
      );
    }
    // Keys are unique per pool, so replies of an abandoned loader never
    // answer a later one.
    const key = this.#nextKey++;
    return new Promise((resolve, reject) => {
      this.#pending.set(key, { resolve, reject, worker: w });
      w.postMessage({ ...req, id: key });
    });
  }

  #settle(w: Worker, reply: WorkerReply): void {
    const p = this.#pending.get(reply.id);
    if (!p) return;
    this.#pending.delete(reply.id);
    this.#idle.push(w);
    this.#waiters.shift()?.resolve();
    if (reply.error) p.reject(new VisionEvalError(`image loader worker failed: ${reply.error}`));
    else {
      p.resolve({ pixels: reply.pixels, ok: reply.ok, failed: reply.failed, groups: reply.groups });
    }
  }

  #fail(w: Worker, err: Error): void {
    for (const [id, p] of this.#pending) {
      if (p.worker === w) {
        this.#pending.delete(id);
        p.reject(err);
      }
    }
  }

  /** Stops the workers; pending batches fail. */
  close(): void {
    this.#closed = true;
    for (const w of this.#workers) w.terminate();
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(new VisionEvalError("loader pool is closed"));
    }
    for (const p of this.#pending.values()) p.reject(new VisionEvalError("loader closed"));
    this.#pending.clear();
  }
}

/**
 * Yields batches of preprocessed images in dataset order, preparing up to
 * `prefetch` batches ahead in workers. Breaking out of the loop stops the
 * workers.
 */
export async function* loadBatches(
  items: DatasetItem[],
  opts: LoaderOptions,
): AsyncGenerator<Batch, void, undefined> {
  const outSize = pipelineOutputSize(opts.preprocess);
  if (!outSize) {
    throw new DataError(
      `the pipeline "${describePipeline(opts.preprocess)}" has no fixed output size; ` +
        `set a center crop or an exact resize so images can be batched`,
    );
  }
  if (!(opts.batchSize >= 1)) throw new DataError(`batch size must be >= 1, got ${opts.batchSize}`);
  const [h, w] = outSize;
  const nWorkers = opts.pool?.size ?? Math.max(0, Math.floor(opts.workers ?? defaultWorkerCount()));
  const prefetch = Math.max(opts.prefetch ?? nWorkers + 1, nWorkers, 1);
  const chunks: DatasetItem[][] = [];
  for (let i = 0; i < items.length; i += opts.batchSize) {
    // Plain objects only: workers receive them by structured clone.
    chunks.push(items.slice(i, i + opts.batchSize).map((it) => ({ ...it })));
  }
  const ownPool = !opts.pool && nWorkers > 0;
  const pool = opts.pool ?? (ownPool ? new LoaderPool(nWorkers) : null);
  const results = new Map<number, Promise<PreparedBatch>>();
  // Parquet rows are read here, in order, one row group at a time, and their
  // bytes travel with the batch: workers never re-read a row group.
  const parquet = items.some((it) => it.parquet) ? new ParquetRowReader() : null;
  let dispatched = 0;
  const fill = async (next: number) => {
    while (dispatched < chunks.length && dispatched - next < prefetch && (!pool || pool.hasIdle)) {
      const id = dispatched++;
      if (parquet) await attachParquetBytes(chunks[id], parquet);
      const req: BatchRequest = {
        id,
        items: chunks[id],
        cfg: opts.preprocess,
        outSize,
        tta: opts.tta,
      };
      const p = pool ? pool.run(req) : prepareBatch(req.items, req.cfg, outSize, opts.tta);
      p.catch(() => {}); // observed when awaited; avoid unhandled-rejection noise
      results.set(id, p);
      if (!pool) break; // in-process: prepare lazily, one at a time
    }
  };
  let done = 0;
  let failedTotal = 0;
  let carried: FailedItem[] = [];
  let index = 0;
  try {
    for (let next = 0; next < chunks.length; next++) {
      await fill(next);
      // A shared pool may still be finishing work of an abandoned loader.
      while (!results.has(next) && pool) {
        await pool.whenIdle();
        await fill(next);
      }
      const r = await results.get(next)!;
      results.delete(next);
      chunks[next] = chunks[next].map(({ bytes: _, ...it }) => it); // the bytes are used
      await fill(next + 1); // keep workers busy while the consumer uses this batch
      done += chunks[next].length;
      failedTotal += r.failed.length;
      carried = carried.concat(r.failed);
      const isLast = next === chunks.length - 1;
      if (r.ok.length === 0 && !isLast) continue;
      if (r.ok.length === 0 && carried.length === 0) continue;
      const batch: Batch = {
        index: index++,
        pixels: r.pixels,
        shape: [r.ok.length, 3, h, w],
        items: r.ok.map((i) => {
          const it = chunks[next][i];
          return it.label === undefined ? { path: it.path } : { path: it.path, label: it.label };
        }),
        failed: carried,
      };
      if (r.groups) {
        batch.groups = r.groups.map((pixels, k) => {
          const g = opts.tta![k];
          return {
            pixels,
            shape: [r.ok.length * g.crops.length, 3, g.outSize[0], g.outSize[1]],
          };
        });
      }
      carried = [];
      opts.onProgress?.({ done, failed: failedTotal, total: items.length });
      yield batch;
    }
  } finally {
    if (ownPool) pool?.close();
  }
}
