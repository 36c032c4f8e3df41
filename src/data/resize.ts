/**
 * PIL-exact image resampling on 8-bit RGB images (HWC, 3 bytes per pixel).
 *
 * torchvision, timm and Hugging Face image processors all resize through
 * Pillow, so a model was trained and validated on Pillow's pixels. Pillow's
 * `Image.resize` with BILINEAR or BICUBIC is a separable convolution:
 *
 * 1. For every output column (then row), a filter centred on the source
 *    position `(x + 0.5) * scale` with its support widened by the
 *    downscale factor (antialiasing), weights normalised to sum 1 in float64.
 * 2. The weights are turned into fixed point with 22 fractional bits,
 *    rounded half away from zero.
 * 3. A horizontal pass writes an 8-bit intermediate image (accumulator
 *    starts at 0.5 in fixed point, result is `acc >> 22` clamped to 0..255),
 *    then a vertical pass does the same on that intermediate.
 * 4. A pass whose size does not change is skipped (not run as an identity).
 *
 * Doing exactly this (not a float approximation) is what makes our pixels
 * identical to theirs. BOX, HAMMING and LANCZOS use the same machinery with
 * Pillow's filter functions. NEAREST goes through Pillow's affine scale path
 * instead (source index = floor of an accumulated `(x + 0.5) * scale`).
 *
 * `resizeCrop` fuses a resize with a crop of its result: every output pixel
 * depends only on its own coefficients, so computing just the cropped window
 * gives the same bytes as resizing everything and cropping afterwards.
 */

/** Pillow's resampling filters (model pipelines mostly use bilinear and bicubic). */
export type Interpolation = "nearest" | "box" | "bilinear" | "hamming" | "bicubic" | "lanczos";

/** The filters resampled by convolution (all but nearest). */
export type ConvolutionFilter = Exclude<Interpolation, "nearest">;

/** An 8-bit RGB image, row-major HWC (3 bytes per pixel). */
export interface RgbImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** `width * height * 3` bytes, RGB interleaved, rows top to bottom. */
  data: Uint8Array;
}

