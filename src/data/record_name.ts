/**
 * Names of images that live inside a container file (a CIFAR batch, a
 * parquet file, a WebDataset tar shard) rather than in a file of their own.
 *
 * The name is what `predictions.csv`, `metrics.json`'s failed list, `merge`
 * and `compare` use to identify an image, so it is made in one place:
 * `FILE#RECORD`, where RECORD is the row (parquet, 0-based), the record
 * index (CIFAR) or the sample key (WebDataset), plus `:STORED` when the
 * container stores the image's original path (Hugging Face's Image feature
 * keeps one). Two runs over the same container give the same names.
 */

/** The parts of a record name. */
export interface RecordName {
  /** The container file (as given to the dataset, resolved). */
  file: string;
  /** Row number, record index or sample key inside the file. */
  record: string;
  /** The path the container stores for the image, when it stores one. */
  stored?: string;
}

/** `FILE#RECORD` or `FILE#RECORD:STORED` (see the module comment). */
export function recordName(file: string, record: number | string, stored?: string | null): string {
  return stored ? `${file}#${record}:${stored}` : `${file}#${record}`;
}

/**
 * Splits a record name into its parts, or returns null for a plain file
 * path. The file ends at the last `#` before the record (file names may
 * hold `#`); a numeric record ends at the first `:` (the stored path may
 * hold any character). WebDataset keys are not numeric, so their names
 * are split at the `#` only.
 */
export function parseRecordName(name: string): RecordName | null {
  const m = /^(.*\.(?:parquet|bin))#(\d+)(?::(.*))?$/s.exec(name);
  if (m) return m[3] ? { file: m[1], record: m[2], stored: m[3] } : { file: m[1], record: m[2] };
  const t = /^(.*\.tar)#(.+)$/s.exec(name);
  return t ? { file: t[1], record: t[2] } : null;
}
