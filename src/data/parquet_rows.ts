/**
 * Reading image rows out of parquet files with bounded memory: one row
 * group of the image column at a time. A dataset lists its rows in file
 * order, so a loader walking the rows decodes every row group once and
 * holds at most one (plus the batches in flight); a random read (a report
 * thumbnail) decodes the row group of that one row.
 *
 * hyparquet does the parquet work (pages, encodings, Snappy built in; ZSTD,
 * GZIP, Brotli, LZ4 through hyparquet-compressors); this file only opens
 * files and keeps the current row group.
 */
import { parquetMetadataAsync, parquetRead } from "hyparquet";
import type { AsyncBuffer, FileMetaData } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import { DataError } from "../errors.ts";

/** Where one image is in a parquet file. */
export interface ParquetRowRef {
  /** The parquet file. */
  file: string;
  /** Row number in the file (0-based). */
  row: number;
  /** Top-level column holding the image (a struct with `bytes`, or binary). */
  column: string;
}

/** An image cell: its encoded bytes and, for the `datasets` Image feature, its stored path. */
export interface ParquetImageCell {
  /** Encoded image (null when the row has no bytes). */
  bytes: Uint8Array | null;
  /** The path the row stores, when it stores one. */
  stored?: string;
}

/** hyparquet's codecs: Snappy built in, the others from hyparquet-compressors. */
export const PARQUET_COMPRESSORS: typeof compressors = compressors;

/** A parquet file as hyparquet's AsyncBuffer: each slice is one positioned read. */
export async function parquetFileBuffer(path: string): Promise<AsyncBuffer> {
  let size: number;
  try {
    size = (await Deno.stat(path)).size;
  } catch (e) {
    throw new DataError(`cannot read parquet file ${path}: ${(e as Error).message}`);
  }
  return {
    byteLength: size,
    async slice(start: number, end = size): Promise<ArrayBuffer> {
      const buf = new Uint8Array(Math.max(0, end - start));
      const f = await Deno.open(path, { read: true });
      try {
        await f.seek(start, Deno.SeekMode.Start);
        let got = 0;
        while (got < buf.length) {
          const n = await f.read(buf.subarray(got));
          if (n === null) {
            throw new DataError(`${path}: parquet file is cut short at ${start + got}`);
          }
          got += n;
        }
      } finally {
        f.close();
      }
      return buf.buffer;
    },
  };
}

/** Reads a parquet file's footer (schema, row groups, key-value metadata). */
export async function readParquetMetadata(
  path: string,
): Promise<{ buffer: AsyncBuffer; metadata: FileMetaData }> {
  const buffer = await parquetFileBuffer(path);
  try {
    return { buffer, metadata: await parquetMetadataAsync(buffer) };
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(
      `${path} is not a readable parquet file (${(e as Error).message}); ` +
        `check that the download finished`,
    );
  }
}

/**
 * Reads rows [start, end) of one top-level column (values as hyparquet
 * assembles them: structs as objects, binary as Uint8Array).
 */
export async function readParquetColumn(
  path: string,
  source: { buffer: AsyncBuffer; metadata: FileMetaData },
  column: string,
  start: number,
  end: number,
): Promise<unknown[]> {
  let rows: unknown[][] = [];
  try {
    await parquetRead({
      file: source.buffer,
      metadata: source.metadata,
      columns: [column],
      rowStart: start,
      rowEnd: end,
      utf8: false,
      compressors: PARQUET_COMPRESSORS,
      onComplete: (r: unknown[][]) => (rows = r),
    });
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(
      `${path}: cannot read column "${column}" rows ${start}..${end - 1} ` +
        `(${(e as Error).message})`,
    );
  }
  return rows.map((r) => r[0]);
}

/** Turns a cell of an image column into bytes (+ stored path). */
export function imageCell(value: unknown): ParquetImageCell {
  if (value instanceof Uint8Array) return { bytes: value };
  if (value && typeof value === "object") {
    const o = value as { bytes?: unknown; path?: unknown };
    const bytes = o.bytes instanceof Uint8Array ? o.bytes : null;
    const stored = typeof o.path === "string" && o.path ? o.path : undefined;
    return stored ? { bytes, stored } : { bytes };
  }
  return { bytes: null };
}

/**
 * Reads image cells in row order, keeping one row group of one file in
 * memory: reading the rows of a dataset in order decodes each row group
 * once. Any order works; going back re-reads a row group.
 */
export class ParquetRowReader {
  readonly #files = new Map<
    string,
    { buffer: AsyncBuffer; metadata: FileMetaData; starts: number[] }
  >();
  #group: { file: string; column: string; start: number; cells: unknown[] } | null = null;
  #groupsRead = 0;

  /** Row groups decoded so far (each once when rows are read in order). */
  get groupsRead(): number {
    return this.#groupsRead;
  }

  /** Rows held in memory now: one row group's at most. */
  get rowsHeld(): number {
    return this.#group?.cells.length ?? 0;
  }

  /** The image cell of one row. */
  async cell(ref: ParquetRowRef): Promise<ParquetImageCell> {
    const g = this.#group;
    if (
      !g || g.file !== ref.file || g.column !== ref.column || ref.row < g.start ||
      ref.row >= g.start + g.cells.length
    ) {
      this.#group = null; // the old group is dropped before the next is read
      this.#group = await this.#readGroup(ref);
    }
    const cur = this.#group!;
    return imageCell(cur.cells[ref.row - cur.start]);
  }

  async #readGroup(ref: ParquetRowRef) {
    let f = this.#files.get(ref.file);
    if (!f) {
      const { buffer, metadata } = await readParquetMetadata(ref.file);
      const starts = [0];
      for (const g of metadata.row_groups) starts.push(starts.at(-1)! + Number(g.num_rows));
      f = { buffer, metadata, starts };
      this.#files.set(ref.file, f);
    }
    // The row group holding the row: its rows are read together.
    let gi = 0;
    while (gi + 1 < f.starts.length - 1 && f.starts[gi + 1] <= ref.row) gi++;
    const start = f.starts[gi], end = f.starts[gi + 1];
    if (ref.row >= f.starts.at(-1)!) {
      throw new DataError(`${ref.file} has ${f.starts.at(-1)} rows, no row ${ref.row}`);
    }
    const cells = await readParquetColumn(ref.file, f, ref.column, start, end);
    this.#groupsRead++;
    return { file: ref.file, column: ref.column, start, cells };
  }
}