/** Fractional bits of Pillow's fixed-point weights for 8-bit images: 32 - 8 - 2. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Filter {
  support: number;
  weight: (x: number) => number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  x *= Math.PI;
  return Math.sin(x) / x;
}

// Pillow's hamming window uses float (not double) constants.
const HAMMING_A = Math.fround(0.54);
const HAMMING_B = Math.fround(0.46);

/** Pillow's filter functions and supports (Resample.c), in float64. */
const FILTERS: Record<ConvolutionFilter, Filter> = {
  box: { support: 0.5, weight: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: {
    support: 1,
    weight: (x) => {
      x = Math.abs(x);
      return x < 1 ? 1 - x : 0;
    },
  },
  hamming: {
    support: 1,
    weight: (x) => {
      x = Math.abs(x);
      if (x === 0) return 1;
      if (x >= 1) return 0;
      x *= Math.PI;
      return (Math.sin(x) / x) * (HAMMING_A + HAMMING_B * Math.cos(x));
    },
  },
  bicubic: {
    // Keys cubic convolution with a = -0.5 (Pillow's choice; OpenCV uses -0.75).
    support: 2,
    weight: (x) => {
      const a = -0.5;
      x = Math.abs(x);
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  lanczos: {
    // Truncated sinc, 3 lobes.
    support: 3,
    weight: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0),
  },
};

/**
 * Fixed-point filter taps for one axis: output index `o` reads `count[o]`
 * source samples starting at `first[o]`, weighted by
 * `weights[o * taps + t]` (22-bit fixed point).
 */
export interface AxisCoefficients {
  /** Maximum taps per output sample (row stride of `weights`). */
  taps: number;
  /** First source index per output sample. */
  first: Int32Array;
  /** Number of source samples per output sample. */
  count: Int32Array;
  /** Fixed-point weights, `taps` per output sample. */
  weights: Int32Array;
}

/**
 * Pillow's coefficients for resampling an axis of `inSize` samples to
 * `outSize` (float64 weights normalised per output, then 22-bit fixed point
 * rounded half away from zero).
 */
export function axisCoefficients(
  inSize: number,
  outSize: number,
  interpolation: ConvolutionFilter,
): AxisCoefficients {
  const filter = FILTERS[interpolation];
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filter.support * filterScale;
  const taps = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * taps);
  const w = new Float64Array(taps);
  const invScale = 1 / filterScale;
  for (let o = 0; o < outSize; o++) {
    const center = (o + 0.5) * scale;
    // Pillow rounds the window ends with a C (int) cast, i.e. truncation.
    const lo = Math.max(Math.trunc(center - support + 0.5), 0);
    const hi = Math.min(Math.trunc(center + support + 0.5), inSize);
    const n = hi - lo;
    let sum = 0;
    for (let t = 0; t < n; t++) {
      w[t] = filter.weight((t + lo - center + 0.5) * invScale);
      sum += w[t];
    }
    for (let t = 0; t < n; t++) {
      const v = sum !== 0 ? w[t] / sum : w[t];
      weights[o * taps + t] = v < 0 ? Math.trunc(-0.5 + v * ONE) : Math.trunc(0.5 + v * ONE);
    }
    first[o] = lo;
    count[o] = n;
  }
  return { taps, first, count, weights };
}

/** Pillow's `clip8`: drop the fraction (floor) and clamp to 0..255. */
function clip8(acc: number): number {
  const v = acc >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** A rectangle of the resized image: columns x0..x0+width, rows y0..y0+height. */
export interface Window {
  /** Left column in the resized image. */
  x0: number;
  /** Top row in the resized image. */
  y0: number;
  /** Width of the window. */
  width: number;
  /** Height of the window. */
  height: number;
}

/**
 * Resizes `src` to `outWidth x outHeight` with Pillow's algorithm and
 * returns only `window` of the result (default: all of it). Parts of the
 * window outside the resized image are black (torchvision pads a too-small
 * center crop with zeros).
 */
export function resizeCrop(
  src: RgbImage,
  outWidth: number,
  outHeight: number,
  interpolation: Interpolation,
  window: Window = { x0: 0, y0: 0, width: outWidth, height: outHeight },
): RgbImage {
  if (!(outWidth >= 1 && outHeight >= 1)) {
    throw new RangeError(`resize target ${outWidth}x${outHeight} must be at least 1x1`);
  }
  const out = new Uint8Array(window.width * window.height * 3);
  // Output columns/rows of the window that lie inside the resized image.
  const cx0 = Math.max(window.x0, 0);
  const cx1 = Math.min(window.x0 + window.width, outWidth);
  const cy0 = Math.max(window.y0, 0);
  const cy1 = Math.min(window.y0 + window.height, outHeight);
  if (cx1 <= cx0 || cy1 <= cy0) return { width: window.width, height: window.height, data: out };

  if (interpolation === "nearest") {
    nearest(src, outWidth, outHeight, window, cx0, cx1, cy0, cy1, out);
    return { width: window.width, height: window.height, data: out };
  }

  const needH = outWidth !== src.width;
  const needV = outHeight !== src.height;
  const hc = needH ? axisCoefficients(src.width, outWidth, interpolation) : null;
  const vc = needV ? axisCoefficients(src.height, outHeight, interpolation) : null;

  // Source rows the vertical pass will read for output rows cy0..cy1.
  const rowLo = vc ? vc.first[cy0] : cy0;
  const rowHi = vc ? vc.first[cy1 - 1] + vc.count[cy1 - 1] : cy1;
  const nCols = cx1 - cx0;

  // Horizontal pass (or plain copy) into an 8-bit intermediate holding
  // source rows rowLo..rowHi and the window's columns.
  const mid = new Uint8Array((rowHi - rowLo) * nCols * 3);
  const srcStride = src.width * 3;
  const sd = src.data;
  if (hc) {
    const { taps, first, count, weights } = hc;
    for (let y = rowLo; y < rowHi; y++) {
      const rowBase = y * srcStride;
      let o = (y - rowLo) * nCols * 3;
      for (let x = cx0; x < cx1; x++) {
        const n = count[x];
        const kb = x * taps;
        let p = rowBase + first[x] * 3;
        let r = HALF, g = HALF, b = HALF;
        for (let t = 0; t < n; t++) {
          const k = weights[kb + t];
          r += sd[p] * k;
          g += sd[p + 1] * k;
          b += sd[p + 2] * k;
          p += 3;
        }
        mid[o] = clip8(r);
        mid[o + 1] = clip8(g);
        mid[o + 2] = clip8(b);
        o += 3;
      }
    }
  } else {
    for (let y = rowLo; y < rowHi; y++) {
      const s = y * srcStride + cx0 * 3;
      mid.set(sd.subarray(s, s + nCols * 3), (y - rowLo) * nCols * 3);
    }
  }

  // Vertical pass (or copy) from the intermediate into the window.
  const midStride = nCols * 3;
  const outStride = window.width * 3;
  const colOffset = (cx0 - window.x0) * 3;
  if (vc) {
    const { taps, first, count, weights } = vc;
    // Accumulate whole rows (tap by tap) so memory is read sequentially.
    const acc = new Int32Array(midStride);
    for (let y = cy0; y < cy1; y++) {
      const n = count[y];
      const kb = y * taps;
      acc.fill(HALF);
      for (let t = 0; t < n; t++) {
        const k = weights[kb + t];
        const row = (first[y] - rowLo + t) * midStride;
        for (let i = 0; i < midStride; i++) acc[i] += mid[row + i] * k;
      }
      const o = (y - window.y0) * outStride + colOffset;
      for (let i = 0; i < midStride; i++) out[o + i] = clip8(acc[i]);
    }
  } else {
    for (let y = cy0; y < cy1; y++) {
      const s = (y - rowLo) * midStride;
      out.set(mid.subarray(s, s + midStride), (y - window.y0) * outStride + colOffset);
    }
  }
  return { width: window.width, height: window.height, data: out };
}

/**
 * Pillow's NEAREST resize (affine scale): the source coordinate starts at
 * `scale / 2` and advances by `scale` per output pixel (accumulated in
 * float64, as Pillow does), truncated to an index.
 */
function nearestIndices(inSize: number, outSize: number): Int32Array {
  const scale = inSize / outSize;
  const idx = new Int32Array(outSize);
  let pos = scale * 0.5;
  for (let o = 0; o < outSize; o++) {
    idx[o] = Math.min(Math.max(Math.trunc(pos), 0), inSize - 1);
    pos += scale;
  }
  return idx;
}

function nearest(
  src: RgbImage,
  outWidth: number,
  outHeight: number,
  window: Window,
  cx0: number,
  cx1: number,
  cy0: number,
  cy1: number,
  out: Uint8Array,
): void {
  const xs = nearestIndices(src.width, outWidth);
  const ys = nearestIndices(src.height, outHeight);
  for (let y = cy0; y < cy1; y++) {
    const srow = ys[y] * src.width * 3;
    let o = ((y - window.y0) * window.width + (cx0 - window.x0)) * 3;
    for (let x = cx0; x < cx1; x++) {
      const s = srow + xs[x] * 3;
      out[o++] = src.data[s];
      out[o++] = src.data[s + 1];
      out[o++] = src.data[s + 2];
    }
  }
}

/** Resizes a whole image with Pillow's algorithm (see {@link resizeCrop}). */
export function resize(
  src: RgbImage,
  outWidth: number,
  outHeight: number,
  interpolation: Interpolation,
): RgbImage {
  if (outWidth === src.width && outHeight === src.height) {
    return { width: src.width, height: src.height, data: src.data.slice() };
  }
  return resizeCrop(src, outWidth, outHeight, interpolation);
}
