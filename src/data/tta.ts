/**
 * Test-time augmentation, host side: what `--tta` means, and the crops the
 * loader prepares for it (the flips are made on the GPU, src/ops/tta.ts).
 *
 * - `hflip`: the model input and its left-right mirror.
 * - `five-crop`: torchvision `FiveCrop(crop)` of the resized image: top-left,
 *   top-right, bottom-left, bottom-right and center crops (center offsets
 *   `int(round((H - h) / 2))`, half to even), in that order.
 * - `ten-crop`: torchvision `TenCrop(crop)`: the five crops of the resized
 *   image, then the five crops of its mirror (the mirror's top-left crop is
 *   the mirrored top-right crop, and so on; its center crop is the mirror of
 *   the crop at left = W - w - round((W - w) / 2), which differs from the
 *   center crop by one pixel when W - w is odd). `five-crop,hflip` = `ten-crop`.
 * - `scales=S1,S2,...`: every view at each input size S (the crop, or the
 *   exact resize, scaled to S rows, the resize scaled by the same factor).
 *
 * The "without TTA" metrics come from the plain view (the pipeline's own
 * crop at its own size, not mirrored). It is one of the averaged views when
 * the TTA contains it, and is computed on the side otherwise.
 */
import { DataError, UsageError } from "../errors.ts";
import type { RgbImage } from "./decode.ts";
import {
  cropOffsets,
  normalizationTable,
  pipelineOutputSize,
  preprocess,
  type PreprocessConfig,
  resizedSize,
} from "./preprocess.ts";
import { resizeCrop } from "./resize.ts";

/** What `--tta` asks for. */
export interface TtaSpec {
  /** Mirror every view left-right as well. */
  flip: boolean;
  /** Crops of the resized image: the pipeline's own, FiveCrop or TenCrop. */
  crops: "plain" | "five" | "ten";
  /** Input sizes (rows) to run every view at; null = the pipeline's size. */
  scales: number[] | null;
  /** Average softmax probabilities (default) or logits over the views. */
  mean: "probs" | "logits";
}

/** Parses `--tta` (`hflip`, `five-crop`, `ten-crop`, `scales=S1,S2,...`, comma-combined). */
export function parseTta(text: string, mean: "probs" | "logits" = "probs"): TtaSpec {
  const spec: TtaSpec = { flip: false, crops: "plain", scales: null, mean };
  let inScales = false;
  for (const raw of text.split(",")) {
    const tok = raw.trim();
    const m = /^scales=(\d+)$/.exec(tok);
    if (m) {
      if (spec.scales) throw new UsageError(`--tta "${text}": give scales= once`);
      spec.scales = [Number(m[1])];
      inScales = true;
    } else if (inScales && /^\d+$/.test(tok)) {
      spec.scales!.push(Number(tok));
    } else if (tok === "hflip") {
      spec.flip = true;
      inScales = false;
    } else if (tok === "five-crop" || tok === "ten-crop") {
      if (spec.crops !== "plain") {
        throw new UsageError(`--tta "${text}": give one of five-crop / ten-crop`);
      }
      spec.crops = tok === "five-crop" ? "five" : "ten";
      inScales = false;
    } else {
      throw new UsageError(
        `--tta "${text}": unknown part "${tok}"; use hflip, five-crop, ten-crop and/or ` +
          `scales=S1,S2,... joined by commas (e.g. hflip,scales=224,256)`,
      );
    }
  }
  // FiveCrop + flips is TenCrop, and TenCrop has its flips already.
  if (spec.crops !== "plain" && spec.flip) (spec.crops = "ten", spec.flip = false);
  if (spec.scales && spec.scales.some((s) => s < 1 || s > 16384)) {
    throw new UsageError(`--tta "${text}": scales must be input sizes in 1..16384`);
  }
  if (spec.scales) spec.scales = [...new Set(spec.scales)];
  return spec;
}

