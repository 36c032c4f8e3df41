/**
 * All-or-nothing output folders: what a run writes goes to a staging folder
 * first and is moved into place at the end, so a failed or killed run never
 * leaves a complete-looking `metrics.json` beside a truncated state, or the
 * files of two runs mixed.
 *
 * The rules (`eval --out DIR`):
 * - The run owns a fixed set of names in DIR (for eval: metrics.json,
 *   predictions.csv, state.safetensors, report.html). Everything else in DIR
 *   (other tools' files, sub-folders) is never touched.
 * - Files are written into `DIR/.visioneval-staging-<pid>-<random>/`. It
 *   lives inside DIR, not beside it, so that the final moves are renames
 *   within one file system (DIR may be a mount point) and only DIR itself
 *   needs to be writable. It is created before the run starts, which is the
 *   writability check: an unwritable DIR fails in a second, not after an
 *   hour of evaluation.
 * - At the end the earlier run's owned files are moved out of DIR
 *   (metrics.json first) into `DIR/.visioneval-previous-<pid>-<random>/`,
 *   the new files are moved in (metrics.json last), and both hidden folders
 *   are deleted. Owned names the new run did not write (report.html under
 *   `--no-report`) are removed with the rest of the earlier run.
 * - So `metrics.json` is the commit marker: whenever it exists, every owned
 *   file beside it comes from the same run. A run killed before the end
 *   leaves the earlier outputs as they were; one killed during the moves
 *   (a few renames) leaves no metrics.json, its staging folder, and the
 *   earlier run's files in the `.visioneval-previous-*` folder.
 * - A run that fails removes its staging folder, and DIR too when the run
 *   created it and it is still empty.
 */
import { join, resolve } from "node:path";
import { DataError } from "../errors.ts";

const STAGING_PREFIX = ".visioneval-staging-";
const PREVIOUS_PREFIX = ".visioneval-previous-";

function exists(path: string): boolean {
  try {
    Deno.lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function suffix(): string {
  return `${Deno.pid}-${crypto.randomUUID().slice(0, 8)}`;
}

/** Options of {@link StagedOutput.commit}. */
export interface CommitOptions {
  /**
   * Called before each rename of the commit with its number (0-based); a
   * test throws from it to stand for a process killed at that point.
   */
  beforeStep?: (step: number) => void;
}

/** An output folder being written: files go to {@link path}, then {@link commit}. */
export class StagedOutput {
  #started = false;
  #discarded = false;

  private constructor(
    /** The output folder (resolved). */
    readonly dir: string,
    /** The hidden staging folder inside it. */
    readonly staging: string,
    /** Names in `dir` the run owns (replaced as a set). */
    readonly owned: readonly string[],
    /** True when `dir` did not exist before. */
    readonly created: boolean,
  ) {}

  /**
   * Creates the output folder (if needed) and its staging folder; a DataError
   * naming `flag` when that is not possible (not writable, a file in the way).
   */
  static async open(dir: string, owned: readonly string[], flag = "--out"): Promise<StagedOutput> {
    const abs = resolve(dir);
    const created = !exists(abs);
    const fail = (e: unknown, what: string) =>
      new DataError(
        `${flag} ${dir}: ${what} (${(e as Error).message}); pass a writable ${flag} folder`,
      );
    try {
      await Deno.mkdir(abs, { recursive: true });
    } catch (e) {
      throw fail(e, "cannot create the output folder");
    }
    if (!Deno.statSync(abs).isDirectory) {
      throw new DataError(`${flag} ${dir} is not a folder; pass a writable ${flag} folder`);
    }
    const staging = join(abs, STAGING_PREFIX + suffix());
    try {
      await Deno.mkdir(staging);
    } catch (e) {
      if (created) await Deno.remove(abs).catch(() => {});
      throw fail(e, "cannot write into the output folder");
    }
    return new StagedOutput(abs, staging, owned, created);
  }

  /** Where to write `name` (one of the owned names) during the run. */
  path(name: string): string {
    if (!this.owned.includes(name)) throw new Error(`${name} is not an owned output name`);
    return join(this.staging, name);
  }

  /**
   * Moves the written files into place, replacing the earlier run's owned
   * files as a set (see the module notes). `markerName` goes out first and
   * in last. Returns the final paths of the files written.
   */
  async commit(markerName: string, opts: CommitOptions = {}): Promise<string[]> {
    if (this.#started || this.#discarded) throw new Error("output already committed");
    this.#started = true;
    let step = 0;
    const rename = async (from: string, to: string) => {
      opts.beforeStep?.(step++);
      await Deno.rename(from, to);
    };
    const order = (names: string[]) =>
      names.sort((a, b) => (a === markerName ? -1 : b === markerName ? 1 : 0));
    const written = order(this.owned.filter((n) => exists(join(this.staging, n))));
    const earlier = order(this.owned.filter((n) => exists(join(this.dir, n))));
    try {
      let previous: string | undefined;
      if (earlier.length) {
        previous = join(this.dir, PREVIOUS_PREFIX + suffix());
        await Deno.mkdir(previous);
        for (const n of earlier) await rename(join(this.dir, n), join(previous, n));
      }
      for (const n of written.reverse()) await rename(join(this.staging, n), join(this.dir, n));
      if (previous) await Deno.remove(previous, { recursive: true });
      await Deno.remove(this.staging, { recursive: true });
    } catch (e) {
      throw new DataError(
        `could not move the outputs into ${this.dir} (${(e as Error).message}); ` +
          `the new files are in ${this.staging}`,
        { cause: e },
      );
    }
    return this.owned.filter((n) => written.includes(n)).map((n) => join(this.dir, n));
  }

  /**
   * Drops an uncommitted run's files (a no-op once {@link commit} has begun:
   * a commit that failed half-way keeps them for the user); removes the
   * output folder too when this run created it and it is empty.
   */
  async discard(): Promise<void> {
    if (this.#started || this.#discarded) return;
    this.#discarded = true;
    await Deno.remove(this.staging, { recursive: true }).catch(() => {});
    if (this.created) await Deno.remove(this.dir).catch(() => {}); // only if empty
  }
}

/**
 * Runs `work` (which writes its files at `path(name)`) against an opened
 * staged output folder and commits it with `marker` (metrics.json) as the
 * commit marker; an error anywhere in `work` discards the staged files. For
 * commands that compute and then write a few files (`merge`, `metrics`).
 */
export async function withStagedOutput<T>(
  out: StagedOutput,
  marker: string,
  work: (path: (name: string) => string) => Promise<T>,
): Promise<T> {
  try {
    const result = await work((name) => out.path(name));
    await out.commit(marker);
    return result;
  } finally {
    await out.discard();
  }
}
