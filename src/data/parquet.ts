/**
 * Hugging Face parquet datasets: one or more `.parquet` files, a glob, or a
 * dataset folder (`cifar10/plain_text/` with `test-00000-of-00001.parquet`,
 * `train-...`; the split is picked with `split`). Opening reads only the
 * footers, the label column and the stored image paths; the image bytes are
 * read row group by row group while evaluating (see parquet_rows.ts).
 *
 * Columns: the image column is the `datasets` Image feature (a struct of
 * `bytes` and `path`) or a plain binary column; the label column is the
 * ClassLabel feature or the only integer column (or a string column named
 * with `labelColumn`). Class names come from the ClassLabel `names` in the
 * file's `huggingface` metadata, so classes map to the model's by name as
 * folder names do.
 */
import { basename, dirname, extname, join, resolve } from "node:path";
import type { AsyncBuffer, FileMetaData, SchemaElement } from "hyparquet";
import { DataError } from "../errors.ts";
import type { Dataset, DatasetItem, SkippedEntry } from "./datasets.ts";
import { expandGlob, IMAGE_EXTENSIONS, naturalCompare } from "./datasets.ts";
import { readParquetColumn, readParquetMetadata } from "./parquet_rows.ts";
import { recordName } from "./record_name.ts";

/** Options of {@link openParquetDataset}. */
export interface ParquetDatasetOptions {
  /** Which split of a dataset folder or file list (`test`, `validation`, ...). */
  split?: string;
  /** The image column (default: the Image feature, else the only binary column). */
  imageColumn?: string;
  /** The label column (default: the ClassLabel feature, else the only integer column). */
  labelColumn?: string;
}

/** True for a path (or glob) naming parquet files. */
export function isParquetPath(path: string): boolean {
  return /\.parquet$/i.test(path);
}

/** True when `dir` holds parquet files (up to 4 folders down). */
export function folderHoldsParquet(dir: string): boolean {
  return parquetFilesUnder(dir).length > 0;
}

/**
 * Parquet files under `dir`, up to 4 folders down. A folder with an image
 * file in it is a class folder, not part of a parquet download: its listing
 * stops there, so probing a large ImageFolder reads one entry or so per class.
 */
function parquetFilesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    const here: string[] = [], subs: string[] = [];
    try {
      for (const e of Deno.readDirSync(d)) {
        if (e.name.startsWith(".")) continue;
        if (e.isFile && IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase())) return;
        const p = join(d, e.name);
        if (e.isDirectory && depth < 4) subs.push(p);
        else if (e.isFile && isParquetPath(e.name)) here.push(p);
      }
    } catch {
      return;
    }
    out.push(...here);
    for (const s of subs) walk(s, depth + 1);
  };
  walk(dir, 0);
  return out;
}

/**
 * The split a file belongs to: the name before the first `-` or `.`
 * (`test-00000-of-00001.parquet` -> test), or the folder name for numbered
 * files (`test/0000.parquet`, the Hub's converted layout).
 */
export function parquetSplit(file: string): string {
  const name = basename(file).replace(/\.parquet$/i, "");
  const head = name.split(/[-.]/)[0];
  return /^\d*$/.test(head) ? basename(dirname(file)) : head;
}

