/** Shared test helpers: fixture paths and numeric comparisons. */
import assert from "node:assert/strict";
import { fromFileUrl } from "./_path.ts";
import { mulberry32 } from "../src/random.ts";

/** Absolute path of `../shared/fixtures` (or $VISIONEVAL_FIXTURES). */
export const FIXTURES: string = Deno.env.get("VISIONEVAL_FIXTURES") ??
  fromFileUrl(new URL("../../shared/fixtures", import.meta.url));

/** True if the fixtures directory exists. */
export const HAVE_FIXTURES: boolean = (() => {
  try {
    return Deno.statSync(FIXTURES).isDirectory;
  } catch {
    return false;
  }
})();

/** Path inside the fixtures. */
export function fixture(...parts: string[]): string {
  return [FIXTURES, ...parts].join("/");
}

/** True when the opt-in full-size tests are requested (VISIONEVAL_FULL=1). */
export const FULL: boolean = Deno.env.get("VISIONEVAL_FULL") === "1";

/**
 * `Deno.test` for tests that need `../shared/fixtures`: where the fixtures are
 * absent the test is ignored and says so in its name.
 */
export function fixtureTest(name: string, fn: () => Promise<void> | void): void {
  Deno.test({
    name: HAVE_FIXTURES ? name : `${name} (skipped: ${FIXTURES} not found)`,
    ignore: !HAVE_FIXTURES,
    fn,
  });
}

/** max |a - b| over two arrays of equal length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length, `length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** max |x| of an array. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Asserts max|a - ref| <= rtol * max|ref| (the fixtures' tolerance rule). */
export function assertRelClose(
  a: ArrayLike<number>,
  ref: ArrayLike<number>,
  rtol: number,
  what = "values",
): number {
  const d = maxAbsDiff(a, ref);
  const scale = maxAbs(ref) || 1;
  assert.ok(
    d <= rtol * scale,
    `${what}: max |diff| ${d.toExponential(3)} > ${rtol} * max|ref| ${scale.toExponential(3)}`,
  );
  return d / scale;
}

/** Asserts max|a - ref| <= atol. */
export function assertAbsClose(
  a: ArrayLike<number>,
  ref: ArrayLike<number>,
  atol: number,
  what = "values",
): number {
  const d = maxAbsDiff(a, ref);
  assert.ok(d <= atol, `${what}: max |diff| ${d.toExponential(3)} > ${atol}`);
  return d;
}

/** A seeded PRNG (mulberry32) so tests are reproducible. */
export const rng: (seed: number) => () => number = mulberry32;

/** Float32Array of `n` values uniform in [lo, hi) from a seeded PRNG. */
export function randomF32(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

/**
 * Runs the CLI in this process with `args` and returns its exit code and
 * what it printed with console.log (`out`) and console.error (`err`).
 */
export async function runCli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const { main } = await import("../cli.ts");
  const out: string[] = [], err: string[] = [];
  const log = console.log, error = console.error;
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  try {
    return { code: await main(args), out: out.join("\n"), err: err.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}
