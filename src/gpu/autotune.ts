/**
 * Autotuning of kernel variants (GPU path), checked before use.
 *
 * The GPU-class kernels (tiled GEMM, subgroup reductions) are tested here on
 * a software adapter only; on a real GPU a driver, a subgroup layout or a
 * tiling edge could make one compute something else. So a variant is never
 * used for a result before it has been checked on the adapter at hand: the
 * first time a kernel meets a shape it runs its *reference* implementation
 * (the kernel the software path uses, tested against float64 references)
 * and queues the shape. `tune()` (called after a batch, see
 * `Engine.tuneKernels`) then runs every candidate on reproducible random
 * inputs, rejects those that do not compile or whose output differs from
 * the reference's, times the others, keeps the fastest for later batches,
 * and stores the winners per adapter in a small JSON file under the user's
 * cache folder, so the next run starts tuned and checked.
 */
import { join } from "node:path";
import type { AdapterDescription } from "./device.ts";
import type { Engine } from "./engine.ts";
import type { Tensor } from "../tensor.ts";
import { UsageError } from "../errors.ts";
import { maxAbsDiff, type OutputDifference, readDifference } from "./output_check.ts";

/** A shape to tune: its candidate tilings and how to run one. */
export interface TuneJob {
  /** Cache key: kernel and shape, e.g. "gemm m=64 n=3136 k=576 z=1". */
  key: string;
  /** Names of the candidate tilings. */
  candidates: readonly string[];
  /**
   * The trusted implementation (a name `record` accepts): every candidate's
   * output is compared with its output; it is not timed, and it is the
   * choice when no candidate passes.
   */
  reference: string;
  /**
   * Largest accepted max |candidate - reference| as a fraction of
   * max |reference| (default {@link DEFAULT_TOLERANCE}).
   */
  tolerance?: number;
  /**
   * Creates reproducible random inputs of the job's shape on `engine` and
   * returns a recorder of one run with a given tiling (onto the engine it is
   * given; it returns the output tensor, owned by the job), and a release.
   */
  prepare(engine: Engine): { record(on: Engine, tiling: string): Tensor; release(): void };
}

/**
 * Default relative tolerance of a candidate's output: float32 results that
 * differ only in summation order agree to ~1e-6 of their scale; a wrong
 * tile, index or reduction is off by O(1).
 */
export const DEFAULT_TOLERANCE = 1e-4;

/** What tuning found for one shape. */
export interface TuneResult {
  /** The job's key. */
  key: string;
  /** Fastest tiling. */
  tiling: string;
  /** Milliseconds per run of every candidate that passed the check. */
  ms: Record<string, number>;
  /** Why each failing candidate was rejected. */
  rejected: Record<string, string>;
}

/** What is kept per shape: the winning tiling, the candidates' ms, the rejected ones. */
export interface ShapeTiling {
  /** The tiling in use (the reference when no candidate passed). */
  tiling: string;
  /** Milliseconds per run of every checked candidate (empty when untimed). */
  ms: Record<string, number>;
  /** Why each failing candidate was rejected (absent when none failed). */
  rejected?: Record<string, string>;
}

/** One adapter's tuned shapes, by shape key. */
export type AdapterTilings = Record<string, ShapeTiling>;

interface CacheFile {
  version: 2;
  adapters: Record<string, AdapterTilings>;
}

const CACHE_NAME = "kernel_tilings.json";
/** Version 2: winners are checked against the reference (version 1 files are ignored). */
const CACHE_VERSION = 2;
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
    if (parsed?.version === CACHE_VERSION && typeof parsed.adapters === "object") return parsed;
  } catch {
    // Missing or unreadable: start empty (the file is only a cache).
  }
  return { version: CACHE_VERSION, adapters: {} };
}

/** The tilings chosen for one adapter: cached winners, queued shapes, what ran. */
export class Autotuner {
  #winners: AdapterTilings;
  #pending = new Map<string, TuneJob>();
  #inUse = new Map<string, string>();
  #warned = false;
  #rejectionsSaid = false;
  /**
   * When set, every shape whose candidates include it gets this tiling,
   * unchecked; "heuristic" gives each shape its heuristic tiling, unchecked
   * (tests and benchmarks of one tiling; `VISIONEVAL_TILING`); "reference"
   * gives each its job's reference and queues nothing (the model-level
   * kernel check, src/models/kernel_check.ts).
   */
  fixed?: string;

  /** Loads the adapter's winners from `file` (when given). */
  constructor(
    /** The adapter's {@link adapterKey}. */
    readonly adapter: string,
    /** The JSON cache file, or undefined for none. */
    readonly file: string | undefined,
    /**
     * Whether new shapes' candidates are timed (false: only the heuristic
     * tiling is checked, and nothing is written to the cache file).
     */
    readonly enabled: boolean,
  ) {
    this.#winners = file ? { ...readCache(file).adapters[adapter] } : {};
  }

