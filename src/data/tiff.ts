/**
 * Baseline TIFF decoding to 8-bit RGB, as Pillow's
 * `Image.open(path).convert("RGB")` sees the file: the first image (IFD) of
 * the file, strips or tiles, uncompressed / LZW / Deflate / PackBits, with or
 * without the horizontal-differencing predictor; bilevel, grayscale
 * (BlackIsZero or WhiteIsZero), RGB, palette, with extra (alpha) samples
 * dropped without compositing. 16-bit samples keep their high byte (Pillow
 * does the same for 16-bit RGB; see decode.ts on 16-bit grayscale).
 *
 * YCbCr / JPEG-in-TIFF, CMYK, planar (separate-plane) and floating-point
 * files are refused with the reason, so the caller lists them as skipped.
 */
import type { RgbImage } from "./resize.ts";

/** A TIFF this decoder cannot read: why, for the caller to attach the path to. */
export class TiffError extends Error {}

/** Tag numbers used below (TIFF 6.0). */
const TAG = {
  width: 256,
  height: 257,
  bitsPerSample: 258,
  compression: 259,
  photometric: 262,
  stripOffsets: 273,
  samplesPerPixel: 277,
  rowsPerStrip: 278,
  stripByteCounts: 279,
  planar: 284,
  predictor: 317,
  colorMap: 320,
  tileWidth: 322,
  tileLength: 323,
  tileOffsets: 324,
  tileByteCounts: 325,
  sampleFormat: 339,
} as const;

/** Bytes per value of the TIFF field types (BYTE, ASCII, SHORT, LONG, RATIONAL, ...). */
const TYPE_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4 };

/** Reads the first IFD's tags as arrays of integers (RATIONALs and others skipped). */
function readTags(bytes: Uint8Array): Map<number, number[]> {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = bytes[0] === 0x49;
  const u16 = (o: number) => dv.getUint16(o, le);
  const u32 = (o: number) => dv.getUint32(o, le);
  const ifd = u32(4);
  if (ifd + 2 > bytes.length) throw new TiffError("truncated TIFF (no image directory)");
  const count = u16(ifd);
  if (ifd + 2 + count * 12 > bytes.length) throw new TiffError("truncated TIFF (image directory)");
  const tags = new Map<number, number[]>();
  for (let i = 0; i < count; i++) {
    const e = ifd + 2 + i * 12;
    const tag = u16(e), type = u16(e + 2), n = u32(e + 4);
    const size = TYPE_SIZE[type];
    if (!size || (type !== 1 && type !== 3 && type !== 4)) continue;
    const at = size * n <= 4 ? e + 8 : u32(e + 8);
    if (at + size * n > bytes.length) throw new TiffError(`truncated TIFF (tag ${tag})`);
    const values = new Array<number>(n);
    for (let k = 0; k < n; k++) {
      values[k] = type === 1 ? bytes[at + k] : type === 3 ? u16(at + 2 * k) : u32(at + 4 * k);
    }
    tags.set(tag, values);
  }
  return tags;
}

/** TIFF LZW (MSB-first codes, 9..12 bits, "early change"), into `out` (its expected size). */
function lzwDecode(src: Uint8Array, outSize: number): Uint8Array {
  const out = new Uint8Array(outSize);
  let o = 0;
  // Dictionary as (prefix code, last byte, length) so entries are never copied.
  const prefix = new Int32Array(4096), last = new Uint8Array(4096), len = new Int32Array(4096);
  for (let i = 0; i < 256; i++) {
    prefix[i] = -1;
    last[i] = i;
    len[i] = 1;
  }
  // Writes the string of `code`, walking its prefixes from the last byte back.
  const emit = (code: number) => {
    let c = code;
    for (let p = o + len[code] - 1; p >= o; p--) {
      if (p < outSize) out[p] = last[c];
      c = prefix[c];
    }
    o = Math.min(o + len[code], outSize);
  };
  const first = (code: number) => {
    let c = code;
    while (prefix[c] >= 0) c = prefix[c];
    return last[c];
  };
  let next = 258, width = 9, bitPos = 0, old = -1;
  const totalBits = src.length * 8;
  while (bitPos + width <= totalBits && o < outSize) {
    let code = 0;
    for (let b = 0; b < width; b++, bitPos++) {
      code = (code << 1) | ((src[bitPos >> 3] >> (7 - (bitPos & 7))) & 1);
    }
    if (code === 257) break; // end of information
    if (code === 256) { // clear
      next = 258;
      width = 9;
      old = -1;
      continue;
    }
    if (old < 0) {
      if (code > 255) throw new TiffError("corrupt TIFF (LZW code before any literal)");
      emit(code);
      old = code;
      continue;
    }
    if (code < next) {
      emit(code);
      if (next < 4096) {
        prefix[next] = old;
        last[next] = first(code);
        len[next] = len[old] + 1;
        next++;
      }
    } else if (code === next && next < 4096) {
      prefix[next] = old;
      last[next] = first(old);
      len[next] = len[old] + 1;
      next++;
      emit(code);
    } else {
      throw new TiffError("corrupt TIFF (bad LZW code)");
    }
    old = code;
    // Early change: the width grows one code before the table is full.
    if (next + 1 >= 1 << width && width < 12) width++;
  }
  return out;
}

