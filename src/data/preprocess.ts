/**
 * Preprocessing pipelines: what a model expects its pixels to look like, read
 * from its folder (Hugging Face `preprocessor_config.json`, timm
 * `pretrained_cfg`, or a plain `config.json` with mean/std), and the function
 * that applies one to a decoded image.
 *
 * Every library we mirror resizes with Pillow (see resize.ts), crops, turns
 * bytes into float32 and normalises in float32. The float steps depend only
 * on the byte value and the channel, so they become a 256-entry table per
 * channel computed with float32 rounding at each step (Math.fround), which
 * is both exact and fast.
 */
import { dirname, join } from "node:path";
import { DataError } from "../errors.ts";
import { notRegularFileReason } from "../files.ts";
import { hfProcessorDefaults } from "./hf_processor_defaults.ts";
import { type Interpolation, resizeCrop, type RgbImage } from "./resize.ts";

/** ImageNet channel means (torchvision, timm IMAGENET_DEFAULT_MEAN). */
export const IMAGENET_MEAN: [number, number, number] = [0.485, 0.456, 0.406];
/** ImageNet channel standard deviations. */
export const IMAGENET_STD: [number, number, number] = [0.229, 0.224, 0.225];

/**
 * A resolved preprocessing pipeline:
 * resize -> optional center crop -> rescale -> normalise, output CHW float32.
 */
export interface PreprocessConfig {
  /**
   * "shortest": shorter side to `size[0]`, longer side `int(size * long /
   * short)` (torchvision Resize(int), truncating); "exact": to `size`
   * [H, W] ignoring aspect ratio; "keep-ratio": timm's ResizeKeepRatio for a
   * non-square target [H, W]: scaled by the smaller of H / h and W / w, each
   * side rounded (Python round), so one side fits and the other overhangs;
   * "none": keep the decoded size.
   */
  resizeMode: "shortest" | "exact" | "keep-ratio" | "none";
  /** [H, W] for "exact" and "keep-ratio"; [s, s] for "shortest"; ignored for "none". */
  size: [number, number];
  /** Center crop [H, W] after the resize, or null. */
  crop: [number, number] | null;
  /**
   * Crop offset rounding: torchvision/timm `int(round((H - h) / 2))` with
   * Python's half-to-even round; Hugging Face `(H - h) // 2` (floor).
   */
  cropRounding: "half-even" | "floor";
  /** Pillow resampling filter. */
  interpolation: Interpolation;
  /**
   * How bytes become floats: "divide" = float32(v) / float32(divisor)
   * (torchvision ToTensor, divisor 255); "multiply" = float32(float64(v) *
   * factor) (Hugging Face rescale, factor 1/255).
   */
  rescale: { op: "divide" | "multiply"; value: number };
  /** Per-channel mean subtracted after rescaling (RGB). */
  mean: [number, number, number];
  /** Per-channel standard deviation divided by after subtracting the mean. */
  std: [number, number, number];
  /** Where the pipeline came from, for printing ("timm pretrained_cfg in config.json"). */
  source: string;
  /**
   * What to tell the user, in print order: notes about the description and
   * the text of every assumption (below) still in force.
   */
  warnings: string[];
  /**
   * What the resolver assumed because the model folder did not say, each
   * with the settings it stands for. {@link applyOverrides} drops those whose
   * settings the user replaced (`--mean` and `--std` replace an assumed
   * mean/std), with their text in `warnings`.
   */
  assumptions?: PipelineAssumption[];
}

/** A pipeline setting an assumption can stand for (and a user override replace). */
export type PipelineSetting = "size" | "crop" | "interpolation" | "mean" | "std";

/** Something a pipeline assumed, and the settings the assumption decided. */
export interface PipelineAssumption {
  /** The warning printed while it holds. */
  text: string;
  /** The settings it decided; replacing all of them makes it moot. */
  covers: PipelineSetting[];
}

/** Records an assumption on `cfg` (and its text among the warnings). */
export function assume(cfg: PreprocessConfig, text: string, covers: PipelineSetting[]): void {
  cfg.assumptions = [...(cfg.assumptions ?? []), { text, covers }];
  cfg.warnings = [...cfg.warnings, text];
}

