/**
 * Prediction files from any framework, for the `metrics` and `calibrate`
 * commands: `.safetensors` (tensor `logits` or `probs` / `probabilities`
 * [n, C], optional `labels` [n]), `.npy` ([n, C]; labels from --labels or a
 * `labels.npy` / `<name>.labels.npy` beside it), CSV (`label,p_0,…` or
 * `label,logit_0,…`, header optional) and JSONL (`{"label": 3, "probs": […]}`
 * or `"logits"`). Labels files: `.npy`, `.safetensors` (`labels`), `.json`
 * (an array) or text/CSV (one integer per line, optional header).
 *
 * Whether values are probabilities is taken from `--probs` / `--logits`,
 * else from the tensor / column / key names, else detected (see
 * {@link resolveKind}): probabilities must lie in [0, 1] within
 * {@link PROB_VALUE_TOLERANCE} (clipped) with rows summing to 1 within
 * {@link PROB_SUM_TOLERANCE} ({@link DECLARED_PROB_SUM_TOLERANCE} with
 * `--probs`); values that look like probabilities but miss these tolerances
 * are refused as ambiguous rather than guessed. Every value must fit in
 * float32 (the GPU's type). A bad row raises a {@link MetricsInputError}
 * naming the file and the row.
 */
import { basename, dirname, extname, join } from "node:path";
import { MetricsInputError } from "../errors.ts";
import { readCsvRecords } from "../csv.ts";
import { SafetensorsFile } from "../weights/safetensors.ts";
import { npyToF64, readNpy } from "../weights/npy.ts";
import type { MetricInputKind } from "./snapshot.ts";

/** Rows named or detected as probabilities must sum to 1 within this. */
export const PROB_SUM_TOLERANCE = 1e-3;
/** Rows declared probabilities with `--probs` must sum to 1 within this (e.g. float16 softmax). */
export const DECLARED_PROB_SUM_TOLERANCE = 1e-2;
/** Probabilities may lie this far outside [0, 1] (rounding in the writer); they are clipped. */
export const PROB_VALUE_TOLERANCE = 1e-6;
/**
 * Values that all lie within this margin of [0, 1] look like probabilities:
 * if they miss the tolerances above they are refused as ambiguous (unless
 * `--probs` / `--logits` says which), never silently softmaxed as logits.
 */
export const PROB_LOOKALIKE_MARGIN = 0.01;

/** Predictions read from a file. */
export interface Predictions {
  /** n×C row-major values. */
  values: Float32Array | Float64Array;
  /** n labels (class indices). */
  labels: Int32Array;
  /** Number of samples. */
  n: number;
  /** Number of classes. */
  numClasses: number;
  /** Logits or probabilities. */
  kind: MetricInputKind;
  /** How the kind was decided, for the summary (e.g. "detected: values outside [0, 1]"). */
  kindReason: string;
  /** Files read. */
  sources: string[];
}

/** Options of {@link readPredictions}. */
export interface ReadPredictionsOptions {
  /** A separate labels file. */
  labels?: string;
  /** "logits", "probs", or "auto" (default: from names, else detected). */
  kind?: MetricInputKind | "auto";
}

function fail(file: string, what: string): MetricsInputError {
  return new MetricsInputError(`${file}: ${what}`);
}

