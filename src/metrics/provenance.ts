/**
 * What a metric state is: the model (weights SHA-256), the dataset (path,
 * item count, a hash of the item list), the class names, the pipeline, the
 * shard, and the global sample indices the state holds (as ranges). `merge`
 * compares these before adding counts ({@link checkMergeable}): overlapping
 * samples (a shard plus the full run), different models, datasets, classes or
 * pipelines are refused with a message naming both files.
 *
 * States written before provenance existed (no `visioneval_provenance`
 * metadata) are still read; merging them warns that they cannot be checked,
 * and their sample indices, when kept, are still checked for overlap.
 */
import { createHash } from "node:crypto";
import { MetricsInputError } from "../errors.ts";
import type { MetricSnapshot } from "./snapshot.ts";

/** The provenance recorded in a metric state file. */
export interface StateProvenance {
  /** The command that wrote the state. */
  command: "eval" | "metrics" | "merge";
  /** The model, or null for states computed from stored predictions (`metrics`). */
  model: {
    /** Checkpoint path as given. */
    path: string;
    /** Architecture family. */
    architecture: string;
    /** SHA-256 (hex) of the weights file's bytes, or null when the file could not be found. */
    weightsSha256: string | null;
  } | null;
  /** The dataset, or null for `metrics` states. */
  dataset: {
    /** Dataset path(s) as given. */
    path: string | string[];
    /** Items in the whole dataset (all shards, after the class mapping). */
    items: number;
    /** SHA-256 (hex) of the item list: paths relative to their common folder, and labels. */
    itemsSha256: string;
  } | null;
  /** Predictions file(s) and SHA-256 of the first, for `metrics` states. */
  predictions?: { path: string[]; sha256: string } | null;
  /** Class names of the metric label space, or null when unknown. */
  classNames: string[] | null;
  /** The preprocessing pipeline in one line, or null. */
  pipeline: string | null;
  /** Shard i/n, or null. */
  shard: { index: number; count: number } | null;
  /** Global sample indices held, as sorted half-open ranges [start, end). */
  samples: [number, number][];
  /**
   * `eval` states: the images this shard skipped (path + reason), so that
   * `merge` lists them as one run would have. Absent in `metrics` states and
   * in states written before it was recorded.
   */
  failed?: { path: string; reason: string }[];
  /**
   * `eval` states: the analyses beside the metrics that the shard ran, so
   * that `merge` recomputes them over all samples from the merged logits
   * (calibration split, a calibrator) or says it cannot (TTA).
   */
  analyses?: StateAnalyses;
}

/** Analyses of an `eval` beside its metrics (see {@link StateProvenance.analyses}). */
export interface StateAnalyses {
  /** `--calibration-split`: fraction, seed, methods and bins. */
  calibrationSplit?: { fraction: number; seed: number; methods: string[]; bins: number };
  /** `--calibrator`: the file as given and its content (calibrator.json). */
  calibrator?: { file: string; json: unknown };
  /** `--tta`: the spec as described in metrics.json (`tta.spec`). */
  tta?: string;
}

/** Sorted, merged half-open ranges covering `indices` (duplicates collapse). */
export function indexRanges(indices: ArrayLike<number>): [number, number][] {
  const sorted = Float64Array.from(indices).sort();
  const out: [number, number][] = [];
  for (const v of sorted) {
    const last = out[out.length - 1];
    if (last && v <= last[1]) last[1] = Math.max(last[1], v + 1);
    else out.push([v, v + 1]);
  }
  return out;
}

/** Ranges sorted and joined where they touch or overlap. */
export function unionRanges(ranges: readonly (readonly [number, number])[]): [number, number][] {
  const sorted = ranges.map(([a, b]) => [a, b] as [number, number]).sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push(r);
  }
  return out;
}

/** Number of indices covered by ranges. */
function rangeCount(r: [number, number][]): number {
  return r.reduce((a, [s, e]) => a + e - s, 0);
}

/** SHA-256 (hex) of a file's bytes, streamed (never held in memory whole). */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  using file = await Deno.open(path, { read: true });
  const buf = new Uint8Array(4 << 20);
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
  }
  return hash.digest("hex");
}

/**
 * SHA-256 (hex) of a dataset's item list: each item's path relative to the
 * items' longest common folder, and its label, one per line. Relative paths
 * make shards agree when the dataset is mounted at different places.
 */