/** The warnings and assumptions of a pipeline that assumed only `text`, for object literals. */
export function assumedOnly(
  text: string,
  covers: PipelineSetting[],
): Pick<PreprocessConfig, "warnings" | "assumptions"> {
  return { warnings: [text], assumptions: [{ text, covers }] };
}

/**
 * A copy of `cfg` without the assumptions that `settings` replace entirely
 * (and without their warnings): what is left is what is still assumed.
 */
export function withoutAssumptions(
  cfg: PreprocessConfig,
  settings: readonly PipelineSetting[],
): PreprocessConfig {
  const all = cfg.assumptions ?? [];
  const moot = all.filter((a) => a.covers.every((c) => settings.includes(c)));
  return {
    ...cfg,
    assumptions: all.filter((a) => !moot.includes(a)),
    warnings: cfg.warnings.filter((w) => !moot.some((a) => a.text === w)),
  };
}

/** User overrides (e.g. CLI flags); any field replaces the resolved one. */
export interface PreprocessOverrides {
  /** Resize mode. */
  resizeMode?: PreprocessConfig["resizeMode"];
  /** Resize size: a number means "shortest" side, [H, W] means "exact". */
  size?: number | [number, number];
  /** Center crop size (number = square), or null/0 to disable cropping. */
  crop?: number | [number, number] | null;
  /**
   * timm-style crop fraction: with a crop size c, resize the shorter side
   * to floor(c / cropPct) first.
   */
  cropPct?: number;
  /** Crop offset rounding. */
  cropRounding?: PreprocessConfig["cropRounding"];
  /** Resampling filter. */
  interpolation?: Interpolation;
  /** Channel means. */
  mean?: [number, number, number];
  /** Channel standard deviations. */
  std?: [number, number, number];
}

/** Pillow resample codes used by Hugging Face processors. */
const PIL_RESAMPLE: Record<number, Interpolation> = {
  0: "nearest",
  1: "lanczos",
  2: "bilinear",
  3: "bicubic",
  4: "box",
  5: "hamming",
};
const INTERPOLATIONS: readonly Interpolation[] = Object.values(PIL_RESAMPLE);