/** Reads predictions (and labels) for the `metrics` command. */
export async function readPredictions(
  path: string,
  options: ReadPredictionsOptions = {},
): Promise<Predictions> {
  try {
    if (!Deno.statSync(path).isFile) throw fail(path, "not a file. Pass a predictions file.");
  } catch (e) {
    if (e instanceof MetricsInputError) throw e;
    throw fail(path, "file not found. Check the --predictions path.");
  }
  const ext = extname(path).toLowerCase();
  let values: Float32Array | Float64Array,
    C: number,
    labels: Int32Array | null,
    named: MetricInputKind | null;
  if (ext === ".safetensors") {
    ({ values, C, labels, named } = await readSafetensorsPredictions(path));
  } else if (ext === ".npy") ({ values, C, labels, named } = await readNpyPredictions(path));
  else if (ext === ".jsonl" || ext === ".ndjson") ({ values, C, labels, named } = readJsonl(path));
  else if (ext === ".csv" || ext === ".tsv" || ext === ".txt") {
    ({ values, C, labels, named } = readCsv(path));
  } else {
    throw fail(
      path,
      `unknown predictions format "${ext}". Use .safetensors, .npy, .csv or .jsonl.`,
    );
  }
  const sources = [path];
  if (options.labels) {
    labels = await readLabels(options.labels);
    sources.push(options.labels);
  } else if (!labels && ext === ".npy") {
    const stem = basename(path, ext);
    for (
      const cand of [join(dirname(path), `${stem}.labels.npy`), join(dirname(path), "labels.npy")]
    ) {
      if (exists(cand)) {
        labels = await readLabels(cand);
        sources.push(cand);
        break;
      }
    }
  }
  const n = values.length / C;
  if (!labels) {
    throw fail(path, "no labels found. Pass --labels FILE (or store a `labels` tensor / column).");
  }
  if (labels.length !== n) {
    throw fail(sources[sources.length - 1], `${labels.length} labels for ${n} prediction rows`);
  }
  for (let i = 0; i < n; i++) {
    if (labels[i] < 0 || labels[i] >= C) {
      throw fail(path, `row ${i + 1}: label ${labels[i]} is outside 0..${C - 1} (${C} classes)`);
    }
  }
  const { kind, reason } = resolveKind(path, values, C, options.kind ?? "auto", named);
  return { values, labels, n, numClasses: C, kind, kindReason: reason, sources };
}

function exists(p: string): boolean {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
}

/** The first row that is not a probability distribution within `sumTolerance`, or null. */
function badProbabilityRow(
  values: ArrayLike<number>,
  C: number,
  sumTolerance: number,
  valueTolerance = PROB_VALUE_TOLERANCE,
): { row: number; why: string } | null {
  const n = values.length / C;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let c = 0; c < C; c++) {
      const v = values[i * C + c];
      if (!(v >= -valueTolerance && v <= 1 + valueTolerance)) {
        return {
          row: i,
          why: `value ${v} in column ${c} is not in [0, 1] (tolerance ${valueTolerance})`,
        };
      }
      s += v;
    }
    if (!(Math.abs(s - 1) <= sumTolerance)) {
      return { row: i, why: `probabilities sum to ${s}, not 1 (tolerance ${sumTolerance})` };
    }
  }
  return null;
}

/**
 * Decides whether `values` are logits or probabilities and checks them:
 * every value finite and within the float32 range; `--logits` / `--probs`
 * (`requested`) win over names in the file (`named`), which win over
 * detection. Probabilities (declared or detected) must lie in [0, 1] within
 * {@link PROB_VALUE_TOLERANCE} (then clipped into it, in place) with rows
 * summing to 1 within {@link PROB_SUM_TOLERANCE} (`--probs`:
 * {@link DECLARED_PROB_SUM_TOLERANCE}). Detection: probabilities when they
 * pass; logits when some value lies more than {@link PROB_LOOKALIKE_MARGIN}
 * outside [0, 1]; otherwise (values like probabilities that miss the
 * tolerances, e.g. a row summing to 1.002) ambiguous, refused.
 */
