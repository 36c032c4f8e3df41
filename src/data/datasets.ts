/**
 * Datasets: turn what the user points at into a list of items
 * `{path, label?}` before any GPU work, so that every problem with the
 * dataset itself (missing folder, empty dataset, labels file naming missing
 * images, malformed CIFAR batch) is a clear DataError up front. Per-image
 * problems (corrupt files) are found later by the loader and reported.
 *
 * Supported:
 * - ImageFolder: one sub-folder per class, classes sorted by name, images
 *   found recursively (torchvision's ImageFolder rules);
 * - a labels CSV `path,label[,...]`, label as class index or class name,
 *   paths relative to the CSV, or to the --data folder when they are not all
 *   found beside the CSV (extra columns allowed; a `name` column next to
 *   numeric labels gives the classes names);
 * - CIFAR-10 / CIFAR-100 binary batches (a folder or one `.bin` file);
 * - a single image, a list of images, or glob patterns (unlabelled).
 */
import { basename, dirname, extname, isAbsolute, join, relative, resolve } from "node:path";
import { DataError } from "../errors.ts";
import { readCsvRecords } from "../csv.ts";
import { notRegularFileReason, requireRegularFile } from "../files.ts";
import type { RgbImage } from "./resize.ts";
import type { ParquetRowRef } from "./parquet_rows.ts";
import { recordName } from "./record_name.ts";

/** Extensions treated as images (torchvision's IMG_EXTENSIONS). */
export const IMAGE_EXTENSIONS: readonly string[] = [
  ".jpg",
  ".jpeg",
  ".png",
  ".ppm",
  ".bmp",
  ".pgm",
  ".tif",
  ".tiff",
  ".webp",
];

/** A raw CIFAR record inside a binary batch file. */
export interface CifarRecord {
  /** Batch file. */
  file: string;
  /** Byte offset of the 3072 pixel bytes (after the label bytes). */
  offset: number;
}

/** Bytes of a larger file (a tar member): where one encoded image is. */
export interface FileSlice {
  /** The containing file. */
  file: string;
  /** Byte offset of the first byte. */
  offset: number;
  /** Number of bytes. */
  size: number;
}

/** One sample of a dataset. */
export interface DatasetItem {
  /**
   * Image file, or a record name `FILE#RECORD` for an image inside a CIFAR
   * batch, parquet file or tar shard (see record_name.ts).
   */
  path: string;
  /**
   * Label: an index into {@link Dataset.classes} when the dataset names its
   * classes, else a bare class index (labelKind "index"); absent if unlabelled.
   */
  label?: number;
  /** Where the pixels are when the item is a CIFAR record, not a file. */
  record?: CifarRecord;
  /** Where the encoded image is when it is a member of a tar shard (WebDataset). */
  slice?: FileSlice;
  /** Where the encoded image is when it is a parquet row. */
  parquet?: ParquetRowRef;
  /**
   * The encoded image, already read: the loader attaches parquet rows' bytes
   * (read in order, one row group at a time) before a batch goes to a worker.
   */
  bytes?: Uint8Array;
  /** Why the item's bytes could not be read (set by the loader; the item is listed as failed). */
  unreadable?: string;
}

/** True when the item's image is inside another file (no file of its own). */
export function isRecordItem(item: DatasetItem): boolean {
  return Boolean(item.record || item.slice || item.parquet || item.bytes);
}

/** What a dataset's labels are. */
export type LabelKind = "name" | "index" | "none";