function readJson(path: string): Record<string, unknown> | null {
  let text: string;
  const why = notRegularFileReason(path);
  if (why === "does not exist") return null;
  if (why !== null) throw new DataError(`${path} ${why.startsWith("a ") ? `is ${why}` : why}`);
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new DataError(`cannot read ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new DataError(`${path} is not valid JSON (${(e as Error).message}); fix or remove it`);
  }
}

/** Largest image side a config may ask for (a bigger one is a typo or a broken file). */
export const MAX_INPUT_SIDE = 16384;

/** A side length from a config file: a whole number of pixels in 1..MAX_INPUT_SIDE. */
export function checkSide(v: unknown, what: string, path: string): number {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_INPUT_SIDE) {
    throw new DataError(
      `${path}: ${what} must be a whole number of pixels in 1..${MAX_INPUT_SIDE}, got ` +
        `${JSON.stringify(v)}; fix the file or override with --size`,
    );
  }
  return v;
}

/**
 * Checks a config's `image_size` (a number or [H, W]) when it has one; a
 * negative, fractional or huge value is an error naming the file.
 */
export function checkImageSize(config: Record<string, unknown>, path: string): void {
  const s = config.image_size;
  if (s === undefined || s === null) return;
  if (Array.isArray(s) && s.length === 2) s.forEach((v) => checkSide(v, "image_size", path));
  else checkSide(s, "image_size", path);
}

function triple(v: unknown, what: string, path: string): [number, number, number] | undefined {
  if (v === undefined || v === null) return undefined;
  const a = typeof v === "number" ? [v, v, v] : v;
  if (!Array.isArray(a) || a.length !== 3 || !a.every((x) => typeof x === "number")) {
    throw new DataError(`${path}: ${what} must be a number or 3 numbers, got ${JSON.stringify(v)}`);
  }
  return [a[0], a[1], a[2]];
}

function interpolationOf(v: unknown, path: string): Interpolation {
  if (typeof v === "number") {
    const f = PIL_RESAMPLE[v];
    if (f) return f;
    throw new DataError(
      `${path}: resample ${v} is not a Pillow filter (0 nearest, 1 lanczos, 2 bilinear, ` +
        `3 bicubic, 4 box, 5 hamming; override with --interpolation)`,
    );
  }
  if (typeof v === "string" && (INTERPOLATIONS as string[]).includes(v)) return v as Interpolation;
  throw new DataError(
    `${path}: interpolation ${JSON.stringify(v)} is not supported ` +
      `(${INTERPOLATIONS.join(", ")}; override with --interpolation)`,
  );
}

/**
 * The pipeline a Hugging Face image processor description (the contents of
 * a `preprocessor_config.json`, or a processor's defaults written out) stands
 * for; `path` names it in messages. ConvNextImageProcessor's `crop_pct` rule
 * is applied: below 384 the shorter side goes to `int(shortest_edge /
 * crop_pct)` and the center `shortest_edge` square is cut; from 384 on the
 * image is warped to `shortest_edge` x `shortest_edge`.
 */
export function preprocessConfigFromHfProcessor(
  p: Record<string, unknown>,
  path: string,
): PreprocessConfig {
  return fromHfProcessor(p, path);
}

/** From a Hugging Face `preprocessor_config.json`. */
function fromHfProcessor(p: Record<string, unknown>, path: string): PreprocessConfig {
  const type = String(p.image_processor_type ?? p.feature_extractor_type ?? "unknown");
  const { defaults, known } = hfProcessorDefaults(type);
  const className = known ? `${defaults.name}ImageProcessor` : "ViTImageProcessor";
  const warnings: string[] = [];
  const assumptions: PipelineAssumption[] = [];
  // Keys left out take the class's own defaults (as Hugging Face does), said once.
  const defaulted: { key: string; value: unknown; covers: PipelineSetting[] }[] = [];
  const orDefault = <T>(key: string, value: T, covers: PipelineSetting[]): T => {
    if (p[key] !== undefined && p[key] !== null) return p[key] as T;
    defaulted.push({ key, value, covers });
    return value;
  };
  const doResize = p.do_resize !== false;
  const doRescale = p.do_rescale !== false;
  const doNormalize = p.do_normalize !== false;
  // A class without a crop step (ViT, ConvNext) never crops, whatever the file says.
  const doCrop = defaults.centerCrop !== null &&
    orDefault("do_center_crop", defaults.centerCrop, ["crop"]) === true;
  if (defaults.centerCrop === null && p.do_center_crop === true) {
    warnings.push(
      `${path}: ${type} has no center-crop step, so do_center_crop and crop_size are ignored ` +
        `(as Hugging Face does); use --crop to crop`,
    );
  }
  if (/Fast$/.test(type)) {
    warnings.push(
      `${path}: ${type} resizes with torchvision rather than Pillow; visioneval reproduces ` +
        `Pillow's arithmetic (the slow processor's), which can differ from it by a level or so`,
    );
  }
  let size = doResize
    ? orDefault<Record<string, number> | number>("size", defaults.size, ["size"])
    : undefined;
  // A bare number means what the class's get_size_dict makes of it: a square
  // (ViT, DeiT, BEiT) or the shorter side (ConvNext, BiT, CLIP, MobileNet).
  if (typeof size === "number" && !defaults.squareSize) size = { shortest_edge: size };
  const cropSize = doCrop
    ? orDefault<Record<string, number> | number>("crop_size", defaults.cropSize, ["crop"])
    : undefined;
  const resample = doResize ? orDefault("resample", defaults.resample, ["interpolation"]) : 2;
  const mean = doNormalize ? orDefault("image_mean", defaults.mean, ["mean"]) : [0, 0, 0];
  const std = doNormalize ? orDefault("image_std", defaults.std, ["std"]) : [1, 1, 1];
  if (defaulted.length) {
    const text = `${path} has no ${defaulted.map((d) => d.key).join(", ")}; used ${className}'s ` +
      `defaults (${defaulted.map((d) => `${d.key} ${JSON.stringify(d.value)}`).join(", ")})` +
      (known ? "" : ` because ${type} is not a processor class visioneval knows`);
    warnings.push(text);
    assumptions.push({ text, covers: [...new Set(defaulted.flatMap((d) => d.covers))] });
  }
  let cfg: PreprocessConfig = {
    resizeMode: "none",
    size: [0, 0],
    crop: null,
    cropRounding: "floor",
    interpolation: interpolationOf(resample, path),
    rescale: { op: "multiply", value: doRescale ? Number(p.rescale_factor ?? 1 / 255) : 1 },
    mean: triple(mean, "image_mean", path) ?? IMAGENET_MEAN,
    std: triple(std, "image_std", path) ?? IMAGENET_STD,
    source: `${type} in ${path}`,
    warnings,
    assumptions,
  };
  // EfficientNetImageProcessor: `rescale_offset` rescales to (x - 127.5) * factor, the same
  // as a mean larger by 127.5 * factor; `include_top` (default true) normalises a second time
  // by image_std (mean 0), the same as std * image_std.
  if (doRescale && p.rescale_offset === true) {
    const shift = 127.5 * cfg.rescale.value;
    cfg.mean = [cfg.mean[0] + shift, cfg.mean[1] + shift, cfg.mean[2] + shift];
  }
  if ((p.include_top ?? defaults.includeTop) === true) {
    const s2 = triple(p.image_std ?? defaults.std, "image_std", path)!;
    cfg.std = [cfg.std[0] * s2[0], cfg.std[1] * s2[1], cfg.std[2] * s2[2]];
  }
  if (doResize && size !== undefined) {
    if (typeof size === "number") checkSide(size, "size", path);
    else if (size && typeof size === "object") {
      for (const [k, v] of Object.entries(size)) if (v !== null) checkSide(v, `size.${k}`, path);
    }
    if (typeof size === "number") {
      cfg = { ...cfg, resizeMode: "exact", size: [size, size] };
    } else if (size.height !== undefined && size.width !== undefined) {
      cfg = { ...cfg, resizeMode: "exact", size: [size.height, size.width] };
    } else if (size.shortest_edge !== undefined) {
      const se = size.shortest_edge;
      if (known && defaults.name === "ConvNext") {
        // ConvNextImageProcessor: below 384, resize the shorter side to
        // int(se / crop_pct) and center-crop se x se; from 384 on, warp.
        const cropPct = Number(p.crop_pct ?? 224 / 256);
        if (se < 384) {
          const s = Math.trunc(se / cropPct);
          return { ...cfg, resizeMode: "shortest", size: [s, s], crop: [se, se] };
        }
        return { ...cfg, resizeMode: "exact", size: [se, se] };
      }
      cfg = { ...cfg, resizeMode: "shortest", size: [se, se] };
      if (size.longest_edge !== undefined) {
        warnings.push(`size.longest_edge ${size.longest_edge} ignored`);
      }
    } else {
      throw new DataError(
        `${path}: unsupported size ${JSON.stringify(size)} (an image classifier's processor ` +
          `has {"height", "width"} or {"shortest_edge"}); fix the file or override with --size`,
      );
    }
  }
  if (cropSize !== undefined) {
    const c: [number, number] = typeof cropSize === "number"
      ? [cropSize, cropSize]
      : [cropSize.height, cropSize.width];
    c.forEach((v) => checkSide(v, "crop_size", path));
    cfg.crop = c;
  }
  return cfg;
}