export function resolveKind(
  path: string,
  values: Float32Array | Float64Array,
  C: number,
  requested: MetricInputKind | "auto",
  named: MetricInputKind | null,
): { kind: MetricInputKind; reason: string } {
  let lookalike = true;
  const lo = -PROB_LOOKALIKE_MARGIN, hi = 1 + PROB_LOOKALIKE_MARGIN;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      throw fail(path, `row ${Math.floor(i / C) + 1}: value ${v} in column ${i % C} is not finite`);
    }
    if (!Number.isFinite(Math.fround(v))) {
      throw fail(
        path,
        `row ${Math.floor(i / C) + 1}: value ${v} in column ${i % C} does not fit in float32 ` +
          `(largest 3.4028235e38), the type the GPU computes in`,
      );
    }
    if (v < lo || v > hi) lookalike = false;
  }
  const clip = () => {
    for (let i = 0; i < values.length; i++) values[i] = Math.min(Math.max(values[i], 0), 1);
  };
  if (requested === "logits") return { kind: "logits", reason: "--logits" };
  if (requested === "probs") {
    const bad = badProbabilityRow(values, C, DECLARED_PROB_SUM_TOLERANCE);
    if (bad) throw fail(path, `row ${bad.row + 1}: ${bad.why}. Pass --logits if these are logits.`);
    clip();
    return { kind: "probs", reason: "--probs" };
  }
  if (named === "logits") return { kind: "logits", reason: "named logits in the file" };
  const bad = badProbabilityRow(values, C, PROB_SUM_TOLERANCE);
  if (named === "probs") {
    if (bad) {
      throw fail(
        path,
        `row ${bad.row + 1}: ${bad.why}. Pass --probs to accept rows summing to 1 within ` +
          `${DECLARED_PROB_SUM_TOLERANCE}, or --logits if these are logits.`,
      );
    }
    clip();
    return { kind: "probs", reason: "named probabilities in the file" };
  }
  if (!bad) {
    clip();
    return {
      kind: "probs",
      reason: `detected: values in [0, 1], rows sum to 1 within ${PROB_SUM_TOLERANCE}`,
    };
  }
  if (!lookalike) {
    return {
      kind: "logits",
      reason: `detected: values outside [${lo}, ${hi}]`,
    };
  }
  throw fail(
    path,
    `cannot tell logits from probabilities: every value lies in [${lo}, ${hi}] like ` +
      `probabilities, but row ${bad.row + 1}: ${bad.why}. Pass --probs (rows summing to 1 ` +
      `within ${DECLARED_PROB_SUM_TOLERANCE}; values clipped to [0, 1]) or --logits.`,
  );
}

async function readSafetensorsPredictions(path: string) {
  using st = await SafetensorsFile.open(path);
  if (st.metadata["visioneval_metric_state"] !== undefined) {
    throw fail(
      path,
      "this is a metric state written by eval/metrics, not predictions: combine states with " +
        "`visioneval merge STATE... --out DIR`",
    );
  }
  const name = ["logits", "probs", "probabilities"].find((n) => st.has(n));
  if (!name) {
    throw fail(
      path,
      `no tensor named logits, probs or probabilities (found ${
        st.names().join(", ")
      }). Store the ` +
        `[n, C] predictions under one of these names.`,
    );
  }
  const info = st.info(name);
  if (info.shape.length !== 2) {
    throw fail(path, `tensor ${name} has shape [${info.shape}], expected [n, C]`);
  }
  const raw = await st.read(name);
  // Checked by resolveKind, naming the row.
  const values = raw instanceof Float64Array
    ? raw
    : await st.readF32(name, { allowNonFinite: true });
  let labels: Int32Array | null = null;
  if (st.has("labels")) labels = toLabels(Array.from(npyLike(await st.read("labels"))), path);
  return {
    values,
    C: info.shape[1],
    labels,
    named: name === "logits" ? "logits" as const : "probs" as const,
  };
}

function npyLike(a: ArrayLike<number | bigint>): number[] {
  return Array.from(a as ArrayLike<number>, (v) => Number(v));
}

async function readNpyPredictions(path: string) {
  const a = await readNpy(path);
  if (a.shape.length !== 2) throw fail(path, `array has shape [${a.shape}], expected [n, C]`);
  const values = a.data instanceof Float32Array ? a.data : npyToF64(a);
  const lower = basename(path).toLowerCase();
  const named = lower.includes("logit")
    ? "logits" as const
    : lower.includes("prob")
    ? "probs" as const
    : null;
  return { values, C: a.shape[1], labels: null, named };
}