/** The spec in one line, as `--tta` would take it. */
export function describeTta(spec: TtaSpec): string {
  const parts = [
    spec.crops === "five" ? "five-crop" : spec.crops === "ten" ? "ten-crop" : "",
    spec.flip ? "hflip" : "",
    spec.scales ? `scales=${spec.scales.join(",")}` : "",
  ].filter((s) => s);
  return `${parts.join(",")} (mean of ${
    spec.mean === "probs" ? "softmax probabilities" : "logits"
  })`;
}

/** Where a crop lies in the resized image. */
export type CropPosition = "plain" | "tl" | "tr" | "bl" | "br" | "center" | "center-mirror";

/** One view: a crop, possibly mirrored; `mean` says whether it is averaged. */
export interface TtaView {
  /** Index into the group's `crops`. */
  crop: number;
  /** Mirror left-right (on the GPU). */
  flip: boolean;
  /** Part of the TTA average (the plain view may be computed only for the "without" metrics). */
  mean: boolean;
}

/** The views of one input size: one host preprocessing, one forward pass. */
export interface TtaGroup {
  /** The pipeline at this size (its crop is the view size). */
  cfg: PreprocessConfig;
  /** Crops the host prepares per image. */
  crops: CropPosition[];
  /** Views made from them on the GPU. */
  views: TtaView[];
  /** [H, W] of every view. */
  outSize: [number, number];
}

/** Every group, and where the plain view is. */
export interface TtaPlan {
  /** The spec. */
  spec: TtaSpec;
  /** One group per input size. */
  groups: TtaGroup[];
  /** The plain (no-TTA) view: group and view index. */
  plain: { group: number; view: number };
  /** Views averaged, over all groups. */
  meanViews: number;
  /** What the user should know (e.g. crops as large as the image). */
  warnings: string[];
}

/** The pipeline scaled so that its output has `rows` rows. */
function scaled(cfg: PreprocessConfig, rows: number): PreprocessConfig {
  const [h, w] = pipelineOutputSize(cfg)!;
  if (rows === h) return cfg;
  const f = rows / h, r = (x: number) => Math.max(1, Math.round(x * f));
  return {
    ...cfg,
    size: [r(cfg.size[0]), r(cfg.size[1])],
    crop: cfg.crop ? [rows, r(w)] : null,
    source: `${cfg.source}, TTA scale ${rows}`,
  };
}

function groupOf(cfg: PreprocessConfig, spec: TtaSpec, base: boolean): TtaGroup {
  const outSize = pipelineOutputSize(cfg)!;
  // torchvision's center crop rounds half to even; a "floor" pipeline's own crop can differ.
  const center: CropPosition = cfg.cropRounding === "half-even" ? "plain" : "center";
  const crops: CropPosition[] = spec.crops === "plain"
    ? ["plain"]
    : ["tl", "tr", "bl", "br", center, ...(spec.crops === "ten" ? ["center-mirror" as const] : [])];
  const views: TtaView[] = crops.slice(0, spec.crops === "plain" ? 1 : 5)
    .map((_, i) => ({ crop: i, flip: false, mean: true }));
  if (spec.flip) views.push(...views.map((v) => ({ ...v, flip: true })));
  if (spec.crops === "ten") {
    // The mirror's tl, tr, bl, br, center = mirrored tr, tl, br, bl, center-mirror.
    for (const c of [1, 0, 3, 2, 5]) views.push({ crop: c, flip: true, mean: true });
  }
  if (base && !crops.includes("plain")) crops.push("plain");
  if (base && !views.some((v) => crops[v.crop] === "plain" && !v.flip)) {
    views.push({ crop: crops.indexOf("plain"), flip: false, mean: false });
  }
  return { cfg, crops, views, outSize };
}

