/**
 * One batch of dataset items -> normalised pixels. This is the unit of work
 * the loader hands to a worker (or runs in-process with 0 workers): read,
 * decode, preprocess each item into its slot of a [B, 3, H, W] buffer;
 * failures are collected with their reasons, never thrown.
 */
import type { DatasetItem } from "./datasets.ts";
import { DataError } from "../errors.ts";
import { prepareGroupCrops, type TtaGroup } from "./tta.ts";
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
  /** Test-time augmentation: per group, the crops to prepare (then `pixels` is empty). */
  tta?: Pick<TtaGroup, "cfg" | "crops" | "outSize">[];
}

/** Result of preparing a list of items. */
export interface PreparedBatch {
  /** [B, 3, H, W] float32 for the B items that succeeded, in order. */
  pixels: Float32Array;
  /** Positions (in the input list) of the items that succeeded. */
  ok: number[];
  /** Items that failed. */
  failed: FailedItem[];
  /** With TTA groups: per group, [B * R, 3, H, W] crops of the B items that succeeded. */
  groups?: Float32Array[];
}

/** Reads, decodes and preprocesses `items` into one batch buffer. */
export async function prepareBatch(
  items: DatasetItem[],
  cfg: PreprocessConfig,
  outSize: [number, number],
  tta?: Pick<TtaGroup, "cfg" | "crops" | "outSize">[],
): Promise<PreparedBatch> {
  if (tta) return await prepareTtaBatch(items, tta);
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

/** Reads and decodes each item once and writes every TTA group's crops of it. */
async function prepareTtaBatch(
  items: DatasetItem[],
  groups: Pick<TtaGroup, "cfg" | "crops" | "outSize">[],
): Promise<PreparedBatch> {
  const per = groups.map((g) => g.crops.length * 3 * g.outSize[0] * g.outSize[1]);
  const full = per.map((n) => new Float32Array(items.length * n));
  const tables = groups.map((g) => normalizationTable(g.cfg));
  const ok: number[] = [];
  const failed: FailedItem[] = [];
  for (let i = 0; i < items.length; i++) {
    const item = items[i];
    try {
      const rgb = await readItemImage(item);
      groups.forEach((g, k) => prepareGroupCrops(rgb, g, full[k], ok.length * per[k], tables[k]));
      ok.push(i);
    } catch (e) {
      const reason = e instanceof ImageDecodeError
        ? e.reason
        : e instanceof DataError
        ? e.message
        : `unexpected error: ${(e as Error)?.message ?? e}`;
      failed.push({ path: item.path, reason });
    }
  }
  const pixelGroups = full.map((f, k) =>
    ok.length === items.length ? f : f.slice(0, ok.length * per[k])
  );
  return { pixels: new Float32Array(0), ok, failed, groups: pixelGroups };
}
