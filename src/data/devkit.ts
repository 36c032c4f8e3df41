/**
 * The ImageNet devkit (`ILSVRC2012_devkit_t12`): `data/meta.mat` holds the
 * `synsets` struct array that gives each ILSVRC2012_ID its WordNet id, and
 * `data/ILSVRC2012_validation_ground_truth.txt` one ILSVRC2012_ID per
 * validation image. The 1000 leaf synsets (num_children 0) carry ids
 * 1..1000 in the devkit's own order, not the sorted-wnid order models use;
 * the 860 internal nodes of the hierarchy (ids 1001..1860) are no classes.
 */
import { dirname, join } from "node:path";
import { DataError } from "../errors.ts";
import { type MatValue, parseMatVariable } from "./mat5.ts";

/** The file name of the devkit's validation ground truth. */
export const DEVKIT_GROUND_TRUTH = "ILSVRC2012_validation_ground_truth.txt";

const WNID = /^n\d{8}$/;

function scalar(v: MatValue, what: string, path: string): number {
  if (v.kind !== "numeric" || v.data.length !== 1) {
    throw new DataError(`${path}: ${what} is not a single number`);
  }
  return v.data[0];
}

/**
 * WordNet ids in ILSVRC2012_ID order (index id - 1) of the leaf synsets of
 * meta.mat's bytes; `path` names the file in messages. Gaps in the ids are
 * left as holes for the caller to refuse.
 */
export function metaMatSynsets(bytes: Uint8Array, path: string): string[] {
  const v = parseMatVariable(bytes, "synsets", path);
  if (v.kind !== "struct") {
    throw new DataError(
      `${path}: variable "synsets" is a ${v.kind} array, not the devkit's struct array ` +
        `(fields ILSVRC2012_ID, WNID, ...)`,
    );
  }
  for (const f of ["ILSVRC2012_ID", "WNID"]) {
    if (!v.fields.includes(f)) {
      throw new DataError(
        `${path}: "synsets" has no field ${f} (fields: ${v.fields.join(", ")}); give the ` +
          `devkit's data/meta.mat`,
      );
    }
  }
  // Internal nodes of the hierarchy have children; only leaves are classes.
  const leaf = (e: Record<string, MatValue>, i: number) =>
    !v.fields.includes("num_children") ||
    scalar(e.num_children, `synsets(${i + 1}).num_children`, path) === 0;
  const out: string[] = [];
  v.elements.forEach((e, i) => {
    if (!leaf(e, i)) return;
    const id = scalar(e.ILSVRC2012_ID, `synsets(${i + 1}).ILSVRC2012_ID`, path);
    const w = e.WNID;
    const wnid = w.kind === "char" && w.rows.length === 1 ? w.rows[0] : undefined;
    if (!wnid || !WNID.test(wnid)) {
      throw new DataError(`${path}: synsets(${i + 1}).WNID is no WordNet id (n01234567)`);
    }
    if (!Number.isInteger(id) || id < 1 || out[id - 1] !== undefined) {
      throw new DataError(
        `${path}: synsets(${i + 1}).ILSVRC2012_ID ${id} is not a new positive integer`,
      );
    }
    out[id - 1] = wnid;
  });
  return out;
}

/** `meta.mat` beside a devkit ground-truth file (both live in the devkit's data/), if there. */
export function metaMatBeside(truthFile: string): string | undefined {
  const meta = join(dirname(truthFile), "meta.mat");
  try {
    return Deno.statSync(meta).isFile ? meta : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The ground-truth file and meta.mat of a devkit folder: `dir` is the
 * devkit (`ILSVRC2012_devkit_t12`) or its `data/` folder. meta.mat must be
 * there; the ground-truth file is checked when it is read.
 */
export function devkitFiles(dir: string): { groundTruth: string; meta: string } {
  let isDir = false;
  try {
    isDir = Deno.statSync(dir).isDirectory;
  } catch { /* reported below */ }
  if (!isDir) {
    throw new DataError(
      `--devkit ${dir} is not a folder; give the ImageNet devkit folder ` +
        `(ILSVRC2012_devkit_t12, holding data/meta.mat)`,
    );
  }
  for (const data of [join(dir, "data"), dir]) {
    const meta = metaMatBeside(join(data, DEVKIT_GROUND_TRUTH));
    if (meta) return { groundTruth: join(data, DEVKIT_GROUND_TRUTH), meta };
  }
  throw new DataError(
    `--devkit ${dir}: no data/meta.mat in it; give the ImageNet devkit folder ` +
      `(ILSVRC2012_devkit_t12) or --synsets path/to/meta.mat`,
  );
}

/** The dataset options a devkit folder stands for. */
export interface DevkitOptions {
  /** The ground-truth file (defaults to the devkit's). */
  labels?: string;
  /** The synsets file (the devkit's meta.mat with `devkit`). */
  synsets?: string;
  /** The devkit folder. */
  devkit?: string;
}

/**
 * `opts` with `devkit` expanded: `synsets` becomes its meta.mat and
 * `labels` defaults to its ground-truth file. Giving `synsets` too is refused
 * (two sources of the same id table).
 */
export function withDevkit<T extends DevkitOptions>(opts: T): T {
  if (opts.devkit === undefined) return opts;
  if (opts.synsets !== undefined) {
    throw new DataError(
      `give --devkit or --synsets, not both: --devkit ${opts.devkit} already names its ` +
        `data/meta.mat`,
    );
  }
  const { groundTruth, meta } = devkitFiles(opts.devkit);
  return { ...opts, labels: opts.labels ?? groundTruth, synsets: meta, devkit: undefined };
}