  /**
   * The tiling for a shape: the fixed one, the cached or checked winner,
   * else the job's reference while the shape waits in the queue for
   * {@link tune} (all candidates when tuning is enabled, else `fallback`
   * alone, which is then checked but not timed).
   */
  pick(key: string, candidates: readonly string[], fallback: string, job: () => TuneJob): string {
    if (this.fixed === "reference") {
      const reference = job().reference;
      this.#inUse.set(key, reference);
      return reference;
    }
    const forced = this.fixed === "heuristic" ? fallback : this.fixed;
    if (forced && candidates.includes(forced)) {
      this.#inUse.set(key, forced);
      return forced;
    }
    const won = this.#winners[key]?.tiling;
    let tiling: string;
    if (won && candidates.includes(won)) {
      tiling = won;
    } else {
      let queued = this.#pending.get(key);
      if (!queued) {
        queued = job();
        if (!this.enabled) queued = { ...queued, candidates: [fallback] };
        this.#pending.set(key, queued);
      }
      tiling = queued.reference;
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

  /**
   * Checks the candidates of every queued shape against its reference,
   * times those that pass (when there is more than one), keeps the winners
   * and, when tuning is enabled, saves them. Rejections are reported once
   * per process on stderr.
   */
  async tune(engine: Engine): Promise<TuneResult[]> {
    const results: TuneResult[] = [];
    for (const [key, job] of this.#pending) {
      const run = job.prepare(engine);
      const ms: Record<string, number> = {};
      const rejected: Record<string, string> = {};
      const passed: string[] = [];
      try {
        const reference = copyOf(engine, run.record(engine, job.reference));
        try {
          for (const tiling of job.candidates) {
            const why = await checkCandidate(
              engine,
              () => run.record(engine, tiling),
              reference,
              job,
            );
            if (why) rejected[tiling] = why;
            else passed.push(tiling);
          }
        } finally {
          reference.release();
        }
        if (passed.length > 1) {
          for (const tiling of passed) {
            await engine.timeKernels((on) => run.record(on, tiling), 1); // compile, warm caches
            ms[tiling] = await engine.timeKernels(
              (on) => run.record(on, tiling),
              RUNS_PER_CANDIDATE,
            );
          }
        }
      } finally {
        run.release();
      }
      const tiling = passed.length
        ? passed.reduce((a, b) => ((ms[b] ?? Infinity) < (ms[a] ?? Infinity) ? b : a))
        : job.reference;
      const failed = Object.keys(rejected).length > 0;
      this.#winners[key] = failed ? { tiling, ms, rejected } : { tiling, ms };
      this.#inUse.set(key, tiling);
      results.push({ key, tiling, ms, rejected });
      if (failed) this.#sayRejections(key, rejected, tiling);
    }
    this.#pending.clear();
    if (results.length && this.enabled) await this.#save();
    return results;
  }

  #sayRejections(key: string, rejected: Record<string, string>, tiling: string): void {
    if (this.#rejectionsSaid) return;
    this.#rejectionsSaid = true;
    const list = Object.entries(rejected).map(([t, why]) => `${t}: ${why}`).join("; ");
    console.error(
      `visioneval: kernel check on this adapter: ${key}: rejected ${list}. Using ${tiling}; ` +
        `results are unaffected (\`visioneval info\` lists every rejection).`,
    );
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

/** A copy of `t` from the pool (the reference output, kept while candidates reuse the job's output). */
function copyOf(engine: Engine, t: Tensor): Tensor {
  const c = engine.empty(t.shape, t.dtype, "autotune reference");
  engine.copy(t, c);
  return c;
}

/**
 * Runs one candidate inside a validation error scope and compares its
 * output with the reference; returns why it fails, or undefined.
 */
async function checkCandidate(
  engine: Engine,
  record: () => Tensor,
  reference: Tensor,
  job: TuneJob,
): Promise<string | undefined> {
  const device = engine.device;
  device.pushErrorScope("validation");
  let diff: OutputDifference | undefined;
  let thrown: unknown;
  try {
    diff = await readDifference(engine, maxAbsDiff(engine, record(), reference));
  } catch (e) {
    thrown = e;
  }
  const error = await device.popErrorScope();
  if (error) return `does not compile or run here (${error.message.split("\n")[0]})`;
  if (thrown) return `failed: ${(thrown as Error).message ?? thrown}`;
  const tolerance = job.tolerance ?? DEFAULT_TOLERANCE;
  const { maxDiff, maxRef } = diff!;
  if (!(maxDiff <= tolerance * maxRef)) {
    return `output differs from the ${job.reference} kernel's by ${maxDiff.toPrecision(3)} ` +
      `(largest |value| ${maxRef.toPrecision(3)})`;
  }
  return undefined;
}

const tuners = new Map<string, Autotuner>();

/**
 * The process-wide tuner of an adapter (engines on one adapter share
 * winners). `enabled` false gives a tuner that only reads the cache.
 * `VISIONEVAL_TILING` (a tiling name, or "heuristic") sets
 * {@link Autotuner.fixed}: a testing and benchmarking knob that skips the
 * checks.
 */
export function tunerFor(info: AdapterDescription, enabled: boolean): Autotuner {
  const key = `${adapterKey(info)} #${enabled ? "tune" : "fixed"}`;
  let t = tuners.get(key);
  if (!t) {
    const dir = cacheDir();
    t = new Autotuner(adapterKey(info), dir && join(dir, CACHE_NAME), enabled);
    const fixed = env("VISIONEVAL_TILING");
    if (fixed && !/^(heuristic|reference|software|tree|\d+x\d+)$/.test(fixed)) {
      throw new UsageError(
        `VISIONEVAL_TILING must be "heuristic", "reference", "software" or a tiling such as "64x128" ` +
          `(see \`visioneval info\`), got "${fixed}"`,
      );
    }
    t.fixed = fixed;
    tuners.set(key, t);
  }
  return t;
}
