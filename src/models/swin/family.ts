/**
 * The Swin family plug-in: detection, default preprocessing and loading of
 * Swin Transformer (v1) and Swin V2 checkpoints in torchvision, Hugging
 * Face and timm layouts (see `layouts.ts`).
 */
import { Engine } from "../../gpu/engine.ts";
import {
  assume,
  assumedOnly,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type PipelineSetting,
  type PreprocessConfig,
  preprocessConfigFromHfProcessor,
  preprocessConfigFromModelDir,
} from "../../data/preprocess.ts";
import { SafetensorsFile } from "../../weights/safetensors.ts";
import { findModelFiles, type ModelFiles } from "../config.ts";
import type { ModelFamily } from "../family.ts";
import { checkpointMeta } from "../classifier.ts";
import type { ModelPreprocess } from "../model.ts";
import { detectSwinLayout, swinSpec } from "./layouts.ts";
import { Swin } from "./model.ts";
import type { SwinSpec } from "./spec.ts";

/** torchvision's published Swin weights: evaluation resize and crop (bicubic). */
const TORCHVISION_PRESETS: {
  name: string;
  version: 1 | 2;
  embed: number;
  depths: number[];
  resize: number;
  crop: number;
}[] = [
  { name: "swin_t", version: 1, embed: 96, depths: [2, 2, 6, 2], resize: 232, crop: 224 },
  { name: "swin_s", version: 1, embed: 96, depths: [2, 2, 18, 2], resize: 246, crop: 224 },
  { name: "swin_b", version: 1, embed: 128, depths: [2, 2, 18, 2], resize: 238, crop: 224 },
  { name: "swin_v2_t", version: 2, embed: 96, depths: [2, 2, 6, 2], resize: 260, crop: 256 },
  { name: "swin_v2_s", version: 2, embed: 96, depths: [2, 2, 18, 2], resize: 260, crop: 256 },
  { name: "swin_v2_b", version: 2, embed: 128, depths: [2, 2, 18, 2], resize: 272, crop: 256 },
];

const ALL_SETTINGS: PipelineSetting[] = ["size", "crop", "interpolation", "mean", "std"];

/**
 * The preprocessing of a Swin folder: its own description when it has one
 * (Hugging Face processor file, timm `pretrained_cfg`); otherwise the
 * defaults of its layout, stated in the warnings:
 * - Hugging Face: the hub's ViTImageProcessor (resize to config
 *   `image_size` square, bicubic, ImageNet mean/std, no crop);
 * - timm: timm's Swin default cfg (the built input size, crop_pct 0.9,
 *   bicubic, ImageNet);
 * - torchvision: the published preset of the model the depths and width
 *   identify (swin_t 232 / swin_s 246 / swin_b 238 -> 224; swin_v2_t and
 *   _s 260 / swin_v2_b 272 -> 256; bicubic), swin_t's or swin_v2_t's when
 *   they match none.
 */
