/**
 * One batch of dataset items -> normalised pixels. This is the unit of work
 * the loader hands to a worker (or runs in-process with 0 workers): read,
 * decode, preprocess each item into its slot of a [B, 3, H, W] buffer;
 * failures are collected with their reasons, never thrown.
 */
import type { DatasetItem } from "./datasets.ts";
import { ImageDecodeError } from "./decode.ts";
import { readItemImage } from "./item_image.ts";
import {
  normalizationTable,
  preprocess,
  type PreprocessConfig,
  resizeAndCrop,
} from "./preprocess.ts";

/** An item that could not be used, and why. */
export interface FailedItem {
  /** Image path (or `batch.bin#index`). */
  path: string;
  /** Short reason (corrupt JPEG, truncated, unsupported format, ...). */
  reason: string;
}

/** A batch of work for a loader worker. */
export interface BatchRequest {
  /** Request number, echoed back. */
  id: number;
  /** Items of the batch. */
  items: DatasetItem[];
  /** Pipeline. */
  cfg: PreprocessConfig;
  /** Output [H, W]. */
  outSize: [number, number];
}

/** Result of preparing a list of items. */
export interface PreparedBatch {
  /** [B, 3, H, W] float32 for the B items that succeeded, in order. */
  pixels: Float32Array;
  /** Positions (in the input list) of the items that succeeded. */
  ok: number[];
  /** Items that failed. */
  failed: FailedItem[];
}

/** Reads, decodes and preprocesses `items` into one batch buffer. */
export async function prepareBatch(
  items: DatasetItem[],
  cfg: PreprocessConfig,
  outSize: [number, number],
): Promise<PreparedBatch> {
  const [h, w] = outSize;
  const per = 3 * h * w;
  const full = new Float32Array(items.length * per);
  const table = normalizationTable(cfg);
  const ok: number[] = [];
  const failed: FailedItem[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    try {
      const rgb = await readItemImage(item);
      const img = resizeAndCrop(rgb, cfg);
      if (img.width !== w || img.height !== h) {
        failed.push({
          path: item.path,
          reason: `preprocessed to ${img.width}x${img.height}, expected ${w}x${h} ` +
            `(set a crop or an exact resize)`,
        });
        continue;
      }
      preprocess(img, { ...cfg, resizeMode: "none", crop: null }, full, ok.length * per, table);
      ok.push(i);
    } catch (e) {
      const reason = e instanceof ImageDecodeError
        ? e.reason
        : `unexpected error: ${(e as Error)?.message ?? e}`;
      failed.push({ path: item.path, reason });
    }
  }
  // Hand back exactly B images (no copy when nothing failed).
  const pixels = ok.length === items.length ? full : full.slice(0, ok.length * per);
  return { pixels, ok, failed };
}