/** Labels must be integers that an Int32Array holds without wrapping. */
function checkLabel(v: number, file: string, where: string): number {
  if (!Number.isInteger(v)) throw fail(file, `${where}: label ${v} is not an integer class index`);
  if (v < -(2 ** 31) || v >= 2 ** 31) {
    throw fail(file, `${where}: label ${v} is not a class index (beyond the 32-bit range)`);
  }
  return v;
}

function toLabels(values: number[], file: string): Int32Array {
  const out = new Int32Array(values.length);
  values.forEach((v, i) => (out[i] = checkLabel(v, file, `row ${i + 1}`)));
  return out;
}

/** Reads a labels file (.npy, .safetensors, .json array, or text / CSV with one label per line). */
export async function readLabels(path: string): Promise<Int32Array> {
  if (!exists(path)) throw fail(path, "labels file not found. Check the --labels path.");
  const ext = extname(path).toLowerCase();
  if (ext === ".npy") return toLabels(Array.from(npyToF64(await readNpy(path))), path);
  if (ext === ".safetensors") {
    using st = await SafetensorsFile.open(path);
    if (!st.has("labels")) throw fail(path, "no tensor named labels");
    return toLabels(npyLike(await st.read("labels")), path);
  }
  const text = await Deno.readTextFile(path);
  if (ext === ".json") {
    const arr = JSON.parse(text);
    if (!Array.isArray(arr)) throw fail(path, "expected a JSON array of class indices");
    const bad = arr.findIndex((v) => typeof v !== "number");
    if (bad >= 0) {
      throw fail(path, `entry ${bad + 1}: ${JSON.stringify(arr[bad])} is not a class index`);
    }
    return toLabels(arr, path);
  }
  const out: number[] = [];
  let col = 0;
  readCsvRecords(text).forEach(({ fields: raw, line }, i) => {
    const fields = raw.map((f) => f.trim());
    if (i === 0 && isNaN(Number(fields[0])) || (i === 0 && fields.some((f) => f === "label"))) {
      col = Math.max(0, fields.indexOf("label"));
      return;
    }
    const v = Number(fields[col]);
    if (fields[col] === "" || !Number.isInteger(v)) {
      throw fail(path, `line ${line}: "${fields[col]}" is not an integer class index`);
    }
    out.push(checkLabel(v, path, `line ${i + 1}`));
  });
  return Int32Array.from(out);
}

/** The rows read from a predictions file as one [n, C] table with checked labels. */
function predictionTable(
  path: string,
  rows: number[][],
  labels: number[],
  lineOf: number[],
  C: number,
  named: MetricInputKind | null,
) {
  if (rows.length === 0) throw fail(path, "no prediction rows");
  const values = new Float64Array(rows.length * C);
  rows.forEach((r, i) => values.set(r, i * C));
  return { values, C, labels: rowLabels(labels, lineOf, C, path), named };
}