/** The groups and views of `spec` over the pipeline `cfg` (which must have a fixed output size). */
export function ttaPlan(cfg: PreprocessConfig, spec: TtaSpec): TtaPlan {
  const out = pipelineOutputSize(cfg);
  if (!out) {
    throw new DataError(
      `--tta needs a pipeline with a fixed output size (a crop or an exact resize)`,
    );
  }
  const warnings: string[] = [];
  const sizes = spec.scales ?? [out[0]];
  const groups = sizes.map((s) => groupOf(scaled(cfg, s), spec, s === out[0]));
  if (!sizes.includes(out[0])) {
    groups.push(groupOf(cfg, { ...spec, crops: "plain", flip: false }, true));
    for (const v of groups[groups.length - 1].views) v.mean = false;
  }
  const g = groups.findIndex((x) => x.cfg === cfg);
  const plain = {
    group: g,
    view: groups[g].views.findIndex((v) => groups[g].crops[v.crop] === "plain" && !v.flip),
  };
  if (
    spec.crops !== "plain" &&
    (!cfg.crop ||
      cfg.resizeMode === "exact" && cfg.crop[0] === cfg.size[0] && cfg.crop[1] === cfg.size[1])
  ) {
    warnings.push(
      `--tta ${spec.crops}-crop: the pipeline crops ${out[1]}x${out[0]} out of an image ` +
        `resized to the same size, so the crops are all the same; resize larger than the crop ` +
        `(e.g. --size ${Math.round(out[0] * 1.14)} --crop ${out[0]})`,
    );
  }
  const meanViews = groups.reduce((n, x) => n + x.views.filter((v) => v.mean).length, 0);
  return { spec, groups, plain, meanViews, warnings };
}

/** Left/top of a crop position in a resized image of `rw x rh` for crops of `outSize`. */
export function cropAt(
  pos: CropPosition,
  cfg: PreprocessConfig,
  rw: number,
  rh: number,
  [ch, cw]: [number, number],
): { left: number; top: number } {
  const half = (d: number) => {
    const x = d / 2, f = Math.floor(x);
    return x - f !== 0.5 ? Math.round(x) : f % 2 === 0 ? f : f + 1; // Python's round
  };
  switch (pos) {
    case "plain":
      return cfg.crop ? cropOffsets(cfg, rw, rh) : { left: 0, top: 0 };
    case "tl":
      return { left: 0, top: 0 };
    case "tr":
      return { left: rw - cw, top: 0 };
    case "bl":
      return { left: 0, top: rh - ch };
    case "br":
      return { left: rw - cw, top: rh - ch };
    case "center":
      return { left: half(rw - cw), top: half(rh - ch) };
    case "center-mirror":
      return { left: rw - cw - half(rw - cw), top: half(rh - ch) };
  }
}

/** The bytes of a window of an image (which must lie inside it). */
function cropBytes(img: RgbImage, left: number, top: number, w: number, h: number): RgbImage {
  const data = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    const s = ((top + y) * img.width + left) * 3;
    data.set(img.data.subarray(s, s + w * 3), y * w * 3);
  }
  return { width: w, height: h, data };
}

/**
 * Writes the group's crops of one decoded image, normalised, into `out` at
 * `offset` ([R, 3, H, W]). The image is resized once; a crop that does not
 * fit in the resized image fails the image (as torchvision's FiveCrop does).
 */
export function prepareGroupCrops(
  rgb: RgbImage,
  group: Pick<TtaGroup, "cfg" | "crops" | "outSize">,
  out: Float32Array,
  offset: number,
  table: Float32Array = normalizationTable(group.cfg),
): void {
  const { cfg, outSize } = group;
  const [rw, rh] = resizedSize(cfg, rgb.width, rgb.height);
  const [ch, cw] = outSize;
  if (cw > rw || ch > rh) {
    throw new DataError(`resized to ${rw}x${rh}, smaller than the ${cw}x${ch} TTA crops`);
  }
  const resized = !cfg.crop && rw === rgb.width && rh === rgb.height
    ? rgb
    : resizeCrop(rgb, rw, rh, cfg.interpolation);
  const plain = { ...cfg, resizeMode: "none" as const, crop: null };
  group.crops.forEach((pos, r) => {
    const { left, top } = cropAt(pos, cfg, rw, rh, outSize);
    preprocess(cropBytes(resized, left, top, cw, ch), plain, out, offset + r * 3 * ch * cw, table);
  });
}
