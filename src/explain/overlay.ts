/**
 * Turning a low-resolution explanation map (Grad-CAM 7x7, rollout 14x14)
 * into pictures: bilinear upsampling to the image size, min-max
 * normalization to [0, 1], a perceptual colormap (turbo or viridis) and an
 * alpha blend onto the image the model saw (its normalized pixels, undone)
 * or onto the original image.
 */
import { type Colormap, COLORMAPS } from "../report/colormap.ts";
import { encodePng } from "../report/png.ts";
import type { RasterImage } from "../report/types.ts";

/** Names of the heat-map colormaps. */
export type ColormapName = "turbo" | "viridis";

/** A single-channel float map, row-major [height, width]. */
export interface HeatMap {
  /** Width in cells. */
  width: number;
  /** Height in cells. */
  height: number;
  /** Values, row-major. */
  data: Float32Array;
}

/**
 * Bilinear resampling with half-pixel centers (align_corners = false, like
 * `torch.nn.functional.interpolate(mode="bilinear")` and OpenCV's resize),
 * so a cell's value sits at the center of the image area it covers and the
 * borders are clamped.
 */
export function resizeBilinear(map: HeatMap, width: number, height: number): HeatMap {
  const out = new Float32Array(width * height);
  const sx = map.width / width, sy = map.height / height;
  // Precompute the horizontal taps once per output column.
  const x0 = new Int32Array(width), x1 = new Int32Array(width), fx = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const src = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), map.width - 1);
    x0[x] = Math.floor(src);
    x1[x] = Math.min(x0[x] + 1, map.width - 1);
    fx[x] = src - x0[x];
  }
  for (let y = 0; y < height; y++) {
    const src = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), map.height - 1);
    const y0 = Math.floor(src), y1 = Math.min(y0 + 1, map.height - 1), fy = src - y0;
    const r0 = y0 * map.width, r1 = y1 * map.width;
    for (let x = 0; x < width; x++) {
      const top = map.data[r0 + x0[x]] * (1 - fx[x]) + map.data[r0 + x1[x]] * fx[x];
      const bottom = map.data[r1 + x0[x]] * (1 - fx[x]) + map.data[r1 + x1[x]] * fx[x];
      out[y * width + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return { width, height, data: out };
}

/** (v - min) / (max - min), all zeros for a constant map. */
export function normalizeMap(map: HeatMap): HeatMap {
  let lo = Infinity, hi = -Infinity;
  for (const v of map.data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  const range = hi - lo;
  const data = new Float32Array(map.data.length);
  if (range > 0 && Number.isFinite(range)) {
    for (let i = 0; i < data.length; i++) data[i] = (map.data[i] - lo) / range;
  }
  return { width: map.width, height: map.height, data };
}

/** A [0,1] map colored with a colormap, as RGB bytes. */
export function colorize(map: HeatMap, colormap: Colormap = COLORMAPS.turbo): RasterImage {
  const data = new Uint8Array(map.width * map.height * 3);
  for (let i = 0; i < map.data.length; i++) {
    const [r, g, b] = colormap(map.data[i]);
    data[3 * i] = r;
    data[3 * i + 1] = g;
    data[3 * i + 2] = b;
  }
  return { width: map.width, height: map.height, data };
}

/**
 * Undoes `(x / scale - mean) / std` on CHW pixels: the image the model saw,
 * as RGB bytes.
 */
export function denormalize(
  chw: Float32Array,
  width: number,
  height: number,
  mean: readonly number[] = [0, 0, 0],
  std: readonly number[] = [1, 1, 1],
  scale = 255,
): RasterImage {
  const n = width * height;
  if (chw.length !== 3 * n) {
    throw new RangeError(`denormalize: ${chw.length} values are not [3, ${height}, ${width}]`);
  }
  const data = new Uint8Array(3 * n);
  for (let c = 0; c < 3; c++) {
    for (let i = 0; i < n; i++) {
      const v = (chw[c * n + i] * std[c] + mean[c]) * scale;
      data[3 * i + c] = Math.min(255, Math.max(0, Math.round(v)));
    }
  }
  return { width, height, data };
}

/** RGB bytes of an 8-bit gray, RGB or RGBA image. */
function toRgb(img: RasterImage): Uint8Array {
  const n = img.width * img.height;
  const c = img.data.length / n;
  if (c === 3) return Uint8Array.from(img.data);
  const out = new Uint8Array(3 * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 3; k++) out[3 * i + k] = img.data[c * i + (c === 1 ? 0 : k)];
  }
  return out;
}

/** A rectangle in image pixels. */
export interface Region {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/** Options of {@link overlayMap}. */
export interface OverlayOptions {
  /** Weight of the heat map in the blend (default 0.5). */
  alpha?: number;
  /** "turbo" (default) or "viridis". */
  colormap?: ColormapName;
  /**
   * Where in `image` the map lies (default: the whole image). For the
   * original image this is the area the model input was cropped from, so a
   * center-cropped model input maps back onto the right part of the photo;
   * pixels outside keep the image dimmed by (1 - alpha / 2).
   */
  region?: Region;
}

/**
 * Blends a map onto an image: the map is resized bilinearly to the region,
 * normalized to [0, 1], colored and mixed as `(1 - alpha) * image + alpha *
 * color`. Returns RGB bytes the size of `image`.
 */
export function overlayMap(
  map: HeatMap,
  image: RasterImage,
  opts: OverlayOptions = {},
): RasterImage {
  const alpha = opts.alpha ?? 0.5;
  const cmap = COLORMAPS[opts.colormap ?? "turbo"];
  if (!cmap) throw new RangeError(`unknown colormap "${opts.colormap}" (turbo or viridis)`);
  const region = opts.region ?? { x: 0, y: 0, width: image.width, height: image.height };
  const rw = Math.max(1, Math.round(region.width)), rh = Math.max(1, Math.round(region.height));
  const rx = Math.round(region.x), ry = Math.round(region.y);
  const heat = colorize(normalizeMap(resizeBilinear(map, rw, rh)), cmap).data;
  const out = toRgb(image);
  const outside = 1 - alpha / 2;
  for (let y = 0; y < image.height; y++) {
    for (let x = 0; x < image.width; x++) {
      const o = 3 * (y * image.width + x);
      const mx = x - rx, my = y - ry;
      if (mx < 0 || my < 0 || mx >= rw || my >= rh) {
        for (let k = 0; k < 3; k++) out[o + k] = Math.round(out[o + k] * outside);
        continue;
      }
      const h = 3 * (my * rw + mx);
      for (let k = 0; k < 3; k++) {
        out[o + k] = Math.round((1 - alpha) * out[o + k] + alpha * heat[h + k]);
      }
    }
  }
  return { width: image.width, height: image.height, data: out };
}

/** {@link overlayMap} encoded as PNG bytes. */
export function overlayPng(map: HeatMap, image: RasterImage, opts?: OverlayOptions): Uint8Array {
  return encodePng(overlayMap(map, image, opts));
}

/** The map alone, resized to `width` x `height`, normalized and colored, as PNG bytes. */
export function heatmapPng(
  map: HeatMap,
  width: number,
  height: number,
  colormap: ColormapName = "turbo",
): Uint8Array {
  return encodePng(colorize(normalizeMap(resizeBilinear(map, width, height)), COLORMAPS[colormap]));
}
