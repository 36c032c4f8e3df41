/**
 * Progress display on stderr: on a terminal, one line rewritten in place
 * (count, percent, images/s, ETA, failures); otherwise (logs, CI) a plain
 * line every `intervalMs` and a final one, so logs stay readable.
 */

/** Options of {@link ProgressDisplay}. */
export interface ProgressOptions {
  /** Total number of items. */
  total: number;
  /** Prefix, e.g. "eval". */
  label?: string;
  /** Force terminal mode on/off (default: whether stderr is a terminal). */
  tty?: boolean;
  /** Seconds between plain lines when not a terminal (default 10 s). */
  intervalMs?: number;
  /** Where text goes (default: stderr). */
  write?: (text: string) => void;
  /** Clock in ms (default performance.now), injectable for tests. */
  now?: () => number;
}

function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return "--:--";
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${ss}` : `${m}:${ss}`;
}

/** A progress line for a long loop over images. */
export class ProgressDisplay {
  readonly #total: number;
  readonly #label: string;
  readonly #tty: boolean;
  readonly #interval: number;
  readonly #write: (text: string) => void;
  readonly #now: () => number;
  readonly #start: number;
  #lastDraw = -Infinity;
  #done = 0;
  #failed = 0;
  #finished = false;

  /** Starts the clock. */
  constructor(opts: ProgressOptions) {
    this.#total = opts.total;
    this.#label = opts.label ?? "images";
    this.#tty = opts.tty ?? Deno.stderr.isTerminal();
    this.#interval = opts.intervalMs ?? 10_000;
    const encoder = new TextEncoder();
    this.#write = opts.write ?? ((t) => Deno.stderr.writeSync(encoder.encode(t)));
    this.#now = opts.now ?? (() => performance.now());
    this.#start = this.#now();
  }

  /** The current status line (no newline). */
  line(): string {
    const elapsed = (this.#now() - this.#start) / 1000;
    const rate = elapsed > 0 ? this.#done / elapsed : 0;
    const eta = rate > 0 ? (this.#total - this.#done) / rate : Infinity;
    const pct = this.#total ? ((100 * this.#done) / this.#total).toFixed(1) : "100.0";
    const parts = [
      `${this.#label} ${this.#done}/${this.#total} (${pct}%)`,
      `${rate.toFixed(1)} img/s`,
      this.#finished ? `took ${clock(elapsed)}` : `ETA ${clock(eta)}`,
      `${this.#failed} failed`,
    ];
    return parts.join(" | ");
  }

  /** Records progress (absolute counts); redraws when due. */
  update(done: number, failed: number): void {
    this.#done = done;
    this.#failed = failed;
    const t = this.#now();
    if (this.#tty) {
      if (t - this.#lastDraw >= 100) {
        this.#write(`\r\x1b[2K${this.line()}`);
        this.#lastDraw = t;
      }
    } else if (t - this.#lastDraw >= this.#interval && done < this.#total) {
      // (the final count is left to finish(), so it is not printed twice)
      if (this.#lastDraw !== -Infinity || done > 0) this.#write(`${this.line()}\n`);
      this.#lastDraw = t;
    }
  }

  /** Prints the final line (and ends the in-place line on a terminal). */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#write(this.#tty ? `\r\x1b[2K${this.line()}\n` : `${this.line()}\n`);
  }
}