/**
 * From a timm `pretrained_cfg` (timm's transforms_imagenet_eval).
 * `userResizes`: the user's --size replaces the resize, so a crop mode that
 * cannot be run is no obstacle.
 */
function fromTimm(
  pc: Record<string, unknown>,
  path: string,
  userResizes = false,
): PreprocessConfig {
  const warnings: string[] = [];
  const inputSize = pc.input_size as number[] | undefined;
  if (inputSize && inputSize[0] !== 3) {
    // A grayscale (in_chans 1) model: said here, before its 1-value mean is misread as a typo.
    throw new DataError(
      `${path}: pretrained_cfg.input_size ${JSON.stringify(inputSize)} is for ${inputSize[0]}-` +
        `channel input; images are decoded to RGB, so only 3-channel models can be evaluated`,
    );
  }
  const [h, w] = inputSize ? [inputSize[1], inputSize[2]] : [224, 224];
  checkSide(h, "pretrained_cfg.input_size[1]", path);
  checkSide(w, "pretrained_cfg.input_size[2]", path);
  const assumptions: PipelineAssumption[] = [];
  if (!inputSize) {
    const text = "pretrained_cfg has no input_size; assumed 224x224";
    warnings.push(text);
    assumptions.push({ text, covers: ["size", "crop"] });
  }
  // resolve_data_config takes a value only when it is truthy: "", 0 and null mean the default.
  const cropPct = Number(pc.crop_pct || 0.875);
  const mode = String(pc.crop_mode || "center");
  const scaleH = Math.floor(h / cropPct);
  const scaleW = Math.floor(w / cropPct);
  const base: PreprocessConfig = {
    resizeMode: "shortest",
    size: [scaleH, scaleW],
    crop: [h, w],
    cropRounding: "half-even",
    interpolation: interpolationOf(pc.interpolation || "bilinear", path),
    rescale: { op: "divide", value: 255 },
    mean: triple(pc.mean, "mean", path) ?? IMAGENET_MEAN,
    std: triple(pc.std, "std", path) ?? IMAGENET_STD,
    source: `timm pretrained_cfg in ${path}`,
    warnings,
    assumptions,
  };
  if (mode === "squash") return { ...base, resizeMode: "exact" };
  if (mode !== "center" && !userResizes) {
    // "border" resizes the longer side and pads with the mean colour: not a
    // pipeline visioneval can run, and a center crop would give other pixels.
    throw new DataError(
      `${path}: pretrained_cfg.crop_mode ${JSON.stringify(mode)} is not supported (timm's ` +
        `"center" and "squash" are); choose the pipeline with --size and --crop instead`,
    );
  }
  if (scaleH !== scaleW) {
    // timm (>= 0.9) resizes a non-square target with ResizeKeepRatio, built
    // without the interpolation argument: its own bilinear default.
    if (base.interpolation !== "bilinear") {
      warnings.push(
        `non-square input_size ${h}x${w}: timm resizes with ResizeKeepRatio, which uses ` +
          `bilinear whatever pretrained_cfg.interpolation (${base.interpolation}) says`,
      );
    }
    return { ...base, resizeMode: "keep-ratio", interpolation: "bilinear" };
  }
  return base;
}