export function itemsSha256(items: readonly { path: string; label?: number }[]): string {
  let prefix = items.length ? items[0].path.slice(0, items[0].path.lastIndexOf("/") + 1) : "";
  for (const it of items) {
    while (prefix && !it.path.startsWith(prefix)) {
      prefix = prefix.slice(0, prefix.lastIndexOf("/", prefix.length - 2) + 1);
    }
  }
  const hash = createHash("sha256");
  for (const it of items) hash.update(`${it.path.slice(prefix.length)}\t${it.label ?? ""}\n`);
  return hash.digest("hex");
}

/** A snapshot with the name it is known by in messages (its file). */
export interface NamedSnapshot {
  /** The file (or label) the snapshot came from. */
  name: string;
  /** The snapshot. */
  snapshot: MetricSnapshot;
}

const short = (h: string | null | undefined) => (h ? h.slice(0, 12) : "unknown");

/**
 * Checks that states can be merged: the same model, dataset, class names
 * and pipeline wherever both record them (a state from `eval` cannot merge
 * with one from `metrics`, which records no model), and no sample held by
 * two states. Throws a {@link MetricsInputError} naming both files; returns
 * warnings about states that record no provenance.
 */
export function checkMergeable(parts: readonly NamedSnapshot[]): string[] {
  const warnings: string[] = [];
  const withProv = parts.filter((p) => p.snapshot.provenance);
  for (const p of parts) {
    if (!p.snapshot.provenance && withProv.length < parts.length) {
      warnings.push(
        `${p.name} records no provenance (written by an older visioneval): merge cannot check ` +
          `that it comes from the same model and dataset as the others` +
          (p.snapshot.samples ? "" : ", nor that its samples do not overlap theirs"),
      );
    }
  }
  const refuse = (a: NamedSnapshot, b: NamedSnapshot, what: string) => {
    throw new MetricsInputError(
      `cannot merge ${b.name} with ${a.name}: ${what}. Only shards of one evaluation (same ` +
        `model, dataset, classes and pipeline, disjoint samples) can be merged.`,
    );
  };
  const first = withProv[0];
  for (const b of withProv.slice(1)) {
    const pa = first.snapshot.provenance!, pb = b.snapshot.provenance!;
    if ((pa.model === null) !== (pb.model === null)) {
      const [e, m] = pa.model ? [first, b] : [b, first];
      refuse(
        first,
        b,
        `${e.name} was written by \`eval\` for model ${e.snapshot.provenance!.model!.path}, ` +
          `${m.name} by \`${m.snapshot.provenance!.command}\` from stored predictions of an ` +
          `unknown model`,
      );
    }
    if (
      pa.model && pb.model &&
      (pa.model.weightsSha256 !== pb.model.weightsSha256 ||
        pa.model.architecture !== pb.model.architecture)
    ) {
      refuse(
        first,
        b,
        `different models: ${first.name} used ${pa.model.path} (${pa.model.architecture}, ` +
          `weights sha256 ${short(pa.model.weightsSha256)}), ${b.name} used ${pb.model.path} ` +
          `(${pb.model.architecture}, weights sha256 ${short(pb.model.weightsSha256)})`,
      );
    }
    if (
      pa.dataset && pb.dataset &&
      (pa.dataset.items !== pb.dataset.items || pa.dataset.itemsSha256 !== pb.dataset.itemsSha256)
    ) {
      refuse(
        first,
        b,
        `different datasets: ${first.name} has ${JSON.stringify(pa.dataset.path)} ` +
          `(${pa.dataset.items} items, list sha256 ${short(pa.dataset.itemsSha256)}), ${b.name} ` +
          `has ${JSON.stringify(pb.dataset.path)} (${pb.dataset.items} items, list sha256 ` +
          `${short(pb.dataset.itemsSha256)})`,
      );
    }
    if (
      pa.classNames && pb.classNames &&
      JSON.stringify(pa.classNames) !== JSON.stringify(pb.classNames)
    ) {
      const i = pa.classNames.findIndex((n, k) => n !== pb.classNames![k]);
      refuse(
        first,
        b,
        `different class names (${pa.classNames.length} vs ${pb.classNames.length} classes; ` +
          `class ${i}: ${JSON.stringify(pa.classNames[i])} vs ${JSON.stringify(pb.classNames[i])})`,
      );
    }
    if (pa.pipeline && pb.pipeline && pa.pipeline !== pb.pipeline) {
      refuse(first, b, `different pipelines ("${pa.pipeline}" vs "${pb.pipeline}")`);
    }
  }
  // Disjoint samples: from the provenance, else from the kept sample indices.
  const spans: { start: number; end: number; part: NamedSnapshot }[] = [];
  for (const p of parts) {
    const ranges = p.snapshot.provenance?.samples ??
      (p.snapshot.samples ? indexRanges(p.snapshot.samples.index) : []);
    for (const [start, end] of ranges) spans.push({ start, end, part: p });
  }
  spans.sort((x, y) => x.start - y.start || x.end - y.end);
  let reach = spans[0];
  for (const s of spans.slice(1)) {
    if (s.start < reach.end) {
      refuse(
        reach.part,
        s.part,
        `both hold sample ${s.start} (${reach.part.name}: samples ${reach.start}..${
          reach.end - 1
        }, ${s.part.name}: ${s.start}..${s.end - 1}), which would be counted twice. Merge ` +
          `each shard once (not a shard together with a run over all the data); for ` +
          `\`metrics\` runs over parts of one file, give each part its --sample-offset`,
      );
    }
    if (s.end > reach.end) reach = s;
  }
  return warnings;
}

