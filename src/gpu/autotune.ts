/**
 * Autotuning of kernel tilings (GPU path). The first time a kernel meets a
 * shape it runs with a heuristic tiling and queues the shape; `tune()`
 * (called once after a model's first batch, see `Engine.tuneKernels`) times
 * every candidate tiling of each queued shape, keeps the fastest for the
 * later batches, and stores the winners per adapter in a small JSON file
 * under the user's cache folder, so the next run starts tuned.
 */
import { join } from "node:path";
import type { AdapterDescription } from "./device.ts";
import type { Engine } from "./engine.ts";

/** A shape to tune: its candidate tilings and how to run one. */
export interface TuneJob {
  /** Cache key: kernel and shape, e.g. "gemm m=64 n=3136 k=576 z=1". */
  key: string;
  /** Names of the candidate tilings. */
  candidates: readonly string[];
  /**
   * Creates inputs of the job's shape on `engine` and returns a recorder of
   * one run with a given tiling (onto the engine it is given), and a release.
   */
  prepare(engine: Engine): { record(on: Engine, tiling: string): void; release(): void };
}

/** What tuning found for one shape. */
export interface TuneResult {
  /** The job's key. */
  key: string;
  /** Fastest tiling. */
  tiling: string;
  /** Milliseconds per run of every candidate. */
  ms: Record<string, number>;
}

/** One adapter's tuned shapes: the winning tiling and every candidate's ms, by shape key. */
export type AdapterTilings = Record<string, { tiling: string; ms: Record<string, number> }>;

interface CacheFile {
  version: 1;
  adapters: Record<string, AdapterTilings>;
}

const CACHE_NAME = "kernel_tilings.json";
const RUNS_PER_CANDIDATE = 3;

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The folder of visioneval's cache: `VISIONEVAL_CACHE_DIR`, else the
 * platform's user cache folder (XDG_CACHE_HOME or ~/.cache, ~/Library/Caches,
 * %LOCALAPPDATA%) + "/visioneval"; undefined when none is known.
 */
export function cacheDir(): string | undefined {
  const own = env("VISIONEVAL_CACHE_DIR");
  if (own) return own;
  const home = env("HOME") ?? env("USERPROFILE");
  let base: string | undefined;
  if (Deno.build.os === "windows") base = env("LOCALAPPDATA");
  else if (Deno.build.os === "darwin") base = home && join(home, "Library", "Caches");
  else base = env("XDG_CACHE_HOME") ?? (home && join(home, ".cache"));
  return base ? join(base, "visioneval") : undefined;
}

/** The cache key of an adapter: its identity and the runtime that compiles the kernels. */
export function adapterKey(info: AdapterDescription): string {
  const deno = typeof Deno !== "undefined" ? Deno.version.deno : "?";
  return [info.vendor, info.architecture, info.device, info.description, `deno ${deno}`]
    .map((s) => s || "-").join(" | ");
}

function readCache(file: string): CacheFile {
  try {
    const parsed = JSON.parse(Deno.readTextFileSync(file));
    if (parsed?.version === 1 && typeof parsed.adapters === "object") return parsed;
  } catch {
    // Missing or unreadable: start empty (the file is only a cache).
  }
  return { version: 1, adapters: {} };
}

/** The tilings chosen for one adapter: cached winners, queued shapes, what ran. */
export class Autotuner {
  #winners: AdapterTilings;
  #pending = new Map<string, TuneJob>();
  #inUse = new Map<string, string>();
  #warned = false;
  /** When set, every shape whose candidates include it gets this tiling (benchmarks, tests). */
  fixed?: string;

  /** Loads the adapter's winners from `file` (when given). */
  constructor(
    /** The adapter's {@link adapterKey}. */
    readonly adapter: string,
    /** The JSON cache file, or undefined for none. */
    readonly file: string | undefined,
    /** Whether new shapes are queued for tuning (false: heuristics only). */
    readonly enabled: boolean,
  ) {
    this.#winners = file ? { ...readCache(file).adapters[adapter] } : {};
  }

