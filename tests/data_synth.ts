/**
 * Synthetic test images for the data tests: a minimal PNG writer (every color
 * type and bit depth PNG allows that we decode) so the decoder tests know the
 * exact pixels they must get back, without shipping image files.
 */
import { deflateSync } from "node:zlib";
import { pngChunk as chunk } from "../src/report/png.ts";

/** PNG color types. */
export type PngColor = "gray" | "gray-alpha" | "rgb" | "rgba" | "palette";

const COLOR_TYPE: Record<PngColor, number> = {
  gray: 0,
  rgb: 2,
  palette: 3,
  "gray-alpha": 4,
  rgba: 6,
};
const CHANNELS: Record<PngColor, number> = {
  gray: 1,
  rgb: 3,
  palette: 1,
  "gray-alpha": 2,
  rgba: 4,
};

/**
 * Encodes `samples` (row-major, `channels` per pixel, values in 0..2^depth-1)
 * as a PNG with filter type 0 on every row. `palette` (RGB triplets) and
 * `transparency` (one alpha per palette entry) only for "palette".
 */
export function encodePng(opts: {
  width: number;
  height: number;
  color: PngColor;
  depth: 1 | 2 | 4 | 8 | 16;
  samples: ArrayLike<number>;
  palette?: Uint8Array;
  transparency?: Uint8Array;
}): Uint8Array {
  const { width, height, color, depth, samples } = opts;
  const ch = CHANNELS[color];
  const rowBits = width * ch * depth;
  const rowBytes = Math.ceil(rowBits / 8);
  const raw = new Uint8Array(height * (rowBytes + 1));
  for (let y = 0; y < height; y++) {
    const row = raw.subarray(y * (rowBytes + 1) + 1, (y + 1) * (rowBytes + 1));
    for (let i = 0; i < width * ch; i++) {
      const v = samples[y * width * ch + i];
      if (depth === 16) {
        row[2 * i] = v >> 8;
        row[2 * i + 1] = v & 255;
      } else if (depth === 8) {
        row[i] = v;
      } else {
        const bit = i * depth;
        row[bit >> 3] |= v << (8 - depth - (bit & 7));
      }
    }
  }
  const ihdr = new Uint8Array(13);
  const dv = new DataView(ihdr.buffer);
  dv.setUint32(0, width);
  dv.setUint32(4, height);
  ihdr[8] = depth;
  ihdr[9] = COLOR_TYPE[color];
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
  ];
  if (opts.palette) parts.push(chunk("PLTE", opts.palette));
  if (opts.transparency) parts.push(chunk("tRNS", opts.transparency));
  parts.push(chunk("IDAT", new Uint8Array(deflateSync(raw))));
  parts.push(chunk("IEND", new Uint8Array(0)));
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
