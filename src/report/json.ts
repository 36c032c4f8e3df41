/**
 * JSON writer for metrics.json: fractions stay fractions (0.827, not 82.7),
 * non-finite numbers become null (JSON has no NaN), typed arrays become
 * arrays, and arrays of plain values stay on one line so a 1000×1000
 * confusion matrix is 1000 lines rather than a million.
 */
import { dirname } from "node:path";

/** Converts a value to JSON-safe data: NaN/±Infinity -> null, typed arrays -> arrays, bigint -> number. */
export function toJsonValue(v: unknown): unknown {
  if (typeof v === "number") return Number.isFinite(v) ? v : null;
  if (typeof v === "bigint") return Number(v);
  if (v === undefined || typeof v === "function" || typeof v === "symbol") return undefined;
  if (v === null || typeof v !== "object") return v;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    return Array.from(v as unknown as ArrayLike<number | bigint>, toJsonValue);
  }
  if (Array.isArray(v)) return v.map((x) => toJsonValue(x) ?? null);
  if (v instanceof Date) return v.toISOString();
  if (v instanceof Map) return toJsonValue(Object.fromEntries(v));
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    const j = toJsonValue(x);
    if (j !== undefined) out[k] = j;
  }
  return out;
}

function isFlat(a: unknown[]): boolean {
  return a.every((x) => x === null || typeof x !== "object");
}

function render(v: unknown, indent: string): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v);
  const inner = indent + "  ";
  if (Array.isArray(v)) {
    if (v.length === 0) return "[]";
    if (isFlat(v)) return `[${v.map((x) => JSON.stringify(x)).join(", ")}]`;
    return `[\n${v.map((x) => inner + render(x, inner)).join(",\n")}\n${indent}]`;
  }
  const entries = Object.entries(v);
  if (entries.length === 0) return "{}";
  return `{\n${
    entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${render(x, inner)}`).join(",\n")
  }\n${indent}}`;
}

/** Pretty JSON text of a value (see module doc), ending with a newline. */
export function formatJson(value: unknown): string {
  return render(toJsonValue(value) ?? null, "") + "\n";
}

/** Writes `value` as pretty JSON (e.g. metrics.json), creating the parent folder. */
export async function writeJson(path: string, value: unknown): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, formatJson(value));
}

/** Writes the metrics object to `path` (metrics.json). */
export function writeMetricsJson(path: string, metrics: object): Promise<void> {
  return writeJson(path, metrics);
}
