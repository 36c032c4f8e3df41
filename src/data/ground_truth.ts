/**
 * ImageNet-style validation sets: a flat folder of images plus a separate
 * ground-truth file, in one of the three forms people have:
 *
 * - Kaggle's `LOC_val_solution.csv`: `ImageId,PredictionString`, the label
 *   being the first WordNet id of the prediction string;
 * - a `name label` text file (`ILSVRC2012_val_00000001.JPEG 65`, Caffe's
 *   val.txt): the label a class index (sorted-wnid order) or a class name;
 * - the devkit's `ILSVRC2012_validation_ground_truth.txt`: one 1-based
 *   ILSVRC2012_ID per line, line i for `ILSVRC2012_val_{i:08d}`. Those ids
 *   follow the devkit's meta.mat order, not the sorted-wnid order models
 *   use, so they are mapped through a synsets file (wnids in ILSVRC2012_ID
 *   order) and never used as class indices.
 *
 * Images are matched by file name, or by name without extension (Kaggle's
 * ImageId has none). Folder images the file does not list are skipped and
 * listed; file entries with no image are counted (a partial copy of the
 * validation set is fine).
 */
import { basename, extname, join } from "node:path";
import { DataError } from "../errors.ts";
import { readCsvRecords } from "../csv.ts";
import { requireRegularFile } from "../files.ts";
import { type Dataset, type DatasetItem, IMAGE_EXTENSIONS, type SkippedEntry } from "./datasets.ts";

/** Options of {@link openGroundTruth}. */
export interface GroundTruthOptions {
  /**
   * WordNet ids in ILSVRC2012_ID order (line i = id i; a leading id column
   * is honoured), needed for the devkit's ground-truth file.
   */
  synsets?: string;
}

/** Which ground-truth form a file is in. */
export type GroundTruthFormat = "kaggle" | "devkit" | "name-label";

const WNID = /^n\d{8}$/;

function readText(path: string, what: string): string {
  requireRegularFile(path, what);
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    throw new DataError(`cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

function lines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
}

/** The ground-truth form of a labels file, or null for an ordinary labels CSV. */
export function groundTruthFormat(path: string): GroundTruthFormat | null {
  let head: string[];
  try {
    head = lines(Deno.readTextFileSync(path)).slice(0, 5);
  } catch {
    return null;
  }
  if (!head.length) return null;
  if (/^imageid\s*,\s*predictionstring$/i.test(head[0])) return "kaggle";
  if (head.every((l) => /^\d+$/.test(l))) return "devkit";
  if (head.every((l) => /^\S+\s+\S+$/.test(l) && !l.includes(","))) return "name-label";
  return null;
}

/** WordNet ids in ILSVRC2012_ID order from a synsets file. */
export function readSynsets(path: string): string[] {
  const out: string[] = [];
  lines(readText(path, "synsets file")).forEach((l, i) => {
    const tokens = l.split(/[\s,]+/);
    const wnid = tokens.find((t) => WNID.test(t));
    if (!wnid) throw new DataError(`${path} line ${i + 1}: no WordNet id (n01234567) in "${l}"`);
    const id = /^\d+$/.test(tokens[0]) ? Number(tokens[0]) : i + 1;
    out[id - 1] = wnid;
  });
  if (out.length < 2 || out.some((w) => w === undefined)) {
    throw new DataError(`${path}: synsets must list ids 1..N without gaps`);
  }
  // Sorted wnids are the models' order (LOC_synset_mapping.txt), not meta.mat's ILSVRC2012_IDs.
  if (out.every((w, i) => i === 0 || out[i - 1] < w)) {
    throw new DataError(
      `${path} lists WordNet ids in sorted order, which is the class-index order models use ` +
        `(like LOC_synset_mapping.txt), not the devkit's ILSVRC2012_ID order (meta.mat: id 1 ` +
        `is n02119789). Export meta.mat's order (see README, "ImageNet validation sets")`,
    );
  }
  return out;
}

