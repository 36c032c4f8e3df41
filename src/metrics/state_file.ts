/**
 * Metric state files (`state.safetensors`): a {@link MetricSnapshot} as
 * safetensors tensors (counts and sums as F64, which hold integers exactly up
 * to 2^53; per-sample records as I32 / F64; kept scores and logits as F32 or
 * F64) with the scalar fields in `__metadata__.visioneval_metric_state`.
 * Shard states written by `eval --shard` or `metrics` are combined by
 * `merge` ({@link mergeSnapshots}).
 */
import {
  parseSafetensorsBytes,
  type SafetensorsTensorData,
  writeSafetensors,
} from "../weights/safetensors.ts";
import { MetricsInputError } from "../errors.ts";
import { COUNT_FIELDS, type MetricSnapshot, validateSnapshot } from "./snapshot.ts";
import type { StateProvenance } from "./provenance.ts";

const META_KEY = "visioneval_metric_state";
/** Metadata key of the state's provenance (model, dataset, classes, samples held). */
const PROVENANCE_KEY = "visioneval_provenance";
/** Every array field of a snapshot that the file stores (one list with merge's). */
const ARRAY_FIELDS = [...COUNT_FIELDS, "confusion"] as const;

function tensor(data: Float64Array | Float32Array | Int32Array): SafetensorsTensorData {
  const dtype = data instanceof Float64Array ? "F64" : data instanceof Float32Array ? "F32" : "I32";
  return { dtype, shape: [data.length], data };
}

/** The tensors and metadata of a snapshot's file. */
export function encodeSnapshot(s: MetricSnapshot): {
  tensors: Record<string, SafetensorsTensorData>;
  metadata: Record<string, string>;
} {
  const tensors: Record<string, SafetensorsTensorData> = {};
  for (const f of ARRAY_FIELDS) {
    const a = s[f];
    if (a) tensors[f] = tensor(a);
  }
  if (s.samples) {
    tensors["samples.index"] = tensor(s.samples.index);
    tensors["samples.label"] = tensor(s.samples.label);
    tensors["samples.pred"] = tensor(s.samples.pred);
    tensors["samples.conf"] = tensor(s.samples.conf);
  }
  if (s.scores) tensors.scores = tensor(s.scores);
  if (s.logits) tensors.logits = tensor(s.logits);
  const meta = {
    format: s.format,
    version: s.version,
    numClasses: s.numClasses,
    calibrationBins: s.calibrationBins,
    scoreBins: s.scoreBins,
    input: s.input,
    temperature: s.temperature,
    numSamples: s.numSamples,
    nllSum: s.nllSum,
    brierSum: s.brierSum,
  };
  const metadata: Record<string, string> = { [META_KEY]: JSON.stringify(meta) };
  if (s.provenance) metadata[PROVENANCE_KEY] = JSON.stringify(s.provenance);
  return { tensors, metadata };
}

/** Writes a snapshot to `path` (safetensors). */
export async function saveSnapshot(path: string, s: MetricSnapshot): Promise<void> {
  const { tensors, metadata } = encodeSnapshot(s);
  await writeSafetensors(path, tensors, metadata);
}

/** Reads a snapshot written by {@link saveSnapshot}. */
export async function loadSnapshot(path: string): Promise<MetricSnapshot> {
  return decodeSnapshot(await readState(path), path);
}

async function readState(path: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (e) {
    throw new MetricsInputError(
      `${path}: cannot read the metric state (${
        (e as Error).message
      }). Pass the state.safetensors ` +
        `files written by eval/metrics.`,
    );
  }
}

/**
 * Reads the shard states to merge, refusing what would count samples twice:
 * the same file given twice, or two files with identical contents (the same
 * shard copied). Identical empty states (shards that got no images) are fine.
 */