  /**
   * The tiling for a shape: the cached winner, else `fallback` (and, when
   * tuning is enabled, the shape is queued via `job()`).
   */
  pick(key: string, candidates: readonly string[], fallback: string, job: () => TuneJob): string {
    if (this.fixed && candidates.includes(this.fixed)) {
      this.#inUse.set(key, this.fixed);
      return this.fixed;
    }
    const won = this.#winners[key]?.tiling;
    const tiling = won && candidates.includes(won) ? won : fallback;
    if (tiling === fallback && !won && this.enabled && !this.#pending.has(key)) {
      this.#pending.set(key, job());
    }
    this.#inUse.set(key, tiling);
    return tiling;
  }

  /** Fixes the tiling of a shape for this process (benchmarks, tests); not saved. */
  set(key: string, tiling: string): void {
    this.#winners[key] = { tiling, ms: {} };
    this.#pending.delete(key);
  }

  /** Shapes waiting for {@link tune}. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Tiling used per shape key so far in this process (for `info` / `bench`). */
  inUse(): ReadonlyMap<string, string> {
    return this.#inUse;
  }

  /** Cached winners of this adapter (from earlier runs and this one). */
  cached(): Readonly<AdapterTilings> {
    return this.#winners;
  }

  /** Times the candidates of every queued shape on `engine`, keeps and saves the winners. */
  async tune(engine: Engine): Promise<TuneResult[]> {
    const results: TuneResult[] = [];
    for (const [key, job] of this.#pending) {
      const run = job.prepare(engine);
      const ms: Record<string, number> = {};
      try {
        for (const tiling of job.candidates) {
          await engine.timeKernels((on) => run.record(on, tiling), 1); // compile, warm caches
          ms[tiling] = await engine.timeKernels(
            (on) => run.record(on, tiling),
            RUNS_PER_CANDIDATE,
          );
        }
      } finally {
        run.release();
      }
      const tiling = job.candidates.reduce((a, b) => (ms[b] < ms[a] ? b : a));
      this.#winners[key] = { tiling, ms };
      this.#inUse.set(key, tiling);
      results.push({ key, tiling, ms });
    }
    this.#pending.clear();
    if (results.length) await this.#save();
    return results;
  }

  async #save(): Promise<void> {
    if (!this.file) return;
    try {
      // Read again: another process may have added shapes meanwhile.
      const cache = readCache(this.file);
      cache.adapters[this.adapter] = { ...cache.adapters[this.adapter], ...this.#winners };
      await Deno.mkdir(join(this.file, ".."), { recursive: true });
      const tmp = `${this.file}.${Deno.pid}.tmp`;
      await Deno.writeTextFile(tmp, JSON.stringify(cache, null, 1));
      await Deno.rename(tmp, this.file);
    } catch (e) {
      if (!this.#warned) {
        console.error(
          `visioneval: could not write the kernel tiling cache ${this.file} ` +
            `(${(e as Error).message}); tilings will be tuned again next run. ` +
            `Set VISIONEVAL_CACHE_DIR to a writable folder to keep them.`,
        );
        this.#warned = true;
      }
    }
  }
}

const tuners = new Map<string, Autotuner>();

/**
 * The process-wide tuner of an adapter (engines on one adapter share
 * winners). `enabled` false gives a tuner that only reads the cache.
 */
export function tunerFor(info: AdapterDescription, enabled: boolean): Autotuner {
  const key = `${adapterKey(info)} #${enabled ? "tune" : "fixed"}`;
  let t = tuners.get(key);
  if (!t) {
    const dir = cacheDir();
    t = new Autotuner(adapterKey(info), dir && join(dir, CACHE_NAME), enabled);
    tuners.set(key, t);
  }
  return t;
}
