/**
 * The layout toolkit every model family shares: a tensor index (names, shapes,
 * dtypes of a weights file), an expected-tensor builder, `checkTensors`
 * (missing, unexpected, mis-shaped and wrong-dtype tensors in one message),
 * name summaries for "unknown layout" errors, numbered-block counting, and
 * config.json field readers that refuse malformed values instead of guessing.
 */
import { ModelLayoutError } from "../errors.ts";

/** The part of a weights file the layout code needs (a `SafetensorsFile` fits). */
export interface TensorIndex {
  /** All tensor names. */
  names(): string[];
  /** dtype and shape of one tensor. */
  info(name: string): { dtype: string; shape: number[] };
}

/** Expected tensors of a layout: name -> shape. */
export type Expected = Map<string, number[]>;

/** A linear layer's tensors (PyTorch layout: weight [out, in]). */
export interface LinearNames {
  /** Weight [out, in]. */
  weight: string;
  /** Bias [out], when the layer has one. */
  bias?: string;
}

/** A LayerNorm's tensors. */
export interface NormNames {
  /** gamma [D] */
  weight: string;
  /** beta [D] */
  bias: string;
}

/** Tensor names of one BatchNorm (eval mode: running statistics). */
export interface BatchNormNames {
  /** gamma */
  weight: string;
  /** beta */
  bias: string;
  /** running mean */
  runningMean: string;
  /** running variance */
  runningVar: string;
}

/**
 * A linear layer's names. `bias`: true / false when the layout says whether
 * it has one (a missing bias is then reported as missing), or a name set to
 * decide by presence.
 */
export function linearNames(prefix: string, bias: boolean | ReadonlySet<string>): LinearNames {
  const b = `${prefix}.bias`;
  const has = typeof bias === "boolean" ? bias : bias.has(b);
  return { weight: `${prefix}.weight`, bias: has ? b : undefined };
}

/** `prefix.weight` / `prefix.bias`. */
export function normNames(prefix: string): NormNames {
  return { weight: `${prefix}.weight`, bias: `${prefix}.bias` };
}

/** `prefix.{weight,bias,running_mean,running_var}`. */
export function bnNames(prefix: string): BatchNormNames {
  return {
    weight: `${prefix}.weight`,
    bias: `${prefix}.bias`,
    runningMean: `${prefix}.running_mean`,
    runningVar: `${prefix}.running_var`,
  };
}

/** Expects a linear layer [out, inp] (+ bias [out]). */
export function expectLinear(e: Expected, l: LinearNames, out: number, inp: number): void {
  e.set(l.weight, [out, inp]);
  if (l.bias) e.set(l.bias, [out]);
}

/** Expects a LayerNorm over `d` features. */
export function expectNorm(e: Expected, n: NormNames, d: number): void {
  e.set(n.weight, [d]);
  e.set(n.bias, [d]);
}

/** Expects a BatchNorm over `channels`. */
export function expectBn(e: Expected, bn: BatchNormNames, channels: number): void {
  for (const n of [bn.weight, bn.bias, bn.runningMean, bn.runningVar]) e.set(n, [channels]);
}

const ALLOWED_DTYPES = new Set(["F32", "F16", "BF16", "F64"]);

/** Options of {@link checkTensors}. */
export interface CheckOptions {
  /** The family and layout named in the message, e.g. "ResNet (torchvision)". */
  what: string;
  /** Tensors the network does not read but that may be present (a pooler, a mask token). */
  ignorable?: (name: string) => boolean;
}

/**
 * Compares the tensors a spec needs with what the file holds: every expected
 * tensor present with its shape and a float dtype, and nothing else. Extra
 * BatchNorm `num_batches_tracked` counters are ignored (they do not affect
 * inference). Throws one {@link ModelLayoutError} listing everything wrong.
 */