/** image name (with or without extension) -> label text, from the ground-truth file. */
function truthTable(
  path: string,
  format: GroundTruthFormat,
  opts: GroundTruthOptions,
): Map<string, string> {
  const out = new Map<string, string>();
  const text = readText(path, "ground-truth file");
  if (format === "kaggle") {
    const recs = readCsvRecords(text).slice(1);
    for (const r of recs) {
      const [id, pred] = r.fields;
      const wnid = pred?.trim().split(/\s+/)[0];
      if (!id || !wnid || !WNID.test(wnid)) {
        throw new DataError(`${path} line ${r.line}: expected ImageId,"wnid x y x y ..."`);
      }
      out.set(id.trim(), wnid);
    }
  } else if (format === "devkit") {
    if (!opts.synsets) {
      throw new DataError(
        `${path} is the devkit's ground truth: its 1-based ILSVRC2012_IDs are not the class ` +
          `indices models use. Pass --synsets FILE (WordNet ids in ILSVRC2012_ID order, from ` +
          `the devkit's meta.mat) so each id becomes its WordNet id`,
      );
    }
    const synsets = readSynsets(opts.synsets);
    lines(text).forEach((l, i) => {
      const id = Number(l);
      if (!Number.isInteger(id) || id < 1 || id > synsets.length) {
        throw new DataError(
          `${path} line ${i + 1}: ILSVRC2012_ID ${l} is not in 1..${synsets.length} ` +
            `(${opts.synsets})`,
        );
      }
      out.set(`ILSVRC2012_val_${String(i + 1).padStart(8, "0")}`, synsets[id - 1]);
    });
  } else {
    lines(text).forEach((l, i) => {
      const m = /^(\S+)\s+(\S+)$/.exec(l);
      if (!m) throw new DataError(`${path} line ${i + 1}: expected "name label", got "${l}"`);
      out.set(m[1], m[2]);
    });
  }
  return out;
}

/** Opens a flat folder of images labelled by a ground-truth file (see the module comment). */
export function openGroundTruth(
  folder: string,
  truthFile: string,
  opts: GroundTruthOptions = {},
): Dataset {
  const format = groundTruthFormat(truthFile);
  if (!format) throw new DataError(`${truthFile}: not a recognised ground-truth file`);
  const truth = truthTable(truthFile, format, opts);
  let names: string[];
  try {
    names = [...Deno.readDirSync(folder)]
      .filter((e) =>
        !e.name.startsWith(".") && IMAGE_EXTENSIONS.includes(extname(e.name).toLowerCase())
      )
      .map((e) => e.name).sort();
  } catch (e) {
    throw new DataError(`cannot read image folder ${folder}: ${(e as Error).message}`);
  }
  const raw: { path: string; label: string }[] = [];
  const skipped: SkippedEntry[] = [];
  for (const name of names) {
    const label = truth.get(name) ?? truth.get(basename(name, extname(name)));
    const path = join(folder, name);
    if (label === undefined) {
      skipped.push({ path, reason: `not listed in the ground-truth file ${truthFile}` });
    } else raw.push({ path, label });
  }
  const numeric = raw.length > 0 && raw.every((r) => /^\d+$/.test(r.label));
  const classes = numeric ? [] : [...new Set(raw.map((r) => r.label))].sort();
  const index = new Map(classes.map((c, i) => [c, i]));
  const items: DatasetItem[] = raw.map((r) => ({
    path: r.path,
    label: numeric ? Number(r.label) : index.get(r.label)!,
  }));
  const unmatched = truth.size - raw.length;
  return {
    kind: "groundtruth",
    root: folder,
    items,
    labelKind: numeric ? "index" : "name",
    classes,
    description: `${folder} labelled by ${basename(truthFile)} (${format}${
      format === "devkit" ? `, ids mapped through ${basename(opts.synsets!)}` : ""
    }): ${items.length} images, ${
      numeric ? "labels are class indices" : `${classes.length} classes`
    }${unmatched > 0 ? `; ${unmatched} entries of the file have no image here` : ""}`,
    warnings: [],
    skipped,
  };
}
