/** Option parsing shared by the commands that run a model on images. */
import { DataError, UsageError } from "../errors.ts";
import type { PreprocessOverrides } from "../data/preprocess.ts";
import type { Interpolation } from "../data/resize.ts";
import type { EvaluateOptions, Shard } from "../evaluate.ts";
import type { ClassifierModel } from "../models/model.ts";

/** Pillow's resampling filters, all reproduced exactly by src/data/resize.ts. */
const FILTERS: readonly Interpolation[] = [
  "nearest",
  "box",
  "bilinear",
  "hamming",
  "bicubic",
  "lanczos",
];

/** parseArgs option specs of the preprocessing overrides. */
export const PREPROCESS_OPTIONS = {
  size: { type: "string" },
  crop: { type: "string" },
  "crop-pct": { type: "string" },
  interpolation: { type: "string" },
  mean: { type: "string" },
  std: { type: "string" },
} as const;

/** parseArgs option specs of the dataset: where the images are and what labels them. */
export const DATA_OPTIONS = {
  data: { type: "string", multiple: true },
  labels: { type: "string" },
  synsets: { type: "string" },
  devkit: { type: "string" },
  split: { type: "string" },
  "image-column": { type: "string" },
  "label-column": { type: "string" },
  "label-field": { type: "string" },
} as const;

/** Help lines of {@link DATA_OPTIONS}. */
export const DATA_HELP =
  `  --data PATH         ImageFolder, labels CSV, CIFAR binary batch/folder, image, glob,
                      Hugging Face .parquet file(s)/glob/folder, or WebDataset .tar shards
                      (shard-{000000..000099}.tar); repeat --data for several files
  --labels FILE       labels CSV listing the images (path,label; label = index or name), or
                      an ImageNet ground-truth file for the --data folder: LOC_val_solution.csv,
                      a "name label" text file, ILSVRC2012_validation_ground_truth.txt
  --devkit DIR        the ImageNet devkit (ILSVRC2012_devkit_t12): its data/meta.mat maps the
                      devkit ground truth's ids; --labels defaults to its ground-truth file
  --synsets FILE      the devkit's meta.mat (or wnids in ILSVRC2012_ID order, one a line) for
                      the devkit ground truth (default: meta.mat beside that file)
  --split NAME        parquet: the split of a dataset folder (test, validation, ...)
  --image-column C    parquet: the image column (default: the Image feature)
  --label-column C    parquet: the label column (default: the ClassLabel / only integer column)
  --label-field F     WebDataset: the json field holding the label (default label; else cls, txt;
                      a.b for a nested field)`;

/**
 * The dataset a command reads, from {@link DATA_OPTIONS}' values: the
 * dataset fields of {@link EvaluateOptions} (documented there), one per option.
 */
export type DataArgs = Pick<
  EvaluateOptions,
  | "data"
  | "labels"
  | "synsets"
  | "devkit"
  | "split"
  | "imageColumn"
  | "labelColumn"
  | "labelField"
>;

/** The names of the dataset options that were given (e.g. to refuse them where no data is read). */
export function givenDataOptions(v: Record<string, unknown>): string[] {
  return Object.keys(DATA_OPTIONS).filter((k) => v[k] !== undefined).map((k) => `--${k}`);
}

/** Parses {@link DATA_OPTIONS}' values; `--data` is required. */
export function dataArgs(v: Record<string, unknown>): DataArgs {
  const data = v.data as string[] | undefined;
  if (!data?.length) throw new UsageError("--data PATH is required");
  const str = (k: keyof typeof DATA_OPTIONS) => (typeof v[k] === "string" ? v[k] : undefined);
  if (v.devkit !== undefined && v.synsets !== undefined) {
    throw new UsageError("give --devkit or --synsets, not both: --devkit names its meta.mat");
  }
  return {
    data: data.length === 1 ? data[0] : data,
    labels: str("labels"),
    synsets: str("synsets"),
    devkit: str("devkit"),
    split: str("split"),
    imageColumn: str("image-column"),
    labelColumn: str("label-column"),
    labelField: str("label-field"),
  };
}

/** Help lines of the preprocessing overrides. */
export const PREPROCESS_HELP = `preprocessing (default: from the model folder; printed at start):
  --size N|HxW        resize the shorter side to N, or exactly to HxW
  --crop N|HxW|0      center crop (0 = none)
  --crop-pct F        timm crop fraction (resize to crop / F first)
  --interpolation M   nearest | box | bilinear | hamming | bicubic | lanczos (Pillow's)
  --mean R,G,B        normalization mean
  --std R,G,B         normalization std`;