/** A dataset: items plus what their labels mean. */
export interface Dataset {
  /** Which reader produced it. */
  kind:
    | "imagefolder"
    | "csv"
    | "cifar10"
    | "cifar100"
    | "images"
    | "parquet"
    | "webdataset"
    | "groundtruth";
  /** The path the user gave (resolved). */
  root: string;
  /** Samples in a deterministic order. */
  items: DatasetItem[];
  /**
   * "name": labels index `classes`; "index": labels are class indices (of the
   * model, by default) and `classes` may name some of them; "none": unlabelled.
   */
  labelKind: LabelKind;
  /** Class names by label (may contain "" where an index has no name). */
  classes: string[];
  /** One line saying what was found, for logs. */
  description: string;
  /** Non-fatal observations (empty class folders, ...). */
  warnings: string[];
  /**
   * What reading the dataset inferred without being told (a devkit meta.mat
   * found beside the ground truth, ...): printed in the run header.
   */
  notes?: string[];
  /**
   * Entries the scan found and could not use, each with the reason: FIFOs,
   * sockets and devices with an image name, dangling or looping symbolic
   * links, image formats ImageFolder does not list (GIF, ...). An evaluation
   * lists them in `failed`; absent when there were none.
   */
  skipped?: SkippedEntry[];
}

/** An entry of a scanned folder that is not in the dataset, and why. */
export interface SkippedEntry {
  /** The path as found by the scan. */
  path: string;
  /** Why it was left out. */
  reason: string;
}

/** Options of {@link openDataset}. */
export interface OpenDatasetOptions {
  /** A labels CSV that lists the images (paths relative to the CSV); replaces the scan. */
  labels?: string;
  /** CIFAR-100: which label to use (default "fine"). */
  cifarLabel?: "fine" | "coarse";
  /** CIFAR: which batches of a folder (default "test"). */
  cifarSplit?: "test" | "train" | "all";
  /** Keep only the first `limit` items (after ordering). */
  limit?: number;
}

/** CIFAR-10 class names (batches.meta.txt order). */
export const CIFAR10_CLASSES: readonly string[] = [
  "airplane",
  "automobile",
  "bird",
  "cat",
  "deer",
  "dog",
  "frog",
  "horse",
  "ship",
  "truck",
];

/** CIFAR-100 fine class names (fine_label_names.txt order: alphabetical). */
export const CIFAR100_FINE_CLASSES: readonly string[] = (
  "apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge bus " +
  "butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch " +
  "crab crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo " +
  "keyboard lamp lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse " +
  "mushroom oak_tree orange orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy " +
  "porcupine possum rabbit raccoon ray road rocket rose sea seal shark shrew skunk skyscraper " +
  "snail snake spider squirrel streetcar sunflower sweet_pepper table tank telephone television " +
  "tiger tractor train trout tulip turtle wardrobe whale willow_tree wolf woman worm"
).split(" ");

/** CIFAR-100 coarse (superclass) names. */
export const CIFAR100_COARSE_CLASSES: readonly string[] = (
  "aquatic_mammals fish flowers food_containers fruit_and_vegetables " +
  "household_electrical_devices household_furniture insects large_carnivores " +
  "large_man-made_outdoor_things large_natural_outdoor_scenes " +
  "large_omnivores_and_herbivores medium_mammals non-insect_invertebrates people reptiles " +
  "small_mammals trees vehicles_1 vehicles_2"
).split(" ");

const CIFAR_PIXELS = 32 * 32 * 3;

function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
}

/**
 * Image formats torchvision's ImageFolder does not list, so a scan leaves
 * them out as torchvision does; they are reported as skipped, not dropped
 * silently. (GIF decodes: list such files in a labels CSV to evaluate them.)
 */
const UNLISTED_IMAGE_EXTENSIONS: Record<string, string> = {
  ".gif": "GIF",
  ".pbm": "PBM",
  ".pnm": "PNM",
  ".jfif": "JFIF (JPEG)",
  ".jpe": "JPEG (.jpe)",
  ".avif": "AVIF",
  ".heic": "HEIC",
  ".heif": "HEIF",
  ".jxl": "JPEG XL",
  ".jp2": "JPEG 2000",
  ".ico": "ICO",
  ".svg": "SVG",
  ".tga": "TGA",
};

