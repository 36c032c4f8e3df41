/**
 * Image decoding to 8-bit RGB (HWC), the way PIL's
 * `Image.open(path).convert("RGB")` sees the file.
 *
 * - JPEG (baseline and progressive): libjpeg-turbo's decoder as built into
 *   mozjpeg (WebAssembly, `@jsquash/jpeg`), default settings = the islow
 *   IDCT and fancy chroma upsampling PIL uses, so pixels are identical to
 *   PIL's (bench/RESULTS.md compares decoders). A truncated JPEG is an error,
 *   as in PIL ("image file is truncated"); libjpeg's other warnings (e.g.
 *   extraneous bytes) are ignored, as PIL ignores them.
 * - PNG (1-16 bit, gray, gray+alpha, RGB, RGBA, palette): imagescript.
 * - TIFF (baseline: strips/tiles, none/LZW/Deflate/PackBits): ./tiff.ts.
 * - Netpbm PBM/PGM/PPM (torchvision's .ppm/.pgm; GTSRB): ./pnm.ts.
 * - BMP (24/32-bit, 1/4/8-bit palette, uncompressed): ./bmp.ts.
 *   16-bit samples keep their high byte (PIL does the same for 16-bit RGB;
 *   16-bit grayscale opens in PIL as mode "I;16", whose conversion to RGB
 *   clips rather than scales in the versions we know of; we scale instead).
 * - Grayscale becomes RGB by repeating the channel; alpha is dropped without
 *   compositing, like `convert("RGB")`.
 * - EXIF orientation is NOT applied (neither PIL, torchvision, timm nor
 *   Hugging Face apply it by default).
 * - GIF: the first frame (imagescript); transparent pixels show the palette
 *   colour of the transparent index, as in PIL.
 * - WebP: libwebp (WebAssembly, `@jsquash/webp`), as in Pillow.
 * - CMYK JPEGs (which libjpeg will not turn into RGB): imagescript's decoder,
 *   whose CMYK-to-RGB conversion is Pillow's (within 1 level of Pillow 9.4 on
 *   CMYK re-encodings of the ImageNet sample photos). Adobe YCCK files take
 *   the same route; we had none to test.
 * - Run-length BMPs are not supported (reported as decode failures with the
 *   reason, never silently skipped).
 */
import mozjpegFactory from "@jsquash/jpeg/codec/dec/mozjpeg_dec.js";
import webpFactory from "@jsquash/webp/codec/dec/webp_dec.js";
import { GIF, Image } from "imagescript";
import { DataError } from "../errors.ts";
import { notRegularFileReason } from "../files.ts";
import type { RgbImage } from "./resize.ts";
import { decodeTiff, TiffError } from "./tiff.ts";
import { decodePnm, isPnm, PnmError } from "./pnm.ts";
import { BmpError, decodeBmp } from "./bmp.ts";

export type { RgbImage } from "./resize.ts";

/** File formats we recognise by their first bytes. */
export type ImageFormat = "jpeg" | "png" | "tiff" | "gif" | "bmp" | "webp" | "unknown";

/** An image that could not be decoded: the file and why. */
export class ImageDecodeError extends DataError {
  /** Creates the error for `path` with a short `reason`. */
  constructor(readonly path: string, readonly reason: string) {
    super(`${path}: ${reason}`);
  }
}

/** Recognises an image format from its magic bytes. */
export function sniffFormat(bytes: Uint8Array): ImageFormat {
  const b = bytes;
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return "jpeg";
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) {
    return "png";
  }
  if (
    b.length >= 4 &&
    ((b[0] === 0x49 && b[1] === 0x49 && b[2] === 0x2a && b[3] === 0) ||
      (b[0] === 0x4d && b[1] === 0x4d && b[2] === 0 && b[3] === 0x2a))
  ) return "tiff";
  if (b.length >= 4 && b[0] === 0x47 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x38) {
    return "gif";
  }
  if (b.length >= 2 && b[0] === 0x42 && b[1] === 0x4d) return "bmp";
  if (
    b.length >= 12 && b[0] === 0x52 && b[1] === 0x49 && b[2] === 0x46 && b[3] === 0x46 &&
    b[8] === 0x57 && b[9] === 0x45 && b[10] === 0x42 && b[11] === 0x50
  ) return "webp";
  return "unknown";
}