/** PackBits run-length decoding. */
function packBitsDecode(src: Uint8Array, outSize: number): Uint8Array {
  const out = new Uint8Array(outSize);
  let i = 0, o = 0;
  while (i < src.length && o < outSize) {
    const n = (src[i++] << 24) >> 24;
    if (n >= 0) {
      for (let k = 0; k <= n && o < outSize; k++) out[o++] = src[i++];
    } else if (n !== -128) {
      const v = src[i++];
      for (let k = 0; k < 1 - n && o < outSize; k++) out[o++] = v;
    }
  }
  return out;
}

async function inflate(src: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([src.slice()]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Decodes baseline TIFF bytes to RGB; throws {@link TiffError} with the reason. */
export async function decodeTiff(bytes: Uint8Array): Promise<RgbImage> {
  if (bytes.length < 8) throw new TiffError("truncated TIFF (header)");
  const le = bytes[0] === 0x49;
  const tags = readTags(bytes);
  const one = (t: number, dflt?: number) => {
    const v = tags.get(t)?.[0] ?? dflt;
    if (v === undefined) throw new TiffError(`corrupt TIFF (required tag ${t} missing)`);
    return v;
  };
  const width = one(TAG.width), height = one(TAG.height);
  // Pillow's decompression-bomb limit (decode.ts MAX_IMAGE_PIXELS), before any allocation.
  if (width * height > 2 * 89_478_485) {
    throw new TiffError(`image too large (${width}x${height} pixels)`);
  }
  if (width === 0 || height === 0) throw new TiffError("corrupt TIFF (empty image)");
  const spp = one(TAG.samplesPerPixel, 1);
  const bits = one(TAG.bitsPerSample, 1);
  const compression = one(TAG.compression, 1);
  const photometric = one(TAG.photometric, spp >= 3 ? 2 : 1);
  const predictor = one(TAG.predictor, 1);
  if ((tags.get(TAG.bitsPerSample) ?? [bits]).some((b) => b !== bits)) {
    throw new TiffError("unsupported TIFF (samples of different bit depths)");
  }
  if (one(TAG.sampleFormat, 1) !== 1) throw new TiffError("unsupported TIFF (non-integer samples)");
  if (spp > 1 && one(TAG.planar, 1) !== 1) {
    throw new TiffError("unsupported TIFF (separate colour planes)");
  }
  if (![0, 1, 2, 3].includes(photometric)) {
    const kind = { 5: "CMYK", 6: "YCbCr" }[photometric] ?? `photometric ${photometric}`;
    throw new TiffError(`unsupported TIFF (${kind}; convert it to RGB PNG or JPEG)`);
  }
  if (![1, 8, 16].includes(bits) || (bits === 1 && (spp !== 1 || photometric > 1))) {
    throw new TiffError(`unsupported TIFF (${bits}-bit samples)`);
  }
  if (![1, 5, 8, 32946, 32773].includes(compression)) {
    throw new TiffError(`unsupported TIFF compression ${compression}`);
  }

  // Strips are tiles as wide as the image.
  const tiled = tags.has(TAG.tileOffsets);
  const tileW = tiled ? one(TAG.tileWidth) : width;
  const tileH = tiled ? one(TAG.tileLength) : Math.min(one(TAG.rowsPerStrip, height), height);
  const offsets = tags.get(tiled ? TAG.tileOffsets : TAG.stripOffsets);
  const counts = tags.get(tiled ? TAG.tileByteCounts : TAG.stripByteCounts);
  if (!offsets || !counts) throw new TiffError("corrupt TIFF (no strip or tile offsets)");
  const across = Math.ceil(width / tileW), down = Math.ceil(height / tileH);
  if (offsets.length < across * down) throw new TiffError("corrupt TIFF (too few strips/tiles)");
  const rowBytes = Math.ceil((tileW * spp * bits) / 8);
  const bytesPerSample = bits === 16 ? 2 : 1;

  // One 8-bit sample plane per pixel component, [height, width, spp].
  const samples = new Uint8Array(width * height * spp);
  for (let t = 0; t < across * down; t++) {
    const start = offsets[t], n = counts[t];
    if (start + n > bytes.length) throw new TiffError("truncated TIFF (strip data)");
    const raw = bytes.subarray(start, start + n);
    const rows = tiled ? tileH : Math.min(tileH, height - Math.floor(t / across) * tileH);
    const size = rowBytes * rows;
    let data: Uint8Array;
    if (compression === 1) data = raw;
    else if (compression === 5) data = lzwDecode(raw, size);
    else if (compression === 32773) data = packBitsDecode(raw, size);
    else {
      try {
        data = await inflate(raw);
      } catch (e) {
        throw new TiffError(`corrupt TIFF (deflate: ${(e as Error).message})`);
      }
    }
    if (data.length < size) throw new TiffError("truncated TIFF (strip shorter than its rows)");
    if (predictor === 2) {
      // Horizontal differencing: each sample is stored minus its left neighbour's.
      const n8 = tileW * spp;
      for (let r = 0; r < rows; r++) {
        if (bytesPerSample === 1) {
          const row = data.subarray(r * rowBytes, r * rowBytes + n8);
          for (let i = spp; i < n8; i++) row[i] = (row[i] + row[i - spp]) & 255;
        } else {
          const dv = new DataView(data.buffer, data.byteOffset + r * rowBytes, rowBytes);
          for (let i = spp; i < n8; i++) {
            dv.setUint16(
              2 * i,
              (dv.getUint16(2 * i, le) + dv.getUint16(2 * (i - spp), le)) & 65535,
              le,
            );
          }
        }
      }
    } else if (predictor !== 1) {
      throw new TiffError(`unsupported TIFF predictor ${predictor}`);
    }
    const x0 = (t % across) * tileW, y0 = Math.floor(t / across) * tileH;
    for (let r = 0; r < rows && y0 + r < height; r++) {
      for (let x = 0; x < tileW && x0 + x < width; x++) {
        for (let s = 0; s < spp; s++) {
          const i = x * spp + s;
          let v: number;
          if (bits === 1) v = (data[r * rowBytes + (i >> 3)] >> (7 - (i & 7))) & 1 ? 255 : 0;
          else if (bits === 8) v = data[r * rowBytes + i];
          else v = data[r * rowBytes + 2 * i + (le ? 1 : 0)]; // high byte
          samples[((y0 + r) * width + x0 + x) * spp + s] = v;
        }
      }
    }
  }

  const out = new Uint8Array(width * height * 3);
  const colorMap = tags.get(TAG.colorMap);
  if (photometric === 3 && bits !== 8) {
    throw new TiffError(`unsupported TIFF (${bits}-bit palette)`);
  }
  if (photometric === 3 && (!colorMap || colorMap.length < 3 << bits)) {
    throw new TiffError("corrupt TIFF (palette image without a colour map)");
  }
  for (let p = 0; p < width * height; p++) {
    const s = p * spp, d = p * 3;
    if (photometric === 2) {
      out[d] = samples[s];
      out[d + 1] = samples[s + 1];
      out[d + 2] = samples[s + 2];
    } else if (photometric === 3) {
      // Colour map: all reds, then greens, then blues, 16-bit values.
      const n = 1 << bits, k = samples[s];
      out[d] = colorMap![k] >> 8;
      out[d + 1] = colorMap![n + k] >> 8;
      out[d + 2] = colorMap![2 * n + k] >> 8;
    } else {
      const v = photometric === 0 ? 255 - samples[s] : samples[s];
      out[d] = out[d + 1] = out[d + 2] = v;
    }
  }
  return { width, height, data: out };
}