/**
 * Resolves the preprocessing pipeline of a model folder:
 * 1. `preprocessor_config.json` (Hugging Face image processor);
 * 2. `config.json` `pretrained_cfg` (timm hub layout);
 * 3. `config.json` `mean`/`std`/`image_size` (e.g. CIFAR ResNets): exact
 *    resize to image_size (a no-op on images already that size), x/255;
 * 4. otherwise defaults by `model_type`, with a warning.
 * `overrides` are merged on top (see {@link applyOverrides}).
 */
export function preprocessConfigFromModelDir(
  dir: string,
  overrides: PreprocessOverrides = {},
): PreprocessConfig {
  let st: Deno.FileInfo;
  try {
    st = Deno.statSync(dir);
  } catch {
    throw new DataError(`model folder ${dir} does not exist`);
  }
  // A weights file stands for the folder it is in.
  if (st.isFile) dir = dirname(dir);
  const procPath = join(dir, "preprocessor_config.json");
  const cfgPath = join(dir, "config.json");
  const proc = readJson(procPath);
  const config = readJson(cfgPath);
  let cfg: PreprocessConfig;
  const timmCfg = config && typeof config.pretrained_cfg === "object" && config.pretrained_cfg
    ? config.pretrained_cfg as Record<string, unknown>
    : null;
  if (proc) {
    cfg = fromHfProcessor(proc, procPath);
    if (timmCfg) cfg.warnings.push(...disagreement(cfg, () => fromTimm(timmCfg, cfgPath, true)));
  } else if (timmCfg) {
    cfg = fromTimm(timmCfg, cfgPath, overrides.size !== undefined);
  } else {
    cfg = fromPlainConfig(config, cfgPath, dir);
  }
  return applyOverrides(cfg, overrides);
}

/**
 * A note when a second description in the folder (timm's pretrained_cfg
 * beside a preprocessor_config.json) asks for other pixels than the one
 * used, so the run header says which file won and what the other wanted.
 */