/**
 * Checks a state's provenance against its own counts: the sample ranges
 * cover exactly `numSamples` indices, and match the kept sample indices.
 */
export function checkProvenance(s: MetricSnapshot, name: string): void {
  const p = s.provenance;
  if (!p) return;
  const damaged = (what: string) =>
    new MetricsInputError(
      `${name}: ${what}: the state file is damaged or was edited; re-run the shard that wrote it.`,
    );
  if (
    !Array.isArray(p.samples) ||
    !p.samples.every((r) =>
      Array.isArray(r) && r.length === 2 && Number.isSafeInteger(r[0]) &&
      Number.isSafeInteger(r[1]) && r[0] >= 0 && r[1] > r[0]
    )
  ) {
    throw damaged(`its provenance has malformed sample ranges`);
  }
  const union = unionRanges(p.samples);
  if (rangeCount(union) !== rangeCount(p.samples)) {
    throw damaged(`its provenance lists overlapping sample ranges`);
  }
  const count = rangeCount(union);
  if (count !== s.numSamples) {
    throw damaged(
      `its provenance lists ${count} sample indices but it counts ${s.numSamples} samples`,
    );
  }
  if (s.samples) {
    const kept = indexRanges(s.samples.index);
    if (s.samples.index.length !== count || JSON.stringify(kept) !== JSON.stringify(union)) {
      throw damaged(`its kept sample indices do not match the ranges its provenance lists`);
    }
  }
}

/** The parts' skipped images, parts ordered by their first sample index. */
function failedInOrder(parts: readonly MetricSnapshot[]): { path: string; reason: string }[] {
  const first = (p: MetricSnapshot) => p.provenance!.samples[0]?.[0] ?? Infinity;
  return [...parts].sort((a, b) => first(a) - first(b)).flatMap((p) => p.provenance!.failed ?? []);
}

/**
 * The provenance of a merge of `parts` (already checked): the shared
 * model / dataset / classes / pipeline and the union of the sample ranges;
 * null when some part records none.
 */
export function mergedProvenance(parts: readonly MetricSnapshot[]): StateProvenance | null {
  if (parts.length === 0 || parts.some((p) => !p.provenance)) return null;
  const f = parts[0].provenance!;
  const allSame = <T>(get: (p: StateProvenance) => T) =>
    parts.every((p) => JSON.stringify(get(p.provenance!)) === JSON.stringify(get(f)))
      ? get(f)
      : null;
  return {
    command: "merge",
    model: f.model,
    dataset: f.dataset,
    predictions: allSame((p) => p.predictions ?? null),
    classNames: f.classNames,
    pipeline: f.pipeline,
    shard: null,
    samples: unionRanges(parts.flatMap((p) => p.provenance!.samples)),
    // Skipped images in sample order of the parts (shard order), as one run lists them.
    ...(parts.some((p) => p.provenance!.failed) ? { failed: failedInOrder(parts) } : {}),
    // Kept only when every shard ran the same analyses (merge warns otherwise).
    ...(allSame((p) => p.analyses ?? null) ? { analyses: f.analyses } : {}),
  };
}
