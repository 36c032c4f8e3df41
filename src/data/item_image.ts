/**
 * Reading one dataset item's image, wherever it is: a file of its own, a
 * CIFAR record, a tar member (WebDataset), a parquet row, or bytes the
 * loader already read. Every reader of items (loader workers, report
 * thumbnails, explanation maps) goes through here.
 */
import { dirname, resolve } from "node:path";
import { DataError } from "../errors.ts";
import { type DatasetItem, type FileSlice, readCifarRecord } from "./datasets.ts";
import { decodeImage, ImageDecodeError, readImage, type RgbImage } from "./decode.ts";
import { ParquetRowReader } from "./parquet_rows.ts";

/** Reads the bytes of a slice of a file (a tar member). */
export async function readFileSlice(slice: FileSlice): Promise<Uint8Array> {
  const buf = new Uint8Array(slice.size);
  const f = await Deno.open(slice.file, { read: true });
  try {
    await f.seek(slice.offset, Deno.SeekMode.Start);
    let got = 0;
    while (got < buf.length) {
      const n = await f.read(buf.subarray(got));
      if (n === null) {
        throw new DataError(`${slice.file}: member at byte ${slice.offset} is cut short`);
      }
      got += n;
    }
  } finally {
    f.close();
  }
  return buf;
}

/**
 * The encoded bytes of a parquet item (null for other items), read through
 * `reader` (one row group kept: read rows in order). A row that stores
 * only a path is read from that file (relative to the parquet file's
 * folder). A row with neither, a path that cannot be read, or a row group
 * that cannot be read, is an {@link ImageDecodeError} for that item.
 */
export async function parquetItemBytes(
  item: DatasetItem,
  reader: ParquetRowReader,
): Promise<Uint8Array | null> {
  if (!item.parquet) return null;
  let cell;
  try {
    cell = await reader.cell(item.parquet);
  } catch (e) {
    if (!(e instanceof DataError)) throw e;
    throw new ImageDecodeError(item.path, e.message);
  }
  if (cell.bytes) return cell.bytes;
  if (!cell.stored) throw new ImageDecodeError(item.path, "the row has no image bytes");
  // The `datasets` Image feature may store only a path (bytes null): the image is a file
  // beside the dataset, so a relative path is taken from the parquet file's folder.
  const file = resolve(dirname(item.parquet.file), cell.stored);
  try {
    return await Deno.readFile(file);
  } catch (e) {
    throw new ImageDecodeError(
      item.path,
      `the row has no image bytes, only the path ${cell.stored}, and ${file} cannot be read ` +
        `(${(e as Error).message}); keep the images where the path says, relative to the ` +
        `parquet file`,
    );
  }
}

/**
 * Attaches the encoded bytes of the parquet items among `items` (in
 * place), reading in order through `reader`; an item whose bytes cannot be
 * had gets `unreadable` (the reason) instead, so it is listed as failed.
 */
export async function attachParquetBytes(
  items: DatasetItem[],
  reader: ParquetRowReader,
): Promise<void> {
  for (const it of items) {
    if (!it.parquet || it.bytes) continue;
    try {
      it.bytes = (await parquetItemBytes(it, reader))!;
    } catch (e) {
      if (!(e instanceof ImageDecodeError)) throw e;
      it.unreadable = e.reason;
    }
  }
}

/** Decodes an item's image (see the module comment). */
export async function readItemImage(
  item: DatasetItem,
  reader?: ParquetRowReader,
): Promise<RgbImage> {
  if (item.unreadable) throw new ImageDecodeError(item.path, item.unreadable);
  if (item.bytes) return await decodeImage(item.bytes, item.path);
  if (item.record) return await readCifarRecord(item.record);
  if (item.slice) {
    let bytes: Uint8Array;
    try {
      bytes = await readFileSlice(item.slice);
    } catch (e) {
      throw new ImageDecodeError(item.path, `cannot read (${(e as Error).message})`);
    }
    return await decodeImage(bytes, item.path);
  }
  if (item.parquet) {
    const bytes = await parquetItemBytes(item, reader ?? new ParquetRowReader());
    return await decodeImage(bytes!, item.path);
  }
  return await readImage(item.path);
}
