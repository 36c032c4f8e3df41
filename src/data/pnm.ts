/**
 * Netpbm images (PBM / PGM / PPM, "P1".."P6") to 8-bit RGB, as Pillow's
 * `convert("RGB")` sees them: gray repeated, bitmaps 1 = black. Listed by
 * torchvision's ImageFolder extensions (.ppm, .pgm) and used by some
 * datasets (GTSRB ships PPMs). Samples with a maxval other than 255 are
 * scaled to 0..255 (rounded half to even, as Pillow does). 16-bit gray is
 * scaled too, where Pillow opens mode "I" and clips (as for 16-bit PNGs).
 */
import type { RgbImage } from "./resize.ts";

/** A Netpbm file this decoder cannot read: why. */
export class PnmError extends Error {}

/** True if the bytes start like a Netpbm file ("P1".."P6" then whitespace). */
export function isPnm(b: Uint8Array): boolean {
  return b.length >= 3 && b[0] === 0x50 && b[1] >= 0x31 && b[1] <= 0x36 &&
    (b[2] === 0x20 || b[2] === 0x0a || b[2] === 0x0d || b[2] === 0x09);
}

/** Decodes a Netpbm file; `maxPixels` bounds width x height before allocating. */
export function decodePnm(bytes: Uint8Array, maxPixels: number): RgbImage {
  const kind = bytes[1] - 0x30; // 1..6
  let at = 2;
  const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
  // Header tokens: whitespace-separated decimals, '#' comments to the end of the line.
  const token = (): number => {
    for (;;) {
      while (at < bytes.length && isSpace(bytes[at])) at++;
      if (bytes[at] !== 0x23) break;
      while (at < bytes.length && bytes[at] !== 0x0a && bytes[at] !== 0x0d) at++;
    }
    let v = -1;
    while (at < bytes.length && bytes[at] >= 0x30 && bytes[at] <= 0x39) {
      v = (v < 0 ? 0 : v * 10) + bytes[at++] - 0x30;
      if (v > 1e9) throw new PnmError("corrupt Netpbm header (number too large)");
    }
    if (v < 0) throw new PnmError("corrupt Netpbm header");
    return v;
  };
  const width = token(), height = token();
  const bitmap = kind === 1 || kind === 4;
  const maxval = bitmap ? 1 : token();
  if (width < 1 || height < 1) throw new PnmError("corrupt Netpbm header (empty image)");
  if (width * height > maxPixels) {
    throw new PnmError(`image too large (${width}x${height} pixels)`);
  }
  if (maxval < 1 || maxval > 65535) throw new PnmError(`corrupt Netpbm header (maxval ${maxval})`);
  const channels = kind === 3 || kind === 6 ? 3 : 1;
  const n = width * height * channels;
  const values = new Uint16Array(n);
  if (kind <= 3) {
    // Plain (ASCII) formats; P1 digits may run together without spaces.
    for (let i = 0; i < n; i++) {
      if (kind === 1) {
        while (at < bytes.length && bytes[at] !== 0x30 && bytes[at] !== 0x31) at++;
        if (at >= bytes.length) throw new PnmError("truncated Netpbm data");
        values[i] = bytes[at++] - 0x30;
      } else {
        const v = token();
        values[i] = Math.min(v, maxval);
      }
    }
  } else {
    at++; // the single whitespace byte after the header
    if (kind === 4) {
      const rowBytes = Math.ceil(width / 8);
      if (at + rowBytes * height > bytes.length) throw new PnmError("truncated Netpbm data");
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          values[y * width + x] = (bytes[at + y * rowBytes + (x >> 3)] >> (7 - (x & 7))) & 1;
        }
      }
    } else {
      const wide = maxval > 255;
      if (at + n * (wide ? 2 : 1) > bytes.length) throw new PnmError("truncated Netpbm data");
      for (let i = 0; i < n; i++) {
        values[i] = wide ? (bytes[at + 2 * i] << 8) | bytes[at + 2 * i + 1] : bytes[at + i];
      }
    }
  }
  // v * 255 / maxval rounded half to even, as Pillow's rescaling gives it (exact integers).
  const rescale = (v: number) => {
    const r = (v * 255) % maxval, f = (v * 255 - r) / maxval;
    return 2 * r > maxval ? f + 1 : 2 * r < maxval ? f : f + (f & 1);
  };
  const to8 = (v: number) => bitmap ? (v ? 0 : 255) : maxval === 255 ? v : rescale(v);
  const data = new Uint8Array(width * height * 3);
  for (let p = 0; p < width * height; p++) {
    if (channels === 3) {
      data[3 * p] = to8(values[3 * p]);
      data[3 * p + 1] = to8(values[3 * p + 1]);
      data[3 * p + 2] = to8(values[3 * p + 2]);
    } else {
      data[3 * p] = data[3 * p + 1] = data[3 * p + 2] = to8(values[p]);
    }
  }
  return { width, height, data };
}
