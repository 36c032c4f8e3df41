/**
 * Web Worker body of the loader: receives a batch of items and a pipeline,
 * answers with the prepared pixels (transferred, not copied).
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
import { type BatchRequest, prepareBatch } from "./prepare.ts";

self.onmessage = async (e: MessageEvent<BatchRequest>) => {
  const { id, items, cfg, outSize } = e.data;
  try {
    const r = await prepareBatch(items, cfg, outSize);
    self.postMessage({ id, ...r }, [r.pixels.buffer as ArrayBuffer]);
  } catch (err) {
    self.postMessage({ id, error: String((err as Error)?.stack ?? err) });
  }
};