export async function loadShardSnapshots(paths: readonly string[]): Promise<MetricSnapshot[]> {
  const byFile = new Map<string, string>();
  const byDigest = new Map<string, string>();
  const out: MetricSnapshot[] = [];
  for (const path of paths) {
    const real = await Deno.realPath(path).catch(() => path);
    const twin = byFile.get(real);
    if (twin !== undefined) {
      throw new MetricsInputError(
        `${path} is the same file as ${twin}: merging it twice would count its samples twice.`,
      );
    }
    byFile.set(real, path);
    const bytes = await readState(path);
    const snapshot = await decodeSnapshot(bytes, path);
    if (snapshot.numSamples > 0) {
      const digest = new Uint8Array(
        await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>),
      ).join(",");
      const copy = byDigest.get(digest);
      if (copy !== undefined) {
        throw new MetricsInputError(
          `${path} has the same contents as ${copy} (${snapshot.numSamples} samples): it is ` +
            `the same shard twice, and merging would count those samples twice.`,
        );
      }
      byDigest.set(digest, path);
    }
    out.push(snapshot);
  }
  return out;
}

/** Parses the bytes of a state file; `name` is used in messages. */
export async function decodeSnapshot(bytes: Uint8Array, name: string): Promise<MetricSnapshot> {
  const st = parseSafetensorsBytes(bytes, name);
  const raw = st.metadata[META_KEY];
  if (!raw) {
    throw new MetricsInputError(
      `${name}: not a visioneval metric state (no ${META_KEY} metadata). Pass the state.safetensors ` +
        `files written by eval/metrics.`,
    );
  }
  const json = (key: string, text: string) => {
    try {
      const v = JSON.parse(text);
      if (v !== null && typeof v === "object" && !Array.isArray(v)) return v;
    } catch {
      // reported below
    }
    throw new MetricsInputError(
      `${name}: metadata ${key} is not a JSON object: the state file is damaged; re-run the ` +
        `shard that wrote it.`,
    );
  };
  const meta = json(META_KEY, raw);
  if (meta.format !== "visioneval-metric-state" || meta.version !== 1) {
    throw new MetricsInputError(
      `${name}: unsupported metric state format ${meta.format} v${meta.version}`,
    );
  }
  const read = async (n: string) => st.has(n) ? await st.read(n) : null;
  const f64 = async (n: string) => {
    const a = await read(n);
    return a ? Float64Array.from(a as Float64Array) : null;
  };
  const s = { ...meta, samples: null, scores: null, logits: null } as MetricSnapshot;
  const prov = st.metadata[PROVENANCE_KEY];
  s.provenance = prov === undefined ? null : json(PROVENANCE_KEY, prov) as StateProvenance;
  for (const f of ARRAY_FIELDS) {
    const a = await f64(f);
    if (!a && f !== "confusion") throw new MetricsInputError(`${name}: tensor ${f} is missing`);
    (s as unknown as Record<string, Float64Array | null>)[f] = a;
  }
  const C = s.numClasses, B = s.calibrationBins, S = s.scoreBins;
  const sizes: Record<string, number> = {
    rankLower: 10,
    rankSklearn: 10,
    labelCount: C,
    predCount: C,
    truePositive: C,
    confusion: C * C,
    calibCount: B,
    calibConfSum: B,
    calibCorrect: B,
    classwiseCount: C * B,
    classwiseProbSum: C * B,
    classwisePositives: C * B,
    scoreAll: C * S,
    scorePositives: C * S,
  };
  for (const f of ARRAY_FIELDS) {
    const a = s[f];
    if (a && a.length !== sizes[f]) {
      throw new MetricsInputError(
        `${name}: tensor ${f} has ${a.length} values, expected ${sizes[f]} for ${C} classes: ` +
          `the state file is damaged; re-run the shard that wrote it.`,
      );
    }
  }
  if (st.has("samples.label")) {
    s.samples = {
      index: (await f64("samples.index"))!,
      label: (await read("samples.label")) as Int32Array,
      pred: (await read("samples.pred")) as Int32Array,
      conf: (await f64("samples.conf"))!,
    };
  }
  s.scores = (await read("scores")) as Float32Array | Float64Array | null;
  s.logits = (await read("logits")) as Float32Array | Float64Array | null;
  validateSnapshot(s, name);
  return s;
}