interface MozJpegDecoder {
  decode(data: Uint8Array, preserveOrientation: boolean): {
    data: Uint8ClampedArray;
    width: number;
    height: number;
  } | null;
}

/** libjpeg messages of the current decode (the module prints them). */
let jpegMessages: string[] = [];
let jpegDecoder: Promise<MozJpegDecoder> | undefined;

function getJpegDecoder(): Promise<MozJpegDecoder> {
  jpegDecoder ??= (mozjpegFactory as unknown as (opts: object) => Promise<MozJpegDecoder>)({
    noInitialRun: true,
    print: (m: string) => jpegMessages.push(m),
    printErr: (m: string) => jpegMessages.push(m),
  });
  return jpegDecoder;
}

/** RGBA (4 bytes per pixel) -> RGB, alpha dropped. */
function rgbaToRgb(rgba: Uint8Array | Uint8ClampedArray, pixels: number): Uint8Array {
  const out = new Uint8Array(pixels * 3);
  for (let i = 0, s = 0, d = 0; i < pixels; i++, s += 4, d += 3) {
    out[d] = rgba[s];
    out[d + 1] = rgba[s + 1];
    out[d + 2] = rgba[s + 2];
  }
  return out;
}

async function decodeJpeg(bytes: Uint8Array, path: string): Promise<RgbImage> {
  const dec = await getJpegDecoder();
  jpegMessages = [];
  let img;
  try {
    img = dec.decode(bytes, false);
  } catch {
    img = null;
  }
  const messages = jpegMessages;
  jpegMessages = [];
  if (!img) {
    const why = messages.filter((m) => m.trim()).pop() ?? "libjpeg could not decode it";
    // libjpeg's answer to a CMYK/YCCK file asked for RGB: the file is fine,
    // libjpeg lacks the conversion; imagescript has Pillow's.
    if (/unsupported color conversion/i.test(why)) return await decodeCmykJpeg(bytes, path);
    throw new ImageDecodeError(path, `corrupt JPEG (${why})`);
  }
  if (messages.some((m) => /premature end/i.test(m))) {
    throw new ImageDecodeError(path, "truncated JPEG (premature end of data)");
  }
  return {
    width: img.width,
    height: img.height,
    data: rgbaToRgb(img.data, img.width * img.height),
  };
}

async function decodeCmykJpeg(bytes: Uint8Array, path: string): Promise<RgbImage> {
  let img;
  try {
    img = await Image.decode(bytes);
  } catch (e) {
    throw new ImageDecodeError(path, `corrupt CMYK JPEG (${(e as Error).message})`);
  }
  return {
    width: img.width,
    height: img.height,
    data: rgbaToRgb(img.bitmap, img.width * img.height),
  };
}

interface WebpDecoder {
  decode(data: Uint8Array): { data: Uint8ClampedArray; width: number; height: number } | null;
}

let webpDecoder: Promise<WebpDecoder> | undefined;

/** WebP (lossy or lossless, first frame) through libwebp, the decoder Pillow uses. */
async function decodeWebp(bytes: Uint8Array, path: string): Promise<RgbImage> {
  webpDecoder ??= (webpFactory as unknown as (opts: object) => Promise<WebpDecoder>)({
    noInitialRun: true,
    print: () => {},
    printErr: () => {},
  });
  const dec = await webpDecoder;
  let img;
  try {
    img = dec.decode(bytes);
  } catch {
    img = null;
  }
  if (!img || !img.width || !img.height) {
    throw new ImageDecodeError(path, "corrupt or truncated WebP (libwebp could not decode it)");
  }
  return {
    width: img.width,
    height: img.height,
    data: rgbaToRgb(img.data, img.width * img.height),
  };
}

