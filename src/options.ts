/**
 * Checks of the module API's numeric options (`evaluate`, `predict`); the
 * CLI parses its flags with `intArg` (src/cli/options.ts), which gives the
 * same messages with the flag's name.
 */
import { UsageError } from "./errors.ts";

/**
 * `value` when it is an integer in `lo..hi` (or undefined), else a
 * {@link UsageError} naming the option: a typo must not silently evaluate
 * something else (a negative `limit` read as "all images", `topk: 20` as 10).
 */
export function integerOption(
  value: number | undefined,
  name: string,
  lo: number,
  hi: number,
): number | undefined {
  if (value !== undefined && !(Number.isInteger(value) && value >= lo && value <= hi)) {
    throw new UsageError(`${name} must be an integer in ${lo}..${hi}, got ${value}`);
  }
  return value;
}
