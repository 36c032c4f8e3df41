/**
 * One pass of the data for several consumers: `compare` evaluates models
 * whose preprocessing agrees side by side, and they all read the batches of
 * one loader (each image decoded and preprocessed once) instead of each
 * running its own. Consumers take the same batches in the same order; a
 * batch is dropped once every consumer still reading has passed it, so
 * memory holds only the lag between the fastest and the slowest consumer.
 */
import type { DatasetItem } from "./datasets.ts";
import { type Batch, loadBatches, type LoaderOptions } from "./loader.ts";
import { pipelineKey } from "./preprocess.ts";

// Defined beside the pipeline; exported here too, where it used to live.
export { pipelineKey };

/** A loader shared by `consumers` readers (slots 0..consumers-1). */
export class SharedBatches {
  #source?: AsyncGenerator<Batch, void, undefined>;
  #key = "";
  #buffer: Batch[] = [];
  /** Batch index of `#buffer[0]`. */
  #base = 0;
  #done = false;
  #pulling?: Promise<void>;
  #error?: unknown;
  readonly #next: number[];
  readonly #open: Set<number>;

  /** A shared loader for `consumers` readers. */
  constructor(consumers: number) {
    this.#next = new Array(consumers).fill(0);
    this.#open = new Set(this.#next.keys());
  }

  /**
   * The loader of consumer `slot`, with {@link loadBatches}'s signature. The
   * first call starts the one loader; a later call with other items or
   * another pipeline gets a loader of its own (and leaves the shared one).
   */
  loaderFor(slot: number): (items: DatasetItem[], opts: LoaderOptions) => AsyncIterable<Batch> {
    return (items, opts) => {
      const key = pipelineKey(opts.preprocess) + "\n" + items.map((it) => it.path).join("\n");
      if (!this.#source) {
        this.#source = loadBatches(items, opts);
        this.#key = key;
      } else if (key !== this.#key) {
        this.close(slot);
        return loadBatches(items, opts);
      }
      return this.#consume(slot);
    };
  }

  async *#consume(slot: number): AsyncGenerator<Batch, void, undefined> {
    try {
      while (true) {
        const i = this.#next[slot];
        while (i >= this.#base + this.#buffer.length) {
          if (this.#error) throw this.#error;
          if (this.#done) return;
          await this.#pull();
        }
        const batch = this.#buffer[i - this.#base];
        this.#next[slot] = i + 1;
        this.#trim();
        yield batch;
      }
    } finally {
      this.close(slot);
    }
  }

  /** Reads the next batch of the source (one read at a time, whoever asks). */
  #pull(): Promise<void> {
    // A failed read fails every consumer, not just the one that asked.
    this.#pulling ??= this.#source!.next().then((r) => {
      if (r.done) this.#done = true;
      else this.#buffer.push(r.value);
    }, (e) => void (this.#error = e)).finally(() => (this.#pulling = undefined));
    return this.#pulling;
  }

  #trim(): void {
    let low = Infinity;
    for (const s of this.#open) low = Math.min(low, this.#next[s]);
    if (low === Infinity) low = this.#base + this.#buffer.length;
    const drop = Math.max(0, low - this.#base);
    this.#buffer.splice(0, drop);
    this.#base += drop;
  }

  /** Consumer `slot` reads no more (finished, failed, or never started); the last one stops the loader. */
  close(slot: number): void {
    if (!this.#open.delete(slot)) return;
    this.#trim();
    if (this.#open.size === 0) void this.#source?.return();
  }
}
