/**
 * PNG encoding of raw 8-bit pixels (gray, RGB or RGBA) with node:zlib, and
 * data: URIs for embedding images into the HTML report.
 */
import { deflateSync } from "node:zlib";
import type { RasterImage } from "./types.ts";

/** CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) table, as PNG chunks require. */
const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(bytes: Uint8Array, start: number, end: number): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A PNG chunk: length, type, data, CRC over type+data (also used by the tests' PNG writer). */
export function pngChunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out, 4, 8 + data.length));
  return out;
}

/** Number of interleaved channels of an image (1, 3 or 4), checked against its size. */
export function channelsOf(img: RasterImage): 1 | 3 | 4 {
  const px = img.width * img.height;
  if (!(Number.isInteger(img.width) && Number.isInteger(img.height) && px > 0)) {
    throw new RangeError(`image size ${img.width}x${img.height} is not a positive integer size`);
  }
  const c = img.data.length / px;
  if (c !== 1 && c !== 3 && c !== 4) {
    throw new RangeError(
      `image ${img.width}x${img.height} has ${img.data.length} bytes: expected 1, 3 or 4 per pixel`,
    );
  }
  return c;
}

/**
 * Encodes an 8-bit gray/RGB/RGBA image as PNG (no interlace). Rows use the
 * "Up" filter, which compresses smooth images well at no search cost.
 */
export function encodePng(img: RasterImage): Uint8Array {
  const channels = channelsOf(img);
  const { width, height, data } = img;
  const stride = width * channels;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    const o = y * (stride + 1);
    raw[o] = y === 0 ? 0 : 2; // filter type: None for the first row, Up after
    const row = y * stride;
    for (let i = 0; i < stride; i++) {
      raw[o + 1 + i] = y === 0 ? data[row + i] : (data[row + i] - data[row - stride + i]) & 0xff;
    }
  }
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = channels === 1 ? 0 : channels === 3 ? 2 : 6; // color type
  const idat = new Uint8Array(deflateSync(raw, { level: 6 }));
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk("IHDR", header),
    pngChunk("IDAT", idat),
    pngChunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** MIME type of encoded image bytes from their magic number (PNG, JPEG, GIF, WebP). */
export function imageMime(bytes: Uint8Array): string {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return "image/png";
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return "image/jpeg";
  if (bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46) return "image/gif";
  if (bytes[8] === 0x57 && bytes[9] === 0x45 && bytes[10] === 0x42 && bytes[11] === 0x50) {
    return "image/webp";
  }
  throw new RangeError("unknown image format (expected PNG, JPEG, GIF or WebP bytes)");
}

/** Base64 of bytes (chunked so large images do not overflow the argument limit). */
export function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/** `data:` URI of encoded image bytes, or of raw pixels (encoded as PNG first). */
export function imageDataUri(image: Uint8Array | RasterImage): string {
  const bytes = image instanceof Uint8Array ? image : encodePng(image);
  return `data:${imageMime(bytes)};base64,${base64(bytes)}`;
}