export function swinPipeline(files: ModelFiles, spec: SwinSpec): PreprocessConfig {
  const c = files.config;
  if (files.preprocessorConfig !== undefined || c.pretrained_cfg !== undefined) {
    return preprocessConfigFromModelDir(files.dir);
  }
  const where = files.hasConfig ? `${files.dir}/config.json` : files.dir;
  if (spec.layout === "hf") {
    const side = typeof c.image_size === "number" ? c.image_size : 224;
    const cfg = preprocessConfigFromHfProcessor({
      image_processor_type: "ViTImageProcessor",
      size: { height: side, width: side },
      resample: 3,
      image_mean: IMAGENET_MEAN,
      image_std: IMAGENET_STD,
    }, where);
    cfg.source = `ViTImageProcessor rule for a Hugging Face Swin (${where})`;
    assume(
      cfg,
      `no preprocessor_config.json in ${files.dir}: assumed the Swin hub processor ` +
        `(ViTImageProcessor: resize to ${side}x${side}, bicubic, ImageNet mean/std); override ` +
        `with --size/--crop/--interpolation`,
      ALL_SETTINGS,
    );
    return cfg;
  }
  const base = {
    resizeMode: "shortest" as const,
    cropRounding: "half-even" as const,
    interpolation: "bicubic" as const,
    rescale: { op: "divide" as const, value: 255 },
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
  };
  if (spec.layout === "timm") {
    const [h, w] = spec.fixedInput ?? [224, 224];
    const side = Math.floor(Math.min(h, w) / 0.9);
    return {
      ...base,
      size: [side, side],
      crop: [h, w],
      source: `timm Swin default cfg (nothing in ${where})`,
      ...assumedOnly(
        `no pretrained_cfg in ${where}: assumed timm's Swin default (input ${h}x${w}, crop_pct ` +
          `0.9 -> shorter side ${side}, bicubic, ImageNet mean/std); override with --size/--crop`,
        ALL_SETTINGS,
      ),
    };
  }
  const same = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);
  const preset =
    TORCHVISION_PRESETS.find((p) =>
      p.version === spec.version && p.embed === spec.stem.dim && same(p.depths, spec.depths)
    ) ?? TORCHVISION_PRESETS.find((p) => p.version === spec.version)!;
  const matched = preset.embed === spec.stem.dim && same(preset.depths, spec.depths);
  return {
    ...base,
    size: [preset.resize, preset.resize],
    crop: [preset.crop, preset.crop],
    source: `torchvision ${preset.name} preset (nothing in ${where})`,
    ...assumedOnly(
      (matched
        ? `no config in ${files.dir}: width ${spec.stem.dim} and depths ${spec.depths} are ` +
          `torchvision's ${preset.name}; used its published preset`
        : `no config in ${files.dir}: width ${spec.stem.dim} / depths ${spec.depths} match no ` +
          `published torchvision Swin; assumed ${preset.name}'s preset`) +
        ` (shorter side ${preset.resize}, bicubic, center-crop ${preset.crop}, ImageNet ` +
        `mean/std); override with --size/--crop`,
      ALL_SETTINGS,
    ),
  };
}

/** Optional inputs of {@link loadSwin}. */
export interface LoadSwinOptions {
  /** Engine whose device receives the weights (default: a new one). */
  engine?: Engine;
  /** Preprocessing to report on the model (default: {@link swinPipeline}). */
  preprocess?: ModelPreprocess;
}

/**
 * Loads a Swin / Swin V2 checkpoint: a folder (config.json +
 * model.safetensors) or a `.safetensors` file, in torchvision, Hugging Face
 * or timm layout. Anything wrong with the tensors is a ModelLayoutError
 * naming them.
 */
export async function loadSwin(
  path: string | ModelFiles,
  options: LoadSwinOptions = {},
): Promise<Swin> {
  const files = typeof path === "string" ? findModelFiles(path) : path;
  const file = await SafetensorsFile.open(files.weights);
  try {
    const spec = swinSpec(file, files.config, files.weights);
    const engine = options.engine ?? await Engine.create();
    const description = {
      layout: spec.layout,
      version: spec.version,
      patch: spec.stem.patch,
      depths: spec.depths,
      widths: spec.widths,
      heads: spec.stages.map((s) => s.heads),
      windows: spec.stages.map((s) => s.window),
      mlpHidden: spec.stages.map((s) => s.blocks[0]?.hidden),
      windowRule: spec.windowRule,
      fixedInput: spec.fixedInput,
      normEps: spec.eps,
      act: spec.act,
      numClasses: spec.head.numClasses,
      features: spec.head.features,
    };
    const fallback = spec.fixedInput ?? (spec.version === 2 ? [256, 256] : [224, 224]);
    return await Swin.fromFile(
      engine,
      file,
      spec,
      checkpointMeta(files, {
        family: "swin",
        description,
        numClasses: spec.head.numClasses,
        notes: spec.notes,
        fallbackSize: fallback as [number, number],
        preprocess: options.preprocess ?? swinPipeline(files, spec),
      }),
    );
  } finally {
    file.close();
  }
}

/** The Swin family (v1 and V2): torchvision, Hugging Face and timm layouts. */
export const swinFamily: ModelFamily = {
  name: "swin",
  summary: "Swin / Swin V2 (torchvision, Hugging Face, timm)",
  explain: { gradcam: true, rollout: false },
  detect(names, config) {
    const layout = detectSwinLayout(names, config);
    return layout ? { layout } : undefined;
  },
  pipeline(files, index) {
    return swinPipeline(files, swinSpec(index, files.config, files.weights));
  },
  load(files, engine, preprocess) {
    return loadSwin(files, { engine, preprocess });
  },
};
