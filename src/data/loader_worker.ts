/**
 * Web Worker body of the loader: receives a batch of items and a pipeline,
 * answers with the prepared pixels (transferred, not copied).
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { type BatchRequest, prepareBatch } from "./prepare.ts";

self.onmessage = async (e: MessageEvent<BatchRequest>) => {
  const { id, items, cfg, outSize, tta } = e.data;
  try {
    const r = await prepareBatch(items, cfg, outSize, tta);
    const buffers = [r.pixels, ...(r.groups ?? [])].map((a) => a.buffer as ArrayBuffer);
    self.postMessage({ id, ...r }, buffers);
  } catch (err) {
    self.postMessage({ id, error: String((err as Error)?.stack ?? err) });
  }
};