/** The parquet files of a source, in natural order, the split chosen. */
export function parquetFiles(paths: readonly string[], split?: string): string[] {
  const found: string[] = [];
  for (const p of paths) {
    let st: Deno.FileInfo | null = null;
    try {
      st = Deno.statSync(p);
    } catch { /* a glob, or missing */ }
    if (st?.isDirectory) found.push(...parquetFilesUnder(resolve(p)));
    else if (st) found.push(resolve(p));
    else if (/[*?[]/.test(p)) {
      const m = expandGlob(p).filter(isParquetPath);
      if (!m.length) throw new DataError(`${p}: the pattern matches no .parquet file`);
      found.push(...m);
    } else throw new DataError(`dataset ${p} does not exist`);
  }
  const files = [...new Set(found)].sort(naturalCompare);
  if (!files.length) throw new DataError(`${paths.join(", ")}: no .parquet files found`);
  const splits = [...new Set(files.map(parquetSplit))].sort();
  if (split !== undefined) {
    const chosen = files.filter((f) => parquetSplit(f) === split);
    if (!chosen.length) {
      throw new DataError(
        `${paths.join(", ")}: no parquet files of split "${split}"; splits found: ${
          splits.join(", ")
        }`,
      );
    }
    return chosen;
  }
  if (splits.length > 1) {
    throw new DataError(
      `${paths.join(", ")} holds several splits (${splits.join(", ")}); ` +
        `pick one with --split (e.g. --split ${splits.includes("test") ? "test" : splits[0]})`,
    );
  }
  return files;
}

/** The `datasets` features recorded in a file's `huggingface` metadata, if any. */
function hfFeatures(metadata: FileMetaData): Record<string, Record<string, unknown>> {
  const kv = metadata.key_value_metadata?.find((k) => k.key === "huggingface");
  if (!kv?.value) return {};
  try {
    const info = JSON.parse(kv.value)?.info;
    return (info?.features && typeof info.features === "object") ? info.features : {};
  } catch {
    return {};
  }
}

interface Column {
  name: string;
  element: SchemaElement;
  /** Leaf children of a struct column (names). */
  children: string[];
}

/** Top-level columns of a schema (flat list, depth first). */
function topColumns(schema: SchemaElement[]): Column[] {
  const out: Column[] = [];
  let i = 1;
  const skip = (at: number): number => {
    let next = at + 1;
    for (let c = 0; c < (schema[at].num_children ?? 0); c++) next = skip(next);
    return next;
  };
  for (let c = 0; c < (schema[0].num_children ?? 0); c++) {
    const el = schema[i];
    const children: string[] = [];
    let j = i + 1;
    for (let k = 0; k < (el.num_children ?? 0); k++) {
      children.push(schema[j].name);
      j = skip(j);
    }
    out.push({ name: el.name, element: el, children });
    i = skip(i);
  }
  return out;
}

const isBinary = (c: Column) =>
  c.element.type === "BYTE_ARRAY" && !c.element.converted_type && !c.element.logical_type;
const isInteger = (c: Column) =>
  (c.element.type === "INT32" || c.element.type === "INT64") &&
  !c.element.converted_type?.startsWith("TIME") &&
  c.element.converted_type !== "DATE";
const isString = (c: Column) =>
  c.element.type === "BYTE_ARRAY" &&
  (c.element.converted_type === "UTF8" || c.element.logical_type?.type === "STRING");

function pickColumn(
  file: string,
  columns: Column[],
  what: string,
  option: string,
  given: string | undefined,
  candidates: Column[],
): Column | undefined {
  const names = columns.map((c) => c.name).join(", ");
  if (given !== undefined) {
    const c = columns.find((c) => c.name === given);
    if (!c) throw new DataError(`${file} has no column "${given}" (${option}); columns: ${names}`);
    return c;
  }
  if (candidates.length > 1) {
    throw new DataError(
      `${file}: ${candidates.length} columns could be the ${what} (${
        candidates.map((c) => c.name).join(", ")
      }); name one with ${option}`,
    );
  }
  return candidates[0];
}

/** The image and label columns of a file, and the class names. */
function fileColumns(file: string, metadata: FileMetaData, opts: ParquetDatasetOptions) {
  const columns = topColumns(metadata.schema);
  const features = hfFeatures(metadata);
  const typed = (t: string) => columns.filter((c) => features[c.name]?._type === t);
  const imageCandidates = typed("Image").length
    ? typed("Image")
    : columns.filter((c) => c.children.includes("bytes")).length
    ? columns.filter((c) => c.children.includes("bytes"))
    : columns.filter(isBinary);
  const image = pickColumn(
    file,
    columns,
    "image",
    "--image-column",
    opts.imageColumn,
    imageCandidates,
  );
  if (!image) {
    throw new DataError(
      `${file}: no image column (an Image feature, a struct with "bytes", or a binary column); ` +
        `columns: ${columns.map((c) => c.name).join(", ")}; name it with --image-column`,
    );
  }
  const holdsBytes = image.children.length
    ? image.children.includes("bytes")
    : image.element.type === "BYTE_ARRAY";
  if (!holdsBytes) {
    throw new DataError(
      `${file}: column "${image.name}" holds no image bytes (need binary, or a struct with "bytes")`,
    );
  }
  const labelCandidates = typed("ClassLabel").length
    ? typed("ClassLabel")
    : columns.filter((c) => c !== image && !c.children.length && isInteger(c));
  const label = pickColumn(
    file,
    columns,
    "label",
    "--label-column",
    opts.labelColumn,
    labelCandidates,
  );
  if (label && (label.children.length || !(isInteger(label) || isString(label)))) {
    throw new DataError(
      `${file}: label column "${label.name}" must hold integers or strings; name another with ` +
        `--label-column`,
    );
  }
  const names = label ? features[label.name]?.names : undefined;
  const classes = Array.isArray(names) ? names.map(String) : undefined;
  // String columns are never taken as labels unasked (an `image_id` is a string too), but
  // an unlabelled file must say which could be, or `eval` refuses without a way out.
  const stringColumns = label ? [] : columns.filter((c) => c !== image && isString(c));
  return { image, label, classes, stringColumns };
}

/**
 * A copy of the footer that sees only the `path` leaf of a struct image
 * column, so the stored paths are read without the image bytes beside them
 * (hyparquet selects top-level columns; this narrows one to a leaf).
 */
function pathOnly(metadata: FileMetaData, image: Column): FileMetaData | null {
  if (!image.children.includes("path")) return null;
  const at = metadata.schema.findIndex((e, i) => i > 0 && e === image.element);
  const kids = metadata.schema.slice(at + 1, at + 1 + image.children.length);
  if (kids.some((k) => k.num_children)) return null; // nested children: leave it
  const schema = [
    ...metadata.schema.slice(0, at),
    { ...image.element, num_children: 1 },
    kids.find((k) => k.name === "path")!,
    ...metadata.schema.slice(at + 1 + kids.length),
  ];
  const row_groups = metadata.row_groups.map((g) => ({
    ...g,
    columns: g.columns.filter((c) => {
      const p = c.meta_data?.path_in_schema ?? [];
      return p[0] !== image.name || p[1] === "path";
    }),
  }));
  return { ...metadata, schema, row_groups };
}

/** Every row group's [start, end) rows. */
function groupRanges(metadata: FileMetaData): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (const g of metadata.row_groups) {
    const n = Number(g.num_rows);
    out.push([start, start + n]);
    start += n;
  }
  return out;
}