/** Parses an integer option in [lo, hi] or throws a UsageError (undefined stays undefined). */
export function intArg(s: string, name: string, lo: number, hi: number): number;
export function intArg(
  s: string | undefined,
  name: string,
  lo: number,
  hi: number,
): number | undefined;
export function intArg(
  s: string | undefined,
  name: string,
  lo: number,
  hi: number,
): number | undefined {
  if (s === undefined) return undefined;
  const n = Number(s);
  if (!Number.isInteger(n) || n < lo || n > hi) {
    throw new UsageError(`${name} must be an integer in ${lo}..${hi}, got "${s}"`);
  }
  return n;
}

function sizeArg(s: string, name: string): number | [number, number] {
  const m = /^([1-9]\d*)(?:x([1-9]\d*))?$/.exec(s);
  if (!m) throw new UsageError(`${name} must be N or HxW (positive integers), got "${s}"`);
  return m[2] ? [Number(m[1]), Number(m[2])] : Number(m[1]);
}

/**
 * Creates the output folder before any work, so that an unwritable `--out`
 * fails in a second with a message, not after the evaluation.
 */
export async function prepareOutDir(dir: string): Promise<void> {
  try {
    await Deno.mkdir(dir, { recursive: true });
  } catch (e) {
    throw new DataError(
      `cannot create the output folder ${dir} (${(e as Error).message}); pass a writable --out`,
    );
  }
  // An existing folder may still refuse files: try one.
  try {
    const probe = await Deno.makeTempFile({ dir, prefix: ".visioneval-probe-" });
    await Deno.remove(probe);
  } catch (e) {
    throw new DataError(
      `cannot write into the output folder ${dir} (${(e as Error).message}); ` +
        `pass a writable --out`,
    );
  }
}

function tripleArg(s: string, name: string): [number, number, number] {
  const v = s.split(",").map(Number);
  if (v.length !== 3 || v.some((x) => !Number.isFinite(x))) {
    throw new UsageError(`${name} must be three comma-separated numbers, got "${s}"`);
  }
  return v as [number, number, number];
}

/** Preprocessing overrides from parsed option values. */
export function preprocessOverrides(v: Record<string, unknown>): PreprocessOverrides {
  const o: PreprocessOverrides = {};
  if (typeof v.size === "string") o.size = sizeArg(v.size, "--size");
  if (typeof v.crop === "string") o.crop = v.crop === "0" ? null : sizeArg(v.crop, "--crop");
  if (typeof v["crop-pct"] === "string") {
    const f = Number(v["crop-pct"]);
    if (!(f > 0 && f <= 1)) {
      throw new UsageError(`--crop-pct must be in (0, 1], got "${v["crop-pct"]}"`);
    }
    o.cropPct = f;
  }
  if (typeof v.interpolation === "string") {
    if (!FILTERS.includes(v.interpolation as Interpolation)) {
      throw new UsageError(`--interpolation must be one of ${FILTERS.join(", ")}`);
    }
    o.interpolation = v.interpolation as Interpolation;
  }
  if (typeof v.mean === "string") o.mean = tripleArg(v.mean, "--mean");
  if (typeof v.std === "string") {
    o.std = tripleArg(v.std, "--std");
    if (o.std.some((s) => !(s > 0))) {
      throw new UsageError(
        `--std must be three positive numbers (pixels are divided by them), got "${v.std}"`,
      );
    }
  }
  return o;
}

/** Parses `--shard i/n`. */
export function shardArg(s: string | undefined): Shard | undefined {
  if (s === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(s);
  if (!m) throw new UsageError(`--shard must be i/n (0-based, e.g. 0/4), got "${s}"`);
  const index = Number(m[1]), count = Number(m[2]);
  if (count < 1 || index >= count) throw new UsageError(`--shard ${s}: need 0 <= i < n`);
  return { index, count };
}

/** Prints what loading inferred or assumed about the model (the run header's model lines). */
export function printModelNotes(model: ClassifierModel): void {
  for (const n of model.notes ?? []) console.error(`visioneval: model: ${n}`);
}

/** Parses a fraction strictly between 0 and 1 (e.g. `--calibration-split 0.5`). */
export function fractionArg(s: string | undefined, name: string): number | undefined {
  if (s === undefined) return undefined;
  const f = Number(s);
  if (!(f > 0 && f < 1)) {
    throw new UsageError(`${name} must be a fraction strictly between 0 and 1, got "${s}"`);
  }
  return f;
}