async function decodeWithImagescript(
  bytes: Uint8Array,
  path: string,
  format: string,
): Promise<RgbImage> {
  let img: Image;
  try {
    img = await Image.decode(bytes);
  } catch (e) {
    throw new ImageDecodeError(path, `corrupt ${format} (${(e as Error).message ?? e})`);
  }
  const key = format === "PNG" ? pngTransparentKey(bytes) : null;
  if (key) {
    // imagescript blanks the pixels a gray/RGB PNG's tRNS key makes transparent; every one of
    // them holds exactly the key colour, which Pillow's convert("RGB") keeps.
    const px = img.bitmap;
    for (let i = 0; i < px.length; i += 4) {
      if (px[i + 3] === 0) px.set(key, i);
    }
  }
  return {
    width: img.width,
    height: img.height,
    data: rgbaToRgb(img.bitmap, img.width * img.height),
  };
}

/**
 * The 8-bit RGB colour of a grayscale or RGB PNG's tRNS transparency key, or
 * null when the PNG has none (palette PNGs keep their colours in imagescript).
 * Low bit depths are scaled like Pillow's L;1/L;2/L;4 modes, 16-bit keys keep
 * their high byte.
 */
export function pngTransparentKey(bytes: Uint8Array): [number, number, number] | null {
  if (bytes.length < 33) return null;
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const depth = bytes[24], colorType = bytes[25];
  if (colorType !== 0 && colorType !== 2) return null;
  const to8 = (v: number) => depth === 16 ? v >> 8 : Math.round((v * 255) / ((1 << depth) - 1));
  for (let at = 8; at + 8 <= bytes.length;) {
    const len = dv.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (type === "IDAT" || type === "IEND") return null; // tRNS must come before the data
    if (type === "tRNS" && at + 8 + len <= bytes.length) {
      const d = at + 8;
      if (colorType === 0 && len >= 2) {
        const g = to8(dv.getUint16(d));
        return [g, g, g];
      }
      if (colorType === 2 && len >= 6) {
        return [to8(dv.getUint16(d)), to8(dv.getUint16(d + 2)), to8(dv.getUint16(d + 4))];
      }
      return null;
    }
    at += 12 + len;
  }
  return null;
}

async function decodeGifFirstFrame(bytes: Uint8Array, path: string): Promise<RgbImage> {
  let frame: { width: number; height: number; bitmap: Uint8ClampedArray } | undefined;
  try {
    frame = (await GIF.decode(bytes, true))[0];
  } catch (e) {
    throw new ImageDecodeError(path, `corrupt GIF (${(e as Error).message ?? e})`);
  }
  if (!frame) throw new ImageDecodeError(path, "GIF without frames");
  const key = gifTransparentColor(bytes);
  if (key) {
    // imagescript blanks transparent pixels; Pillow's convert("RGB") shows the palette colour
    // of the transparent index there (the frame is filled with that index first).
    const px = frame.bitmap;
    for (let i = 0; i < px.length; i += 4) if (px[i + 3] === 0) px.set(key, i);
  }
  return {
    width: frame.width,
    height: frame.height,
    data: rgbaToRgb(frame.bitmap, frame.width * frame.height),
  };
}

/**
 * The palette colour of the first frame's transparent index (its local
 * colour table, else the global one), or null when the frame has none.
 */
export function gifTransparentColor(b: Uint8Array): [number, number, number] | null {
  if (b.length < 13) return null;
  const tableSize = (packed: number) => 3 * (1 << ((packed & 7) + 1));
  let at = 13;
  let global: Uint8Array | null = null;
  if (b[10] & 0x80) {
    global = b.subarray(at, at + tableSize(b[10]));
    at += tableSize(b[10]);
  }
  let transparent = -1;
  while (at < b.length) {
    if (b[at] === 0x21) { // extension: label, then sub-blocks
      if (b[at + 1] === 0xf9 && b[at + 2] === 4 && b[at + 3] & 1) transparent = b[at + 6];
      at += 2;
      while (at < b.length && b[at] !== 0) at += b[at] + 1;
      at++;
    } else if (b[at] === 0x2c) { // first image descriptor
      if (transparent < 0) return null;
      const packed = b[at + 9];
      const table = packed & 0x80 ? b.subarray(at + 10, at + 10 + tableSize(packed)) : global;
      if (!table || 3 * transparent + 2 >= table.length) return null;
      return [table[3 * transparent], table[3 * transparent + 1], table[3 * transparent + 2]];
    } else return null;
  }
  return null;
}

