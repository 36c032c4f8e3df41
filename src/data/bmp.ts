/**
 * Windows BMP to 8-bit RGB, as Pillow's `convert("RGB")` sees it: 24- and
 * 32-bit pixels (BI_RGB, or BI_BITFIELDS with 8-bit masks), 1/4/8-bit
 * palettes, bottom-up or top-down rows; alpha dropped. torchvision's
 * ImageFolder lists .bmp. Run-length compressed files are refused.
 */
import type { RgbImage } from "./resize.ts";

/** A BMP this decoder cannot read: why. */
export class BmpError extends Error {}

/** Decodes BMP bytes (starting with "BM"); `maxPixels` bounds the size before allocating. */
export function decodeBmp(bytes: Uint8Array, maxPixels: number): RgbImage {
  if (bytes.length < 26) throw new BmpError("truncated BMP (header)");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dataAt = dv.getUint32(10, true);
  const headerSize = dv.getUint32(14, true);
  if (headerSize < 40 || 14 + headerSize > bytes.length) {
    throw new BmpError(`unsupported BMP (header of ${headerSize} bytes)`);
  }
  const width = dv.getInt32(18, true);
  const rawHeight = dv.getInt32(22, true);
  const height = Math.abs(rawHeight);
  const topDown = rawHeight < 0;
  const bpp = dv.getUint16(28, true);
  const compression = dv.getUint32(30, true);
  if (width < 1 || height < 1) throw new BmpError("corrupt BMP (empty image)");
  if (width * height > maxPixels) throw new BmpError(`image too large (${width}x${height} pixels)`);

  // Channel masks: BI_BITFIELDS (3) stores them after the 40-byte header (or inside V4/V5).
  let masks = [0xff0000, 0xff00, 0xff];
  if (compression === 3 && (bpp === 32 || bpp === 16)) {
    if (14 + 40 + 12 > bytes.length) throw new BmpError("truncated BMP (bit masks)");
    masks = [dv.getUint32(54, true), dv.getUint32(58, true), dv.getUint32(62, true)];
  } else if (compression !== 0) {
    throw new BmpError(`unsupported BMP compression ${compression} (run-length or embedded)`);
  }
  if (![1, 4, 8, 24, 32].includes(bpp)) throw new BmpError(`unsupported BMP (${bpp}-bit pixels)`);
  const shiftOf = (m: number) => {
    let s = 0;
    while (s < 32 && ((m >>> s) & 1) === 0) s++;
    return s;
  };
  const shifts = masks.map(shiftOf);
  if (bpp === 32 && masks.some((m, i) => m >>> shifts[i] !== 0xff)) {
    throw new BmpError("unsupported BMP (channel masks other than 8 bits)");
  }

  // Palette (B, G, R, reserved) after the header, for 1/4/8-bit images.
  let palette: Uint8Array | null = null;
  if (bpp <= 8) {
    const colors = dv.getUint32(46, true) || 1 << bpp;
    const at = 14 + headerSize;
    if (at + 4 * colors > bytes.length) throw new BmpError("truncated BMP (palette)");
    palette = bytes.subarray(at, at + 4 * colors);
  }
  const stride = Math.ceil((width * bpp) / 32) * 4;
  if (dataAt + stride * height > bytes.length) throw new BmpError("truncated BMP (pixel data)");

  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = dataAt + (topDown ? y : height - 1 - y) * stride;
    for (let x = 0; x < width; x++) {
      const d = (y * width + x) * 3;
      if (bpp === 24) {
        out[d] = bytes[row + 3 * x + 2];
        out[d + 1] = bytes[row + 3 * x + 1];
        out[d + 2] = bytes[row + 3 * x];
      } else if (bpp === 32) {
        const v = dv.getUint32(row + 4 * x, true);
        out[d] = (v >>> shifts[0]) & 255;
        out[d + 1] = (v >>> shifts[1]) & 255;
        out[d + 2] = (v >>> shifts[2]) & 255;
      } else {
        const perByte = 8 / bpp;
        const byte = bytes[row + Math.floor(x / perByte)];
        const index = (byte >> (8 - bpp * (1 + (x % perByte)))) & ((1 << bpp) - 1);
        if (4 * index + 2 >= palette!.length) throw new BmpError("corrupt BMP (palette index)");
        out[d] = palette![4 * index + 2];
        out[d + 1] = palette![4 * index + 1];
        out[d + 2] = palette![4 * index];
      }
    }
  }
  return { width, height, data: out };
}
