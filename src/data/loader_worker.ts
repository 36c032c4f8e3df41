/**
 * Web Worker body of the loader: receives a batch of items and a pipeline,
 * answers with the prepared pixels (transferred, not copied).
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import type { DatasetItem } from "./datasets.ts";
import type { PreprocessConfig } from "./preprocess.ts";
import { prepareBatch } from "./prepare.ts";

/** Message from the loader. */
export interface WorkerRequest {
  /** Batch number, echoed back. */
  id: number;
  /** Items of the batch. */
  items: DatasetItem[];
  /** Pipeline. */
  cfg: PreprocessConfig;
  /** Output [H, W]. */
  outSize: [number, number];
}

self.onmessage = async (e: MessageEvent<WorkerRequest>) => {
  const { id, items, cfg, outSize } = e.data;
  try {
    const r = await prepareBatch(items, cfg, outSize);
    self.postMessage({ id, ...r }, [r.pixels.buffer as ArrayBuffer]);
  } catch (err) {
    self.postMessage({ id, error: String((err as Error)?.stack ?? err) });
  }
};
