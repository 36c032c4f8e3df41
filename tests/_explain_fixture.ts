/**
 * Reads tensors from a fixture `.safetensors` file for the explain tests,
 * through the project's safetensors reader.
 */
import { SafetensorsFile } from "../src/weights/safetensors.ts";

/** A host tensor. */
export interface HostTensor {
  /** Dimensions. */
  shape: number[];
  /** Values (F32 as Float32Array, I32 as Int32Array). */
  data: Float32Array | Int32Array;
}

/** The named tensors (all when `names` is omitted) of a safetensors file. */
export async function readFixtureTensors(
  path: string,
  names?: string[],
): Promise<Map<string, HostTensor>> {
  const file = await SafetensorsFile.open(path);
  try {
    const out = new Map<string, HostTensor>();
    for (const name of names ?? file.names()) {
      const info = file.info(name);
      const data = info.dtype === "I32"
        ? new Int32Array(await file.read(name) as Int32Array)
        : await file.readF32(name);
      out.set(name, { shape: [...info.shape], data });
    }
    return out;
  } finally {
    file.close();
  }
}