/** Reads a column row group by row group (bounded memory), concatenated. */
async function columnValues(
  file: string,
  source: { buffer: AsyncBuffer; metadata: FileMetaData },
  column: string,
): Promise<unknown[]> {
  const out: unknown[] = [];
  for (const [s, e] of groupRanges(source.metadata)) {
    for (const v of await readParquetColumn(file, source, column, s, e)) out.push(v);
  }
  return out;
}

/** Opens parquet files as a dataset (see the module comment). */
export async function openParquetDataset(
  paths: readonly string[],
  opts: ParquetDatasetOptions = {},
): Promise<Dataset> {
  const files = parquetFiles(paths, opts.split);
  const items: DatasetItem[] = [];
  const skipped: SkippedEntry[] = [];
  let classes: string[] | undefined;
  let columns: { image: string; label?: string } | undefined;
  let stringColumns: string[] = [];
  const raw: { file: string; row: number; stored?: string; label: unknown }[] = [];
  for (const file of files) {
    const source = await readParquetMetadata(file);
    const cols = fileColumns(file, source.metadata, opts);
    const here = { image: cols.image.name, label: cols.label?.name };
    if (columns && (columns.image !== here.image || columns.label !== here.label)) {
      throw new DataError(
        `${file}: image/label columns "${here.image}"/"${here.label}" differ from the first ` +
          `file's "${columns.image}"/"${columns.label}"; pass files of one dataset`,
      );
    }
    columns = here;
    stringColumns = cols.stringColumns.map((c) => c.name);
    if (cols.classes) {
      if (classes && classes.join("\n") !== cols.classes.join("\n")) {
        throw new DataError(`${file}: ClassLabel names differ from the first file's`);
      }
      classes = cols.classes;
    }
    const labels = cols.label
      ? await columnValues(file, source, cols.label.name)
      : new Array(Number(source.metadata.num_rows)).fill(undefined);
    const narrowed = pathOnly(source.metadata, cols.image);
    const stored = narrowed
      ? await columnValues(file, { buffer: source.buffer, metadata: narrowed }, cols.image.name)
      : [];
    labels.forEach((label, row) => {
      const s = (stored[row] as { path?: unknown } | undefined)?.path;
      raw.push({ file, row, stored: typeof s === "string" && s ? s : undefined, label });
    });
  }
  // Labels: ClassLabel indices into `classes`, bare integers (class indices), or names.
  const strings = raw.some((r) => typeof r.label === "string");
  const names = strings
    ? [...new Set(raw.flatMap((r) => (typeof r.label === "string" ? [r.label] : [])))].sort()
    : [];
  const nameIndex = new Map(names.map((n, i) => [n, i]));
  for (const r of raw) {
    const path = recordName(r.file, r.row, r.stored);
    const parquet = { file: r.file, row: r.row, column: columns!.image };
    if (!columns!.label) {
      items.push({ path, parquet });
      continue;
    }
    const v = typeof r.label === "bigint" ? Number(r.label) : r.label;
    if (v === null || v === undefined || (typeof v === "number" && v < 0)) {
      // The `datasets` convention for an unlabelled row is -1.
      skipped.push({ path, reason: `no label (${v ?? "null"} in column "${columns!.label}")` });
    } else if (typeof v === "string") {
      items.push({ path, parquet, label: nameIndex.get(v)! });
    } else if (strings || !Number.isInteger(v)) {
      throw new DataError(`${r.file} row ${r.row}: label ${v} mixes with string labels`);
    } else if (classes && (v as number) >= classes.length) {
      throw new DataError(
        `${r.file} row ${r.row}: label ${v} but the ClassLabel names ${classes.length} classes`,
      );
    } else items.push({ path, parquet, label: v as number });
  }
  const labelKind = !columns!.label ? "none" : strings || classes ? "name" : "index";
  const classNames = strings ? names : classes ?? [];
  const splitNote = opts.split ? ` (split ${opts.split})` : "";
  return {
    kind: "parquet",
    root: files.length === 1 ? files[0] : dirname(files[0]),
    items,
    labelKind,
    classes: classNames,
    description: `parquet ${files.map((f) => basename(f)).join(", ")}${splitNote}: ${raw.length} ` +
      `rows, image column "${columns!.image}"${
        columns!.label
          ? `, label column "${columns!.label}"${
            classes ? ` (ClassLabel, ${classes.length} classes)` : ""
          }`
          : `, unlabelled (no ClassLabel or integer column${
            stringColumns.length
              ? `; string column(s) ${
                stringColumns.join(", ")
              } could hold class names: name one with --label-column`
              : ""
          })`
      }${skipped.length ? ` (${skipped.length} rows without a label)` : ""}`,
    warnings: [],
    skipped,
  };
}