function disagreement(used: PreprocessConfig, other: () => PreprocessConfig): string[] {
  let o: PreprocessConfig;
  try {
    o = other();
  } catch {
    return []; // an unusable second description changes nothing
  }
  if (pipelineKey(o) === pipelineKey(used)) return [];
  return [
    `the folder describes two pipelines; used ${used.source}, not ${o.source} ` +
    `(${describePipeline({ ...o, source: "" }).replace(/ \(from \)$/, "")}); ` +
    `pass --size/--crop/--interpolation/--mean/--std to choose`,
  ];
}

/** A pipeline from a config.json without a processor description. */
function fromPlainConfig(
  config: Record<string, unknown> | null,
  path: string,
  dir: string,
): PreprocessConfig {
  const warnings: string[] = [];
  const assumptions: PipelineAssumption[] = [];
  const assumed = (text: string, covers: PipelineSetting[]) => {
    warnings.push(text);
    assumptions.push({ text, covers });
  };
  const modelType = String(config?.model_type ?? config?.architecture ?? "");
  if (config) checkImageSize(config, path);
  const imageSize = config?.image_size;
  if (imageSize === undefined && /^(resnet|convnext|convnextv2|regnet)$/.test(modelType)) {
    // Hugging Face CNNs ship a ConvNextImageProcessor; without it, use its
    // defaults (shorter side 256, center-crop 224, bilinear, ImageNet stats).
    const cfg = fromHfProcessor({
      image_processor_type: "ConvNextImageProcessor",
      size: { shortest_edge: 224 },
      crop_pct: 0.875,
      resample: 2,
      image_mean: IMAGENET_MEAN,
      image_std: IMAGENET_STD,
    }, path);
    cfg.source = `ConvNextImageProcessor defaults for model_type ${modelType} (${path})`;
    assume(
      cfg,
      `no preprocessor_config.json in ${dir}: assumed Hugging Face ConvNextImageProcessor ` +
        `defaults for ${modelType} (shorter side 256, center-crop 224, bilinear, ImageNet mean/std)`,
      ["size", "crop", "interpolation", "mean", "std"],
    );
    return cfg;
  }
  let size: [number, number] = [224, 224];
  if (typeof imageSize === "number") size = [imageSize, imageSize];
  else if (Array.isArray(imageSize) && imageSize.length === 2) size = [imageSize[0], imageSize[1]];
  else assumed(`no image_size in ${config ? path : dir}; assumed 224x224`, ["size"]);
  let mean = triple(config?.mean ?? config?.image_mean, "mean", path);
  let std = triple(config?.std ?? config?.image_std, "std", path);
  // Hugging Face ViT/DeiT-style defaults when the processor file is missing.
  const halfHalf = /^(vit|deit)/.test(modelType);
  if (!mean || !std) {
    const [m, s] = halfHalf ? [[0.5, 0.5, 0.5], [0.5, 0.5, 0.5]] : [IMAGENET_MEAN, IMAGENET_STD];
    mean ??= m as [number, number, number];
    std ??= s as [number, number, number];
    assumed(
      `no preprocessor_config.json or pretrained_cfg in ${dir}: assumed mean ${
        JSON.stringify(mean)
      } std ${JSON.stringify(std)}${halfHalf ? ` (${modelType} default)` : " (ImageNet)"}`,
      ["mean", "std"],
    );
  }
  return {
    resizeMode: "exact",
    size,
    crop: null,
    cropRounding: "half-even",
    interpolation: "bilinear",
    rescale: { op: "divide", value: 255 },
    mean,
    std,
    source: config ? `config.json (${path})` : `defaults (nothing found in ${dir})`,
    warnings,
    assumptions,
  };
}

/**
 * Merges user overrides into a resolved pipeline. Assumptions the overrides
 * replace are dropped with their warnings: only what is still assumed is
 * printed.
 */