function readCsv(path: string) {
  const text = Deno.readTextFileSync(path);
  const sep = extname(path).toLowerCase() === ".tsv" ? "\t" : ",";
  let named: MetricInputKind | null = null;
  let C = -1;
  const labels: number[] = [];
  const rows: number[][] = [];
  const lineOf: number[] = [];
  readCsvRecords(text, { separator: sep }).forEach(({ fields: raw, line }) => {
    const fields = raw.map((f) => f.trim());
    if (rows.length === 0 && C < 0 && isNaN(Number(fields[0]))) {
      // Header: `label,p_0,...` / `label,prob_0,...` / `label,logit_0,...`.
      const first = fields[0].toLowerCase();
      if (["path", "file", "filename", "image", "img"].includes(first)) {
        // eval's own predictions.csv is the likeliest file to be passed here.
        const ours = fields.includes("pred") && fields.includes("confidence");
        throw fail(
          path,
          `line ${line}: the first column is "${fields[0]}", but a predictions CSV is ` +
            `label,p_0,...,p_{C-1} (or logit_0,...) with one score per class` +
            (ours
              ? `; this is eval's predictions.csv, which holds no per-class scores: the ` +
                `run's metrics are recomputed from its state with \`visioneval merge ` +
                `RUN/state.safetensors --out DIR\``
              : ""),
        );
      }
      const h = fields.slice(1).join(" ").toLowerCase();
      named = h.includes("logit")
        ? "logits"
        : /(^|\s)(p|prob|probs|probability)[_\s]?\d/.test(h)
        ? "probs"
        : null;
      C = fields.length - 1;
      return;
    }
    if (C < 0) C = fields.length - 1;
    if (fields.length - 1 !== C || C < 1) {
      throw fail(
        path,
        `line ${line}: ${fields.length} fields, expected ${C + 1} (label and ${C} values)`,
      );
    }
    const y = Number(fields[0]);
    if (!Number.isInteger(y) || fields[0] === "") {
      throw fail(path, `line ${line}: label "${fields[0]}" is not an integer class index`);
    }
    const row = fields.slice(1).map(Number);
    const bad = row.findIndex((v, k) => !Number.isFinite(v) || fields[k + 1] === "");
    if (bad >= 0) {
      throw fail(
        path,
        `line ${line}: value "${fields[bad + 1]}" in column ${bad + 1} is not a number`,
      );
    }
    labels.push(y);
    rows.push(row);
    lineOf.push(line);
  });
  return predictionTable(path, rows, labels, lineOf, C, named);
}

/** Checks label ranges with the file's line numbers. */
function rowLabels(labels: number[], lineOf: number[], C: number, path: string): Int32Array {
  labels.forEach((y, i) => {
    if (y < 0 || y >= C) {
      throw fail(path, `line ${lineOf[i]}: label ${y} is outside 0..${C - 1} (${C} classes)`);
    }
  });
  return Int32Array.from(labels);
}

function readJsonl(path: string) {
  const lines = Deno.readTextFileSync(path).split(/\r?\n/);
  let named: MetricInputKind | null = null;
  let C = -1;
  const labels: number[] = [];
  const rows: number[][] = [];
  const lineOf: number[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === "") return;
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line);
    } catch {
      throw fail(path, `line ${i + 1}: not valid JSON`);
    }
    const key = ["logits", "probs", "probabilities"].find((k) => Array.isArray(obj[k]));
    if (!key) throw fail(path, `line ${i + 1}: no "logits" or "probs" array`);
    const kind: MetricInputKind = key === "logits" ? "logits" : "probs";
    if (named && named !== kind) {
      throw fail(path, `line ${i + 1}: mixes "${key}" with the earlier lines' kind`);
    }
    named = kind;
    const raw = obj[key] as unknown[];
    // Only JSON numbers: null (how pandas writes NaN), strings and the like are errors, not 0.
    const bad = raw.findIndex((v) => typeof v !== "number");
    if (bad >= 0) {
      throw fail(
        path,
        `line ${i + 1}: value ${JSON.stringify(raw[bad]) ?? String(raw[bad])} in column ${bad} ` +
          `is not a number${raw[bad] === null ? " (NaN is written as null by pandas)" : ""}`,
      );
    }
    const row = raw as number[];
    if (C < 0) C = row.length;
    if (row.length !== C) throw fail(path, `line ${i + 1}: ${row.length} values, expected ${C}`);
    const y = obj.label;
    if (typeof y !== "number" || !Number.isInteger(y)) {
      throw fail(path, `line ${i + 1}: "label" must be an integer class index`);
    }
    labels.push(y);
    rows.push(row);
    lineOf.push(i + 1);
  });
  return predictionTable(path, rows, labels, lineOf, C, named);
}