/** Why a folder entry that is not a usable image file is skipped, or null to ignore it. */
function skipReason(e: ListedEntry): string | null {
  if (e.problem) return e.problem;
  const ext = extname(e.name).toLowerCase();
  if (e.isFile) {
    const format = UNLISTED_IMAGE_EXTENSIONS[ext];
    return format
      ? `${format} files are not among ImageFolder's image extensions (${
        IMAGE_EXTENSIONS.join(" ")
      }), so the scan leaves them out; list the image in a labels CSV or convert it`
      : null;
  }
  if (!e.isDirectory && isImageFile(e.name)) return e.kind ?? "not a regular file";
  return null;
}

function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new DataError(`cannot access ${path}: ${(e as Error).message}`);
  }
}

/**
 * Sorted entries of a folder; symbolic links are resolved (a link to a
 * folder counts as a folder, as torchvision's os.walk(followlinks=True)
 * does; a dangling link is neither).
 */
function listDir(dir: string): ListedEntry[] {
  try {
    return [...Deno.readDirSync(dir)].map((e): ListedEntry => {
      if (!e.isSymlink && (e.isFile || e.isDirectory)) return e;
      const path = join(dir, e.name);
      const why = notRegularFileReason(path);
      if (why === null) return { ...e, isFile: true, isDirectory: false };
      let st: Deno.FileInfo | null = null;
      try {
        st = Deno.statSync(path);
      } catch { /* a dangling or looping link: `problem` says which */ }
      if (st?.isDirectory) return { ...e, isFile: false, isDirectory: true };
      // A FIFO, socket or device (maybe behind a link), or a broken link.
      const kind = why.startsWith("is ") ? why.slice(3) : why;
      return st
        ? { ...e, isFile: false, isDirectory: false, kind }
        : { ...e, isFile: false, isDirectory: false, problem: kind };
    }).sort((
      a,
      b,
    ) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch (e) {
    throw new DataError(
      `cannot read folder ${dir}: ${(e as Error).message} (check that it exists and is readable)`,
    );
  }
}

/**
 * A folder entry with links resolved; `kind` says what a non-regular,
 * non-folder entry is, `problem` why a link cannot be followed.
 */
interface ListedEntry extends Deno.DirEntry {
  /** What the entry is when neither a regular file nor a folder ("a FIFO (named pipe)"). */
  kind?: string;
  /** Why a symbolic link cannot be followed (dangling, loop). */
  problem?: string;
}

/** True the first time a folder (by real path) is seen: guards against link cycles. */
function firstVisit(dir: string, seen: Set<string>): boolean {
  let real: string;
  try {
    real = Deno.realPathSync(dir);
  } catch {
    return false;
  }
  if (seen.has(real)) return false;
  seen.add(real);
  return true;
}

/**
 * Image files under `dir`, recursively, hidden entries skipped, in
 * torchvision's order: folders sorted by path string (as `sorted(os.walk())`
 * does), files sorted by name within each folder.
 */
function imagesUnder(dir: string, skipped: SkippedEntry[] = []): string[] {
  const folders: { path: string; files: string[] }[] = [];
  const seen = new Set<string>();
  const walk = (d: string) => {
    if (!firstVisit(d, seen)) return;
    const files: string[] = [];
    for (const e of listDir(d)) {
      if (e.name.startsWith(".")) continue;
      const p = join(d, e.name);
      if (e.isDirectory) walk(p);
      else if (e.isFile && isImageFile(e.name)) files.push(p);
      else {
        const why = skipReason(e);
        if (why) skipped.push({ path: p, reason: why });
      }
    }
    folders.push({ path: d, files });
  };
  walk(dir);
  folders.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return folders.flatMap((f) => f.files);
}

/**
 * Opens a dataset from a folder, a labels CSV, a CIFAR batch, an image,
 * or a list of images / glob patterns. Throws DataError when nothing usable
 * is there.
 */
export function openDataset(
  path: string | string[],
  opts: OpenDatasetOptions = {},
): Dataset {
  let ds: Dataset;
  const containers = (Array.isArray(path) ? path : [path]).filter((p) =>
    /\.(parquet|tar)$/i.test(p)
  );
  if (containers.length) {
    throw new DataError(
      `${containers[0]}: parquet files and WebDataset tar shards are opened with loadDataset() ` +
        `(asynchronous); openDataset() reads folders, CSVs, CIFAR batches and images`,
    );
  }
  if (Array.isArray(path)) {
    ds = imageList(path);
  } else if (/[*?[]/.test(path) && !statOrNull(path)) {
    ds = imageList([path]);
  } else {
    const root = resolve(path);
    const st = statOrNull(root);
    if (!st) throw new DataError(`dataset ${path} does not exist`);
    if (opts.labels) {
      // The CSV lists the images, relative to the CSV itself or, for a CSV kept outside
      // the image folder (val_labels.csv beside val/), relative to the --data folder.
      ds = openCsv(resolve(opts.labels), undefined, st.isDirectory ? root : undefined);
    } else if (st.isFile) {
      const ext = extname(root).toLowerCase();
      if (ext === ".csv") ds = openCsv(root);
      else if (ext === ".bin") ds = openCifarFiles([root], root, opts);
      else if (isImageFile(root)) ds = imageList([root]);
      else {
        throw new DataError(
          `${path}: not a folder, labels .csv, CIFAR .bin or image file (extension ${
            ext || "none"
          })`,
        );
      }
    } else {
      ds = openFolder(root, opts);
    }
  }
  return finishDataset(ds, opts);
}

/**
 * The last step of opening any dataset: refuses one file listed twice,
 * applies `limit`, refuses an empty dataset.
 */
export function finishDataset(ds: Dataset, opts: { limit?: number } = {}): Dataset {
  requireDistinctFiles(ds);
  if (opts.limit !== undefined && opts.limit >= 0 && ds.items.length > opts.limit) {
    ds.items = ds.items.slice(0, opts.limit);
    ds.description += ` (first ${opts.limit} used)`;
  }
  if (ds.items.length === 0) {
    const first = ds.skipped?.[0];
    throw new DataError(
      `dataset ${ds.root} contains no images (${ds.description})${
        first ? `; first skipped: ${first.path}: ${first.reason}` : ""
      }`,
    );
  }
  return ds;
}

/**
 * Refuses a dataset in which two items are the same file (by real path: a
 * symbolic link in another class folder, a link and its target, a CSV naming
 * one image under two spellings): it would be scored twice, under two labels
 * perhaps. Items whose path cannot be resolved are left to the loader, which
 * lists them as failed.
 */
function requireDistinctFiles(ds: Dataset): void {
  const seen = new Map<string, string>();
  for (const it of ds.items) {
    if (isRecordItem(it)) continue;
    let real: string;
    try {
      real = Deno.realPathSync(it.path);
    } catch {
      continue;
    }
    const first = seen.get(real);
    if (first !== undefined) {
      throw new DataError(
        `${ds.root}: ${first} and ${it.path} are the same file${
          real !== first && real !== it.path ? ` (${real})` : ""
        }, so the image would be evaluated twice${
          ds.labelKind === "none" ? "" : ", perhaps under two labels"
        }; each image may appear once (remove the link or the duplicate entry)`,
      );
    }
    seen.set(real, it.path);
  }
}

function openFolder(root: string, opts: OpenDatasetOptions): Dataset {
  const entries = listDir(root);
  const names = new Set(entries.map((e) => e.name));
  // CIFAR binary distribution (possibly one level down, as extracted).
  for (const sub of ["", "cifar-10-batches-bin", "cifar-100-binary"]) {
    const dir = sub ? join(root, sub) : root;
    if (sub && !names.has(sub)) continue;
    const files = sub ? listDir(dir).map((e) => e.name) : [...names];
    const c10 = files.filter((n) => /^(data_batch_\d+|test_batch)\.bin$/.test(n));
    const c100 = files.filter((n) => /^(train|test)\.bin$/.test(n));
    if (c10.length || c100.length) {
      const split = opts.cifarSplit ?? "test";
      const pick = (c10.length ? c10 : c100).filter((n) =>
        split === "all" || (split === "test" ? n.startsWith("test") : !n.startsWith("test"))
      ).sort((a, b) => naturalCompare(a, b));
      if (!pick.length) {
        throw new DataError(`${dir}: no CIFAR ${split} batches (found ${[...c10, ...c100]})`);
      }
      return openCifarFiles(pick.map((n) => join(dir, n)), root, opts);
    }
  }
  const classDirs = entries.filter((e) => e.isDirectory && !e.name.startsWith("."));
  const topImages = entries.filter((e) => e.isFile && isImageFile(e.name));
  // Broken links, FIFOs with image names, unlisted formats at the top: listed, not dropped.
  const topSkipped = entries.filter((e) => !e.name.startsWith(".")).flatMap((e) => {
    const why = skipReason(e);
    return why ? [{ path: join(root, e.name), reason: why }] : [];
  });
  const withTop = (ds: Dataset): Dataset => {
    ds.skipped = [...topSkipped, ...(ds.skipped ?? [])];
    return ds;
  };
  if (classDirs.length && !topImages.length) return withTop(openImageFolder(root, classDirs));
  if (names.has("labels.csv")) return openCsv(join(root, "labels.csv"));
  if (topImages.length) {
    const ds = withTop(imageList(topImages.map((e) => join(root, e.name))));
    ds.root = root;
    if (classDirs.length) {
      ds.warnings.push(
        `${root} has images at the top level, so its ${classDirs.length} sub-folder(s) ` +
          `(${classDirs.slice(0, 3).map((e) => e.name).join(", ")}${
            classDirs.length > 3 ? ", ..." : ""
          }) are not read as classes; move the top-level images or give a labels CSV`,
      );
    }
    return ds;
  }
  if (classDirs.length) return withTop(openImageFolder(root, classDirs));
  throw new DataError(
    `${root} has no images, class sub-folders, labels.csv or CIFAR batches; ` +
      `point at an ImageFolder, a labels CSV or image files`,
  );
}

function openImageFolder(root: string, classDirs: Deno.DirEntry[]): Dataset {
  const classes = classDirs.map((e) => e.name);
  const items: DatasetItem[] = [];
  const warnings: string[] = [];
  const skipped: SkippedEntry[] = [];
  classes.forEach((c, label) => {
    const files = imagesUnder(join(root, c), skipped);
    if (!files.length) warnings.push(`class folder ${join(root, c)} has no images`);
    for (const path of files) items.push({ path, label });
  });
  return {
    kind: "imagefolder",
    root,
    items,
    labelKind: "name",
    classes,
    description: `ImageFolder ${root}: ${items.length} images in ${classes.length} classes${
      skipped.length ? ` (${skipped.length} entries skipped)` : ""
    }`,
    warnings,
    skipped,
  };
}

export { parseCsv } from "../csv.ts";

const PATH_COLUMNS = ["path", "file", "filename", "image", "image_path", "filepath"];
const LABEL_COLUMNS = [
  "label",
  "class",
  "target",
  "y",
  "class_name",
  "category",
  "labels",
  "label_id",
  "class_id",
  "class_idx",
  "class_index",
  "synset",
  "wnid",
];

/**
 * Reads a labels CSV. Relative paths are joined to `baseDir` (the CSV's
 * folder); when some do not exist there but all do under `dataDir` (the
 * folder given as --data), `dataDir` is used, and the description says so.
 */
function openCsv(
  csvPath: string,
  baseDir = dirname(csvPath),
  dataDir?: string,
): Dataset {
  let text: string;
  requireRegularFile(csvPath, "labels file");
  try {
    text = Deno.readTextFileSync(csvPath);
  } catch (e) {
    throw new DataError(`cannot read labels file ${csvPath}: ${(e as Error).message}`);
  }
  const records = readCsvRecords(text);
  const rows = records.map((r) => r.fields);
  if (!rows.length) throw new DataError(`labels file ${csvPath} is empty`);
  const header = rows[0].map((h) => h.trim().toLowerCase());
  let pathCol = header.findIndex((h) => PATH_COLUMNS.includes(h));
  let labelCol = header.findIndex((h) => LABEL_COLUMNS.includes(h));
  let body = rows;
  if (pathCol >= 0) {
    body = rows.slice(1);
    // `path,<anything>`: a two-column file's other column is the label whatever its name.
    if (labelCol < 0 && header.length === 2) labelCol = 1 - pathCol;
  } else {
    pathCol = 0;
    labelCol = rows[0].length > 1 ? 1 : -1;
  }
  const nameCol = pathCol >= 0 && body !== rows ? header.indexOf("name") : -1;
  const raw: { rel: string; path: string; label?: string; name?: string; line: number }[] = [];
  body.forEach((r, i) => {
    const line = records[i + (body === rows ? 0 : 1)].line;
    const p = r[pathCol]?.trim();
    if (!p) throw new DataError(`${csvPath} line ${line}: empty path`);
    // "3.0" is an index written through a float column (pandas does that when any cell is NaN).
    const label = labelCol >= 0 ? r[labelCol]?.trim().replace(/^(\d+)\.0*$/, "$1") : undefined;
    if (labelCol >= 0 && !label) {
      throw new DataError(`${csvPath} line ${line}: no label for ${p}`);
    }
    const path = isAbsolute(p) ? p : join(baseDir, p);
    raw.push({ rel: p, path, label, name: r[nameCol]?.trim(), line });
  });
  // An image listed twice would be evaluated (and counted) twice.
  const firstLine = new Map<string, number>();
  for (const r of raw) {
    const first = firstLine.get(r.path);
    if (first !== undefined) {
      throw new DataError(
        `${csvPath} lists ${relative(baseDir, r.path)} twice (lines ${first} and ${r.line}); ` +
          `each image may appear once`,
      );
    }
    firstLine.set(r.path, r.line);
  }
  // Every listed image must exist: this is the user's list, not a scan.
  const missingUnder = (dir: string) =>
    raw.flatMap((r) => {
      const path = isAbsolute(r.rel) ? r.rel : join(dir, r.rel);
      const why = notRegularFileReason(path);
      return why === null ? [] : [{ ...r, path, why }];
    });
  let missing = missingUnder(baseDir);
  let base = "", nor = "";
  if (missing.length && dataDir && resolve(dataDir) !== resolve(baseDir)) {
    if (missingUnder(dataDir).length === 0) {
      for (const r of raw) r.path = isAbsolute(r.rel) ? r.rel : join(dataDir, r.rel);
      missing = [];
      base = ` (paths relative to --data ${dataDir})`;
    } else nor = ` (or to --data ${dataDir})`;
  }
  if (missing.length) {
    const shown = missing.slice(0, 5).map((m) =>
      `${relative(baseDir, m.path)} (line ${m.line}${
        m.why === "does not exist" ? "" : `: ${m.why}`
      })`
    );
    throw new DataError(
      `labels file ${csvPath} names ${missing.length} image(s) that do not exist or are not ` +
        `regular files: ` +
        `${shown.join(", ")}${missing.length > 5 ? ", ..." : ""} ` +
        `(paths are relative to ${baseDir}${nor}; fix the file or the folder)`,
    );
  }
  const desc = (kind: string) => `labels CSV ${csvPath}${base}: ${raw.length} images, ${kind}`;
  if (labelCol < 0) {
    return {
      kind: "csv",
      root: csvPath,
      items: raw.map((r) => ({ path: r.path })),
      labelKind: "none",
      classes: [],
      description: desc("no labels"),
      warnings: [],
    };
  }
  const numeric = raw.every((r) => /^\d+$/.test(r.label!));
  if (numeric) {
    const classes: string[] = [];
    for (const r of raw) {
      const l = Number(r.label);
      if (r.name) {
        if (classes[l] && classes[l] !== r.name) {
          throw new DataError(
            `${csvPath} line ${r.line}: label ${l} named both "${classes[l]}" and "${r.name}"`,
          );
        }
        classes[l] = r.name;
      }
    }
    for (let i = 0; i < classes.length; i++) classes[i] ??= "";
    return {
      kind: "csv",
      root: csvPath,
      items: raw.map((r) => ({ path: r.path, label: Number(r.label) })),
      labelKind: "index",
      classes,
      description: desc("labels are class indices"),
      warnings: [],
    };
  }
  const classes = [...new Set(raw.map((r) => r.label!))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  return {
    kind: "csv",
    root: csvPath,
    items: raw.map((r) => ({ path: r.path, label: index.get(r.label!)! })),
    labelKind: "name",
    classes,
    description: desc(`${classes.length} named classes`),
    warnings: [],
  };
}

/** Compares names with digit runs as numbers (`batch_2` before `batch_10`). */
export function naturalCompare(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

function readNames(path: string): string[] | null {
  if (notRegularFileReason(path) !== null) return null;
  try {
    return Deno.readTextFileSync(path).split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  } catch {
    return null;
  }
}

function openCifarFiles(files: string[], root: string, opts: OpenDatasetOptions): Dataset {
  const sizes = files.map((f) => statOrNull(f)?.size ?? 0);
  // CIFAR-10 rows: 1 label byte + 3072; CIFAR-100 rows: coarse, fine + 3072.
  const isC100 = (f: string, size: number) =>
    /^(train|test)\.bin$/.test(basename(f)) ||
    (size % (CIFAR_PIXELS + 2) === 0 && size % (CIFAR_PIXELS + 1) !== 0);
  const c100 = isC100(files[0], sizes[0]);
  const rowBytes = CIFAR_PIXELS + (c100 ? 2 : 1);
  const fine = (opts.cifarLabel ?? "fine") === "fine";
  const dir = dirname(files[0]);
  let classes: string[];
  if (c100) {
    classes = readNames(join(dir, fine ? "fine_label_names.txt" : "coarse_label_names.txt")) ??
      [...(fine ? CIFAR100_FINE_CLASSES : CIFAR100_COARSE_CLASSES)];
  } else {
    classes = readNames(join(dir, "batches.meta.txt")) ?? [...CIFAR10_CLASSES];
  }
  const items: DatasetItem[] = [];
  files.forEach((file, fi) => {
    if (sizes[fi] === 0 || sizes[fi] % rowBytes !== 0) {
      throw new DataError(
        `${file}: ${sizes[fi]} bytes is not a whole number of ${rowBytes}-byte ` +
          `CIFAR-${c100 ? 100 : 10} records; is it a CIFAR binary batch?`,
      );
    }
    let bytes: Uint8Array;
    try {
      bytes = Deno.readFileSync(file);
    } catch (e) {
      throw new DataError(`cannot read ${file}: ${(e as Error).message}`);
    }
    const n = bytes.length / rowBytes;
    for (let i = 0; i < n; i++) {
      const at = i * rowBytes;
      const label = c100 ? bytes[at + (fine ? 1 : 0)] : bytes[at];
      if (label >= classes.length) {
        throw new DataError(
          `${file}: record ${i} has label ${label} but there are ${classes.length} classes; ` +
            `is it a CIFAR-${c100 ? 100 : 10} batch?`,
        );
      }
      items.push({
        path: recordName(file, i),
        label,
        record: { file, offset: at + rowBytes - CIFAR_PIXELS },
      });
    }
  });
  return {
    kind: c100 ? "cifar100" : "cifar10",
    root,
    items,
    labelKind: "name",
    classes,
    description: `CIFAR-${c100 ? "100" : "10"} batches ${
      files.map((f) => basename(f)).join(", ")
    }: ${items.length} images${c100 ? ` (${fine ? "fine" : "coarse"} labels)` : ""}`,
    warnings: [],
  };
}

/** CIFAR planar bytes (R plane, G plane, B plane) -> HWC RGB image. */
export function cifarToRgb(planar: Uint8Array): RgbImage {
  const n = 32 * 32;
  const data = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    data[i * 3] = planar[i];
    data[i * 3 + 1] = planar[n + i];
    data[i * 3 + 2] = planar[2 * n + i];
  }
  return { width: 32, height: 32, data };
}

/** Reads one CIFAR record's pixels. */
export async function readCifarRecord(record: CifarRecord): Promise<RgbImage> {
  const f = await Deno.open(record.file, { read: true });
  try {
    await f.seek(record.offset, Deno.SeekMode.Start);
    const buf = new Uint8Array(CIFAR_PIXELS);
    let got = 0;
    while (got < buf.length) {
      const n = await f.read(buf.subarray(got));
      if (n === null) {
        throw new DataError(`${record.file}: record at ${record.offset} is cut short`);
      }
      got += n;
    }
    return cifarToRgb(buf);
  } finally {
    f.close();
  }
}

/** Converts a glob pattern to a RegExp over '/'-separated paths. */
export function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i];
    if (ch === "*") {
      if (pattern[i + 1] === "*") {
        // "**/" matches zero or more whole folders.
        i++;
        if (pattern[i + 1] === "/") (i++, re += "(?:.*/)?");
        else re += ".*";
      } else re += "[^/]*";
    } else if (ch === "?") re += "[^/]";
    else if (ch === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) re += "\\[";
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith("!")) body = "^" + body.slice(1);
        re += `[${body.replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += ch.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** The files matching a glob pattern (`*`, `?`, `[...]`, `**`), sorted by path. */
export function expandGlob(pattern: string): string[] {
  const abs = resolve(pattern);
  const parts = abs.split("/");
  const firstGlob = parts.findIndex((p) => /[*?[]/.test(p));
  const base = parts.slice(0, firstGlob).join("/") || "/";
  const re = globToRegExp(abs);
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (dir: string) => {
    if (!firstVisit(dir, seen)) return;
    let entries: Deno.DirEntry[];
    try {
      entries = listDir(dir);
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory) walk(p);
      else if (re.test(p)) out.push(p);
    }
  };
  walk(base);
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // deterministic, by path
}

function imageList(paths: string[]): Dataset {
  const items: DatasetItem[] = [];
  const missing: string[] = [];
  const skipped: SkippedEntry[] = [];
  for (const p of paths) {
    if (/[*?[]/.test(p) && !statOrNull(p)) {
      const found = expandGlob(p);
      if (!found.length) missing.push(`${p} (pattern matches nothing)`);
      for (const f of found) items.push({ path: f });
    } else {
      const st = statOrNull(p);
      if (!st) missing.push(p);
      else if (st.isDirectory) {
        for (const f of imagesUnder(resolve(p), skipped)) items.push({ path: f });
      } else items.push({ path: resolve(p) });
    }
  }
  if (missing.length) {
    throw new DataError(`image(s) not found: ${missing.slice(0, 5).join(", ")}`);
  }
  return {
    kind: "images",
    root: paths.length === 1 ? resolve(paths[0]) : dirname(resolve(paths[0] ?? ".")),
    items,
    labelKind: "none",
    classes: [],
    description: `${items.length} image file(s), unlabelled`,
    warnings: [],
    skipped,
  };
}