export function applyOverrides(
  cfg: PreprocessConfig,
  o: PreprocessOverrides,
): PreprocessConfig {
  const replaced: PipelineSetting[] = [];
  if (o.size !== undefined || o.cropPct !== undefined) replaced.push("size");
  if (o.crop !== undefined || o.cropPct !== undefined) replaced.push("crop");
  if (o.interpolation !== undefined) replaced.push("interpolation");
  if (o.mean !== undefined) replaced.push("mean");
  if (o.std !== undefined) replaced.push("std");
  const out: PreprocessConfig = withoutAssumptions(cfg, replaced);
  const changed: string[] = [];
  if (o.crop !== undefined) {
    out.crop = o.crop === null || o.crop === 0
      ? null
      : typeof o.crop === "number"
      ? [o.crop, o.crop]
      : o.crop;
    changed.push("crop");
  }
  if (o.size !== undefined) {
    if (typeof o.size === "number") {
      out.resizeMode = "shortest";
      out.size = [o.size, o.size];
    } else {
      out.resizeMode = "exact";
      out.size = o.size;
    }
    changed.push("size");
  }
  if (o.cropPct !== undefined) {
    if (!(o.cropPct > 0 && o.cropPct <= 1)) {
      throw new DataError(`crop_pct must be in (0, 1], got ${o.cropPct}`);
    }
    const c = out.crop ?? out.size;
    const s = Math.floor(Math.min(c[0], c[1]) / o.cropPct);
    out.crop = c;
    out.resizeMode = "shortest";
    out.size = [s, s];
    changed.push("crop_pct");
  }
  if (o.resizeMode !== undefined) (out.resizeMode = o.resizeMode, changed.push("resize mode"));
  if (o.cropRounding !== undefined) (out.cropRounding = o.cropRounding, changed.push("rounding"));
  if (o.interpolation !== undefined) {
    out.interpolation = o.interpolation;
    changed.push("interpolation");
  }
  if (o.mean !== undefined) (out.mean = o.mean, changed.push("mean"));
  if (o.std !== undefined) (out.std = o.std, changed.push("std"));
  for (const s of out.std) {
    if (!(s > 0)) throw new DataError(`std must be positive, got ${JSON.stringify(out.std)}`);
  }
  if (changed.length) out.source = `${cfg.source}, overridden: ${changed.join(", ")}`;
  return out;
}

/**
 * Output [H, W] of the pipeline when it is fixed (crop, or exact resize),
 * or null when it depends on the image (then images cannot be batched).
 */
export function pipelineOutputSize(cfg: PreprocessConfig): [number, number] | null {
  if (cfg.crop) return cfg.crop;
  if (cfg.resizeMode === "exact") return cfg.size;
  return null;
}

/** The settings that decide a pipeline's pixels (not where it was read from). */
export function pipelineKey(cfg: PreprocessConfig): string {
  const { resizeMode, size, crop, cropRounding, interpolation, rescale, mean, std } = cfg;
  return JSON.stringify({
    resizeMode,
    size,
    crop,
    cropRounding,
    interpolation,
    rescale,
    mean,
    std,
  });
}

/** One line describing the pipeline, for logs and reports. */
export function describePipeline(cfg: PreprocessConfig): string {
  const fmt = (a: number[]) => `[${a.map((v) => +v.toFixed(4)).join(", ")}]`;
  const steps: string[] = [];
  if (cfg.resizeMode === "shortest") {
    steps.push(`resize shorter side to ${cfg.size[0]} (${cfg.interpolation}, PIL antialias)`);
  } else if (cfg.resizeMode === "keep-ratio") {
    steps.push(
      `resize keeping the aspect ratio to cover ${cfg.size[1]}x${cfg.size[0]} ` +
        `(${cfg.interpolation}, PIL antialias)`,
    );
  } else if (cfg.resizeMode === "exact") {
    steps.push(`resize to ${cfg.size[1]}x${cfg.size[0]} (${cfg.interpolation}, PIL antialias)`);
  } else steps.push("no resize");
  if (cfg.crop) {
    steps.push(
      `center-crop ${cfg.crop[1]}x${cfg.crop[0]} (${
        cfg.cropRounding === "half-even" ? "round half-even" : "floor"
      } offsets)`,
    );
  }
  steps.push(
    cfg.rescale.op === "divide" ? `/${cfg.rescale.value}` : `*${+cfg.rescale.value.toPrecision(6)}`,
  );
  steps.push(`normalize mean ${fmt(cfg.mean)} std ${fmt(cfg.std)}`);
  return `${steps.join(" -> ")} (from ${cfg.source})`;
}

