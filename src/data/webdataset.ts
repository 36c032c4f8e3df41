/**
 * WebDataset shards: local tar files (`shard-{000000..000099}.tar`, brace
 * ranges and globs) whose members are grouped into samples by key (the
 * member path up to the first `.` of its file name). A sample's image is
 * its `jpg`, `jpeg`, `png` or `webp` member; its label comes from `cls`
 * (an integer), `json` (a field, `label` unless told; a dotted name such
 * as `annotation.label` reaches into nested objects) or `txt` (a class
 * name). Opening lists the headers and reads the small label members; the
 * images are read by offset while evaluating (bounded memory).
 */
import { basename, dirname, join, resolve } from "node:path";
import { DataError } from "../errors.ts";
import type { Dataset, DatasetItem, SkippedEntry } from "./datasets.ts";
import { expandGlob, naturalCompare } from "./datasets.ts";
import { recordName } from "./record_name.ts";
import { listTar, readTarMember, type TarMember } from "./tar.ts";

/** Options of {@link openWebDataset}. */
export interface WebDatasetOptions {
  /**
   * The field of each sample's `json` member that holds the label (default
   * "label"); a dotted name (`annotation.label`) reaches into nested objects.
   */
  labelField?: string;
}

/** Image members of a sample, in order of preference. */
export const WEBDATASET_IMAGE_EXTENSIONS: readonly string[] = ["jpg", "jpeg", "png", "webp"];

/** True for a path (or pattern) naming tar shards. */
export function isTarPath(path: string): boolean {
  return /\.tar$/i.test(path);
}

/**
 * Expands shell-style braces: `{000..012}` (zero-padded when the bounds
 * are), `{a,b}`; nested and repeated braces expand left to right.
 */
export function expandBraces(pattern: string): string[] {
  const m = /\{([^{}]*)\}/.exec(pattern);
  if (!m) return [pattern];
  const head = pattern.slice(0, m.index), tail = pattern.slice(m.index + m[0].length);
  const range = /^(\d+)\.\.(\d+)$/.exec(m[1]);
  let parts: string[];
  if (range) {
    const [a, b] = [Number(range[1]), Number(range[2])];
    const width = range[1].length === range[2].length ? range[1].length : 0;
    if (Math.abs(b - a) > 1_000_000) throw new DataError(`${pattern}: brace range too large`);
    const step = a <= b ? 1 : -1;
    parts = [];
    for (let i = a; step > 0 ? i <= b : i >= b; i += step) {
      parts.push(String(i).padStart(width, "0"));
    }
  } else if (m[1].includes(",")) parts = m[1].split(",");
  else {return expandBraces(head + "\u0000" + m[1] + "\u0001" + tail).map((s) =>
      s.replace("\u0000", "{").replace("\u0001", "}")
    );}
  return parts.flatMap((p) => expandBraces(head + p + tail));
}

/** The tar shards named by paths, brace patterns, globs or folders, in order. */
export function tarFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  const missing: string[] = [];
  for (const p of paths.flatMap(expandBraces)) {
    let st: Deno.FileInfo | null = null;
    try {
      st = Deno.statSync(p);
    } catch { /* a glob, or missing */ }
    if (st?.isDirectory) {
      const inDir = [...Deno.readDirSync(p)].filter((e) => e.isFile && isTarPath(e.name))
        .map((e) => join(resolve(p), e.name)).sort(naturalCompare);
      out.push(...inDir);
    } else if (st) out.push(resolve(p));
    else if (/[*?[]/.test(p)) {
      const m = expandGlob(p).filter(isTarPath);
      if (!m.length) missing.push(`${p} (pattern matches nothing)`);
      out.push(...m);
    } else missing.push(p);
  }
  if (missing.length) {
    throw new DataError(
      `WebDataset shard(s) not found: ${missing.slice(0, 5).join(", ")}${
        missing.length > 5 ? `, ... (${missing.length} in all)` : ""
      }`,
    );
  }
  if (!out.length) throw new DataError(`${paths.join(", ")}: no .tar shards found`);
  return [...new Set(out)];
}

/** Splits a member path into sample key and extension (`a/b.seg.png` -> `a/b`, `seg.png`). */
export function sampleKey(name: string): { key: string; ext: string } {
  const dir = dirname(name), file = basename(name);
  const dot = file.indexOf(".");
  const stem = dot < 0 ? file : file.slice(0, dot);
  return {
    key: dir === "." ? stem : `${dir}/${stem}`,
    ext: dot < 0 ? "" : file.slice(dot + 1).toLowerCase(),
  };
}

/**
 * A field of a sample's json: `field` as a key, else as a dotted path into
 * nested objects (`annotation.label`), as many datasets nest their labels.
 */
function jsonField(obj: unknown, field: string): unknown {
  const o = obj as Record<string, unknown> | null;
  if (o && typeof o === "object" && field in o) return o[field];
  return field.split(".").reduce<unknown>(
    (at, k) => (at && typeof at === "object" ? (at as Record<string, unknown>)[k] : undefined),
    obj,
  );
}

type RawLabel = { kind: "index"; value: number } | { kind: "name"; value: string };