/**
 * Largest image we decode, in pixels: Pillow's DecompressionBombError limit
 * (2 x Image.MAX_IMAGE_PIXELS). Bigger files are reported, not decoded, so a
 * hostile or broken file cannot exhaust a worker's memory.
 */
export const MAX_IMAGE_PIXELS = 2 * 89_478_485;

/** Width and height from a JPEG SOF or PNG IHDR header, when present. */
export function headerSize(bytes: Uint8Array): { width: number; height: number } | null {
  const format = sniffFormat(bytes);
  if (format === "png" && bytes.length >= 24) {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    return { width: dv.getUint32(16), height: dv.getUint32(20) };
  }
  if (format !== "jpeg") return null;
  let i = 2;
  while (i + 9 < bytes.length) {
    if (bytes[i] !== 0xff) return null;
    const marker = bytes[i + 1];
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    const len = (bytes[i + 2] << 8) | bytes[i + 3];
    // SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      return {
        height: (bytes[i + 5] << 8) | bytes[i + 6],
        width: (bytes[i + 7] << 8) | bytes[i + 8],
      };
    }
    if (marker === 0xda) return null; // start of scan before any frame header
    i += 2 + len;
  }
  return null;
}

/**
 * Decodes JPEG, PNG, TIFF or GIF (first frame) bytes to RGB. Throws {@link ImageDecodeError}
 * (a DataError naming `path` and the reason) for corrupt, truncated or
 * unsupported files.
 */
export async function decodeImage(bytes: Uint8Array, path: string): Promise<RgbImage> {
  if (bytes.length === 0) throw new ImageDecodeError(path, "empty file");
  const format = sniffFormat(bytes);
  const size = headerSize(bytes);
  if (size && size.width * size.height > MAX_IMAGE_PIXELS) {
    throw new ImageDecodeError(
      path,
      `image too large (${size.width}x${size.height} pixels; the limit is ${MAX_IMAGE_PIXELS})`,
    );
  }
  switch (format) {
    case "jpeg":
      return await decodeJpeg(bytes, path);
    case "png":
      return await decodeWithImagescript(bytes, path, "PNG");
    case "tiff":
      try {
        return await decodeTiff(bytes);
      } catch (e) {
        if (e instanceof TiffError) throw new ImageDecodeError(path, e.message);
        throw e;
      }
    case "gif":
      return await decodeGifFirstFrame(bytes, path);
    case "webp":
      return await decodeWebp(bytes, path);
    case "bmp":
      try {
        return decodeBmp(bytes, MAX_IMAGE_PIXELS);
      } catch (e) {
        if (e instanceof BmpError) throw new ImageDecodeError(path, e.message);
        throw e;
      }
    case "unknown":
      if (isPnm(bytes)) {
        try {
          return decodePnm(bytes, MAX_IMAGE_PIXELS);
        } catch (e) {
          if (e instanceof PnmError) throw new ImageDecodeError(path, e.message);
          throw e;
        }
      }
      throw new ImageDecodeError(path, "not an image (unrecognised file signature)");
  }
}

/** Reads and decodes an image file (see {@link decodeImage}). */
export async function readImage(path: string): Promise<RgbImage> {
  // A FIFO or device would block the read forever: refuse what is not a regular file.
  const why = notRegularFileReason(path);
  if (why !== null && why !== "does not exist") throw new ImageDecodeError(path, why);
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new ImageDecodeError(path, `cannot read file (${(e as Error).message})`);
  }
  return await decodeImage(bytes, path);
}