/** Python's round() on a .5 fraction: to the even neighbour. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Size after the resize step for an image of `width x height`: [W, H]. */
export function resizedSize(
  cfg: PreprocessConfig,
  width: number,
  height: number,
): [number, number] {
  if (cfg.resizeMode === "exact") return [cfg.size[1], cfg.size[0]];
  if (cfg.resizeMode === "none") return [width, height];
  if (cfg.resizeMode === "keep-ratio") {
    const ratio = Math.min(height / cfg.size[0], width / cfg.size[1]);
    return [roundHalfEven(width / ratio), roundHalfEven(height / ratio)];
  }
  // torchvision Resize(int): short side -> s, long side int(s * long / short);
  // an image whose short side already is s is returned unchanged.
  const s = cfg.size[0];
  if (width <= height) {
    return width === s ? [width, height] : [s, Math.trunc((s * height) / width)];
  }
  return height === s ? [width, height] : [Math.trunc((s * width) / height), s];
}

/** Where the crop window lies in the resized image (left, top), [W, H] sized. */
export function cropOffsets(
  cfg: PreprocessConfig,
  resizedW: number,
  resizedH: number,
): { left: number; top: number } {
  if (!cfg.crop) return { left: 0, top: 0 };
  const [ch, cw] = cfg.crop;
  if (cfg.cropRounding === "floor") {
    return { left: Math.floor((resizedW - cw) / 2), top: Math.floor((resizedH - ch) / 2) };
  }
  // torchvision's CenterCrop pads a side shorter than the crop with (c - n) // 2
  // zeros before it (the rest after), then crops at 0 on that side.
  const offset = (n: number, c: number) =>
    n < c ? -Math.floor((c - n) / 2) : roundHalfEven((n - c) / 2);
  return { left: offset(resizedW, cw), top: offset(resizedH, ch) };
}

/**
 * Per-channel byte -> normalised float32 tables (3 x 256), computed with
 * float32 rounding after every step like PyTorch / NumPy float32 code.
 */
export function normalizationTable(cfg: PreprocessConfig): Float32Array {
  const f = Math.fround;
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const mean = f(cfg.mean[c]);
    const std = f(cfg.std[c]);
    for (let v = 0; v < 256; v++) {
      const x = cfg.rescale.op === "divide"
        ? f(v / f(cfg.rescale.value))
        : f(v * cfg.rescale.value); // float64 product, then float32
      table[c * 256 + v] = f(f(x - mean) / std);
    }
  }
  return table;
}

/**
 * The resized and cropped 8-bit image, before float conversion (useful to
 * compare with other tools at the byte level).
 */
export function resizeAndCrop(rgb: RgbImage, cfg: PreprocessConfig): RgbImage {
  const [rw, rh] = resizedSize(cfg, rgb.width, rgb.height);
  if (!cfg.crop && rw === rgb.width && rh === rgb.height) return rgb;
  const { left, top } = cropOffsets(cfg, rw, rh);
  const [ch, cw] = cfg.crop ?? [rh, rw];
  return resizeCrop(rgb, rw, rh, cfg.interpolation, { x0: left, y0: top, width: cw, height: ch });
}

/**
 * Applies the pipeline to a decoded image. Writes CHW float32 into `out` at
 * `offset` when given (a batch buffer), else returns a new array.
 * `table` may be passed to reuse {@link normalizationTable}.
 */
export function preprocess(
  rgb: RgbImage,
  cfg: PreprocessConfig,
  out?: Float32Array,
  offset = 0,
  table: Float32Array = normalizationTable(cfg),
): Float32Array {
  const img = resizeAndCrop(rgb, cfg);
  const plane = img.width * img.height;
  const dst = out ?? new Float32Array(3 * plane);
  if (dst.length < offset + 3 * plane) {
    throw new RangeError(`output buffer too small for a 3x${img.height}x${img.width} image`);
  }
  const d = img.data;
  for (let i = 0, p = 0; i < plane; i++, p += 3) {
    dst[offset + i] = table[d[p]];
    dst[offset + plane + i] = table[256 + d[p + 1]];
    dst[offset + 2 * plane + i] = table[512 + d[p + 2]];
  }
  return dst;
}