/** A sample's label from its cls / json / txt member, or a reason it has none. */
function sampleLabel(
  file: string,
  members: Map<string, TarMember>,
  opts: WebDatasetOptions,
): RawLabel | string {
  const read = (ext: string) => new TextDecoder().decode(readTarMember(file, members.get(ext)!));
  const json = () => {
    const field = opts.labelField ?? "label";
    let obj: unknown;
    try {
      obj = JSON.parse(read("json"));
    } catch (e) {
      return `its json member is not JSON (${(e as Error).message})`;
    }
    const v = jsonField(obj, field);
    if (typeof v === "number" && Number.isInteger(v) && v >= 0) return { kind: "index", value: v };
    if (typeof v === "string" && v.trim()) return { kind: "name", value: v.trim() };
    return `its json member has no field "${field}" holding a class index or name` +
      (opts.labelField ? "" : " (name the field with --label-field)");
  };
  if (opts.labelField !== undefined) {
    return members.has("json") ? json() as RawLabel | string : "no json member (--label-field)";
  }
  if (members.has("cls")) {
    const s = read("cls").trim();
    if (!/^\d+$/.test(s)) return `its cls member "${s.slice(0, 40)}" is not a class index`;
    return { kind: "index", value: Number(s) };
  }
  if (members.has("json")) return json() as RawLabel | string;
  if (members.has("txt")) {
    const s = read("txt").trim();
    return s ? { kind: "name", value: s } : "its txt member is empty";
  }
  return "no cls, json or txt member to take the label from";
}

/** Opens WebDataset tar shards as a dataset (see the module comment). */
export function openWebDataset(
  paths: readonly string[],
  opts: WebDatasetOptions = {},
): Dataset {
  const files = tarFiles(paths);
  const raw: { path: string; slice: DatasetItem["slice"]; label: RawLabel }[] = [];
  const skipped: SkippedEntry[] = [];
  for (const file of files) {
    // Samples by key, in the order their first member appears.
    const samples = new Map<string, Map<string, TarMember>>();
    // Keys whose member repeats (`a.jpg` twice: keys written twice into one shard); no one
    // of the images can be told right, and keeping the last would drop the first unsaid.
    const repeated = new Map<string, string>();
    for (const m of listTar(file)) {
      const { key, ext } = sampleKey(m.name);
      if (!samples.has(key)) samples.set(key, new Map());
      if (samples.get(key)!.has(ext)) repeated.set(key, m.name);
      samples.get(key)!.set(ext, m);
    }
    for (const [key, members] of samples) {
      const path = recordName(file, key);
      if (repeated.has(key)) {
        skipped.push({
          path,
          reason:
            `the shard holds ${
              repeated.get(key)
            } more than once (a sample key must be unique within a shard): every sample of ` +
            `that key is skipped; write the shard with unique keys`,
        });
        continue;
      }
      const ext = WEBDATASET_IMAGE_EXTENSIONS.find((e) => members.has(e));
      if (!ext) {
        // `a.b.c.jpg` is key `a`, extension `b.c.jpg` (the WebDataset rule): say so, since
        // taking `b.c.jpg` as the image would merge `a.b.c.jpg` and `a.b.d.jpg` into one sample.
        const dotted = [...members.keys()].filter((e) =>
          WEBDATASET_IMAGE_EXTENSIONS.includes(e.slice(e.lastIndexOf(".") + 1))
        );
        skipped.push({
          path,
          reason: `no image member (${WEBDATASET_IMAGE_EXTENSIONS.join(", ")}); has ${
            [...members.keys()].join(", ")
          }${
            dotted.length
              ? ` (a key ends at the first dot of a member's file name, so ${key}.${
                dotted[0]
              } is key "${key}", extension "${dotted[0]}": rename members so that the only ` +
                `dot of the file name is the one before the extension)`
              : ""
          }`,
        });
        continue;
      }
      const label = sampleLabel(file, members, opts);
      if (typeof label === "string") {
        skipped.push({ path, reason: `no label: ${label}` });
        continue;
      }
      const m = members.get(ext)!;
      raw.push({ path, slice: { file, offset: m.offset, size: m.size }, label });
    }
  }
  const kinds = new Set(raw.map((r) => r.label.kind));
  if (kinds.size > 1) {
    throw new DataError(
      `${files[0]}: some samples are labelled by class index and others by name; ` +
        `use one kind of label (cls, or json/txt names)`,
    );
  }
  const byName = kinds.has("name");
  const classes = byName ? [...new Set(raw.map((r) => String(r.label.value)))].sort() : [];
  const index = new Map(classes.map((c, i) => [c, i]));
  const items: DatasetItem[] = raw.map((r) => ({
    path: r.path,
    slice: r.slice,
    label: r.label.kind === "name" ? index.get(r.label.value)! : r.label.value,
  }));
  return {
    kind: "webdataset",
    root: files.length === 1 ? files[0] : dirname(files[0]),
    items,
    labelKind: byName ? "name" : "index",
    classes,
    description: `WebDataset ${files.length} shard(s) (${basename(files[0])}${
      files.length > 1 ? ` ... ${basename(files.at(-1)!)}` : ""
    }): ${items.length} samples, labels ${
      byName ? `by name, ${classes.length} classes` : "are class indices"
    }${skipped.length ? ` (${skipped.length} samples skipped)` : ""}`,
    warnings: [],
    skipped,
  };
}
