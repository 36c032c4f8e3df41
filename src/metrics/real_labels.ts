/**
 * ReaL labels (Beyer et al. 2020, "Are we done with ImageNet?"): for each
 * ImageNet validation image, the set of classes that are a correct answer
 * (`real.json`: a list of 50,000 lists of ImageNet-1k class indices, entry
 * i for `ILSVRC2012_val_{i+1:08d}`). ReaL top-k counts a prediction correct
 * when any of its k best classes is in the set; images whose set is empty
 * are left out, as timm's validate does with `--real-labels`.
 */
import { DataError } from "../errors.ts";
import { requireRegularFile } from "../files.ts";

/** ReaL accuracy of an evaluation. */
export interface RealLabelsResult {
  /** The real.json file. */
  file: string;
  /** ReaL top-1 over the images with a ReaL label. */
  top1: number | null;
  /** ReaL top-5 (null when fewer than 5 predictions per image were kept). */
  top5: number | null;
  /** Images scored (those with a non-empty ReaL label set). */
  images: number;
  /** Images left out because their ReaL label set is empty. */
  excluded_no_label: number;
  /** Images left out because their name is no `ILSVRC2012_val_NNNNNNNN`. */
  excluded_not_in_file: number;
}

/** Reads real.json: per validation image, its list of correct class indices. */
export function readRealLabels(path: string): number[][] {
  requireRegularFile(path, "ReaL labels file");
  let data: unknown;
  try {
    data = JSON.parse(Deno.readTextFileSync(path));
  } catch (e) {
    throw new DataError(`cannot read ReaL labels ${path}: ${(e as Error).message}`);
  }
  if (
    !Array.isArray(data) ||
    !data.every((l) => Array.isArray(l) && l.every((c) => Number.isInteger(c) && c >= 0))
  ) {
    throw new DataError(
      `${path}: ReaL labels must be a JSON list of lists of class indices (real.json)`,
    );
  }
  return data as number[][];
}

/** The 0-based validation index named in an image path (`ILSVRC2012_val_00000001` -> 0). */
export function validationIndex(path: string): number | null {
  const m = /ILSVRC2012_val_(\d{8})(?!.*ILSVRC2012_val_\d{8})/.exec(path);
  return m ? Number(m[1]) - 1 : null;
}

/**
 * ReaL top-1 / top-5 of predictions (`top`: model class indices, best
 * first) against the ReaL label sets.
 */
export function realLabelAccuracy(
  predictions: readonly { path: string; top5?: ArrayLike<number> }[],
  real: readonly number[][],
  file: string,
): RealLabelsResult {
  let images = 0, noLabel = 0, notInFile = 0, hit1 = 0, hit5 = 0;
  let five = true;
  for (const p of predictions) {
    const i = validationIndex(p.path);
    if (i === null || i >= real.length) {
      notInFile++;
      continue;
    }
    const set = real[i];
    if (!set.length) {
      noLabel++;
      continue;
    }
    const top = Array.from(p.top5 ?? []);
    images++;
    if (set.includes(top[0])) hit1++;
    if (top.length < 5) five = false;
    if (top.slice(0, 5).some((c) => set.includes(c))) hit5++;
  }
  return {
    file,
    top1: images ? hit1 / images : null,
    top5: images && five ? hit5 / images : null,
    images,
    excluded_no_label: noLabel,
    excluded_not_in_file: notInFile,
  };
}