export function checkTensors(
  index: TensorIndex,
  expected: Expected,
  where: string,
  opts: CheckOptions,
): void {
  const found = index.names().filter((n) =>
    !n.endsWith("num_batches_tracked") && !opts.ignorable?.(n)
  );
  const foundSet = new Set(index.names());
  const missing = [...expected.keys()].filter((n) => !foundSet.has(n));
  const unexpected = found.filter((n) => !expected.has(n));
  const mismatched: string[] = [];
  const badDtype: string[] = [];
  for (const [name, shape] of expected) {
    if (!foundSet.has(name)) continue;
    const info = index.info(name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      mismatched.push(`${name}: expected [${shape}], found [${info.shape}]`);
    }
    if (!ALLOWED_DTYPES.has(info.dtype)) badDtype.push(`${name} (${info.dtype})`);
  }
  if (missing.length || unexpected.length || mismatched.length || badDtype.length) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing tensors: ${listSome(missing)}`);
    if (unexpected.length) {
      parts.push(`unexpected tensors: ${listSome(unexpected)}`);
    }
    if (mismatched.length) parts.push(`shape mismatches: ${listSome(mismatched)}`);
    if (badDtype.length) {
      parts.push(`unsupported dtypes (need F32, F16, BF16 or F64): ${listSome(badDtype)}`);
    }
    throw new ModelLayoutError(
      `${where} does not match the ${opts.what} layout it was detected as. ${parts.join("; ")}. ` +
        `Check that the weights and config.json belong together and that the checkpoint is complete.`,
    );
  }
}

/** The first `max` items, then how many there are in all. */
export function listSome(items: readonly string[], max = 12): string {
  const shown = items.slice(0, max).join(", ");
  return items.length > max
    ? `${shown}, ... (${items.length} in all)`
    : `${shown} (${items.length})`;
}

/** A short description of a file's names, for "unknown layout" errors. */
export function summarizeNames(names: readonly string[]): string {
  if (!names.length) return "no tensors";
  const prefixes = new Map<string, number>();
  for (const n of names) {
    const p = n.split(".").slice(0, 2).join(".");
    prefixes.set(p, (prefixes.get(p) ?? 0) + 1);
  }
  const top = [...prefixes].slice(0, 10).map(([p, c]) => `${p}.* (${c})`);
  return `${names.length} tensors: ${top.join(", ")}${prefixes.size > 10 ? ", ..." : ""}`;
}

/** Shape of a tensor, or undefined when the file does not have it. */
export function shapeOf(
  index: TensorIndex,
  names: ReadonlySet<string>,
  name: string,
): number[] | undefined {
  return names.has(name) ? index.info(name).shape : undefined;
}

/** Shape of a tensor the layout cannot do without (of `rank` dims, when given), or a layout error. */
export function requireShape(
  index: TensorIndex,
  names: ReadonlySet<string>,
  name: string,
  where: string,
  rank?: number,
): number[] {
  const s = shapeOf(index, names, name);
  if (!s) {
    throw new ModelLayoutError(
      `${where}: tensor "${name}" is missing. The checkpoint is incomplete or in another ` +
        `layout. Found: ${summarizeNames([...names])}.`,
    );
  }
  if (rank !== undefined && s.length !== rank) {
    throw new ModelLayoutError(
      `${where}: tensor "${name}" should have ${rank} dimensions but has shape [${s}].`,
    );
  }
  return s;
}

/** Sorted distinct integers captured by `re` (group 1) over the names. */
export function indicesOf(names: readonly string[], re: RegExp): number[] {
  const out = new Set<number>();
  for (const n of names) {
    const m = re.exec(n);
    if (m) out.add(Number(m[1]));
  }
  return [...out].sort((a, b) => a - b);
}

/** Checks indices are start, start+1, ... without gaps; returns how many. */
export function contiguous(idx: readonly number[], start: number, what: string, where: string) {
  idx.forEach((v, i) => {
    if (v !== start + i) {
      throw new ModelLayoutError(
        `${where}: ${what} are numbered ${idx.join(", ")}; expected ${start}, ${start + 1}, ... ` +
          `without gaps. The checkpoint looks incomplete.`,
      );
    }
  });
  return idx.length;
}

/** Regex source matching `s` literally. */
export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Number of numbered children `prefix<i>.` (0..n-1, no gaps); 0 when there are none. */
export function countIndexed(names: readonly string[], prefix: string, where: string): number {
  const idx = indicesOf(names, new RegExp(`^${escapeRegExp(prefix)}(\\d+)\\.`));
  return contiguous(idx, 0, `${prefix}N entries`, where);
}

/**
 * `config[key]`, or undefined when absent (or null); a value that fails
 * `valid` is a ModelLayoutError saying it must be `what`.
 */
export function configField<T>(
  config: Record<string, unknown>,
  key: string,
  where: string,
  valid: (v: unknown) => v is T,
  what: string,
): T | undefined {
  const v = config[key];
  if (v === undefined || v === null) return undefined;
  if (!valid(v)) {
    throw new ModelLayoutError(
      `${where}: config "${key}" must be ${what}, found ${JSON.stringify(v)}.`,
    );
  }
  return v;
}

const isPositiveInt = (v: unknown): v is number =>
  typeof v === "number" && Number.isInteger(v) && v > 0;

/** A positive integer config field. */
export function intField(config: Record<string, unknown>, key: string, where: string) {
  return configField(config, key, where, isPositiveInt, "a positive integer");
}

/** A positive finite number config field (an epsilon, a scale). */
export function positiveField(config: Record<string, unknown>, key: string, where: string) {
  return configField(
    config,
    key,
    where,
    (v): v is number => typeof v === "number" && Number.isFinite(v) && v > 0,
    "a positive number",
  );
}

/** A boolean config field. */
export function boolField(config: Record<string, unknown>, key: string, where: string) {
  return configField(
    config,
    key,
    where,
    (v): v is boolean => typeof v === "boolean",
    "true or false",
  );
}

/** A string config field. */
export function stringField(config: Record<string, unknown>, key: string, where: string) {
  return configField(config, key, where, (v): v is string => typeof v === "string", "a string");
}

/** A list-of-positive-integers config field. */
export function intListField(config: Record<string, unknown>, key: string, where: string) {
  return configField(
    config,
    key,
    where,
    (v): v is number[] => Array.isArray(v) && v.every(isPositiveInt),
    "a list of positive integers",
  );
}

/** Hugging Face `architectures` as strings ([] when absent). */
export function hfArchitectures(config: Record<string, unknown>): string[] {
  return Array.isArray(config.architectures) ? config.architectures.map(String) : [];
}

/** timm hub `architecture` ("" when absent). */
export function timmArchitecture(config: Record<string, unknown>): string {
  return typeof config.architecture === "string" ? config.architecture : "";
}

/** timm hub `model_args` ({} when absent or not an object). */
export function timmModelArgs(config: Record<string, unknown>): Record<string, unknown> {
  const a = config.model_args;
  return a && typeof a === "object" && !Array.isArray(a) ? a as Record<string, unknown> : {};
}

/**
 * The activation config.json names (`hidden_act`, `act_layer`, ...) when it
 * is one of `supported` (config name -> the activation run), `fallback` when
 * it names none; anything else is refused, naming the key and what is
 * supported.
 */
export function configActivation<A extends string>(
  value: string | undefined,
  key: string,
  supported: Readonly<Record<string, A>>,
  fallback: A,
  what: string,
  where: string,
): A {
  if (value === undefined) return fallback;
  const act = supported[value];
  if (!act) {
    throw new ModelLayoutError(
      `${where}: config ${key} ${JSON.stringify(value)} is not supported for ${what} ` +
        `(supported: ${Object.keys(supported).join(", ")}; the exact erf GELU is "gelu").`,
    );
  }
  return act;
}
