/**
 * The one entry point that opens any dataset a user points at: parquet
 * files (read asynchronously), WebDataset tar shards, an image folder with
 * an ImageNet-style ground-truth file, and everything {@link openDataset}
 * reads (ImageFolder, labels CSV, CIFAR batches, images, globs).
 */
import { DataError } from "../errors.ts";
import { type Dataset, finishDataset, openDataset, type OpenDatasetOptions } from "./datasets.ts";
import { groundTruthFormat, type GroundTruthOptions, openGroundTruth } from "./ground_truth.ts";
import {
  folderHoldsParquet,
  isParquetPath,
  openParquetDataset,
  type ParquetDatasetOptions,
} from "./parquet.ts";
import { isTarPath, openWebDataset, type WebDatasetOptions } from "./webdataset.ts";

/** Options of {@link loadDataset}: every reader's. */
export interface LoadDatasetOptions
  extends OpenDatasetOptions, ParquetDatasetOptions, WebDatasetOptions, GroundTruthOptions {}

function isDir(path: string): boolean {
  try {
    return Deno.statSync(path).isDirectory;
  } catch {
    return false;
  }
}

/** Opens a dataset of any supported kind (see the module comment). */
export async function loadDataset(
  path: string | readonly string[],
  opts: LoadDatasetOptions = {},
): Promise<Dataset> {
  const paths = typeof path === "string" ? [path] : [...path];
  if (!paths.length) throw new DataError("no dataset given");
  const folder = paths.length === 1 && isDir(paths[0]);
  if (opts.labels && folder && groundTruthFormat(opts.labels)) {
    return finishDataset(openGroundTruth(paths[0], opts.labels, opts), opts);
  }
  if (paths.every(isParquetPath) || (folder && !opts.labels && folderHoldsParquet(paths[0]))) {
    return finishDataset(await openParquetDataset(paths, opts), opts);
  }
  if (opts.split !== undefined) {
    throw new DataError(`--split picks a split of parquet files; ${paths[0]} holds none`);
  }
  if (paths.every(isTarPath)) return finishDataset(openWebDataset(paths, opts), opts);
  if (opts.labelField !== undefined) {
    throw new DataError(`--label-field reads WebDataset json labels; ${paths[0]} is no .tar shard`);
  }
  return openDataset(paths.length === 1 ? paths[0] : paths, opts);
}
