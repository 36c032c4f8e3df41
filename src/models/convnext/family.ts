/**
 * The ConvNeXt family plug-in: detection, default preprocessing and loading
 * of ConvNeXt / ConvNeXt V2 checkpoints in Hugging Face, timm and
 * torchvision layouts (see `layouts.ts`).
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
import { convnextSpec, detectConvNeXtLayout } from "./layouts.ts";
import { ConvNeXt } from "./model.ts";
import type { ConvNeXtSpec } from "./spec.ts";

/** torchvision's published ConvNeXt weights: architecture -> evaluation resize (crop 224, bilinear). */
const TORCHVISION_PRESETS: { name: string; widths: number[]; depths: number[]; resize: number }[] =
  [
    { name: "convnext_tiny", widths: [96, 192, 384, 768], depths: [3, 3, 9, 3], resize: 236 },
    { name: "convnext_small", widths: [96, 192, 384, 768], depths: [3, 3, 27, 3], resize: 230 },
    { name: "convnext_base", widths: [128, 256, 512, 1024], depths: [3, 3, 27, 3], resize: 232 },
    { name: "convnext_large", widths: [192, 384, 768, 1536], depths: [3, 3, 27, 3], resize: 232 },
  ];

/** A family default decides the whole pipeline. */
const ALL_SETTINGS: PipelineSetting[] = ["size", "crop", "interpolation", "mean", "std"];

const same = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => v === b[i]);

/**
 * The preprocessing of a ConvNeXt folder: its own description when it has
 * one (Hugging Face processor file, timm `pretrained_cfg`); otherwise the
 * defaults of its key layout, stated in the warnings:
 * - Hugging Face: ConvNextImageProcessor's rule with `shortest_edge` =
 *   config `image_size` (default 224) and crop_pct 0.875 (shorter side to
 *   int(224 / 0.875) = 256, center-crop 224), bilinear, ImageNet mean/std;
 * - timm: timm's ConvNeXt default cfg (224, crop_pct 0.875, bicubic, ImageNet);
 * - torchvision: the published preset of the model the widths and depths
 *   identify (resize 236 tiny / 230 small / 232 base and large, bilinear,
 *   center-crop 224), 232 when they match none.
 */
export function convnextPipeline(files: ModelFiles, spec: ConvNeXtSpec): PreprocessConfig {
  const c = files.config;
  if (files.preprocessorConfig !== undefined || c.pretrained_cfg !== undefined) {
    return preprocessConfigFromModelDir(files.dir);
  }
  const where = files.hasConfig ? `${files.dir}/config.json` : files.dir;
  if (spec.layout === "hf") {
    const se = typeof c.image_size === "number" ? c.image_size : 224;
    const cfg = preprocessConfigFromHfProcessor({
      image_processor_type: "ConvNextImageProcessor",
      size: { shortest_edge: se },
      crop_pct: 224 / 256,
      resample: 2,
      image_mean: IMAGENET_MEAN,
      image_std: IMAGENET_STD,
    }, where);
    cfg.source = `ConvNextImageProcessor rule for a Hugging Face ConvNeXt (${where})`;
    assume(
      cfg,
      `no preprocessor_config.json in ${files.dir}: assumed ConvNextImageProcessor with ` +
        `shortest_edge ${se}${
          typeof c.image_size === "number" ? " (config image_size)" : ""
        }, crop_pct 0.875, bilinear, ImageNet mean/std; override with --size/--crop/--interpolation`,
      ALL_SETTINGS,
    );
    return cfg;
  }
  if (c.image_size !== undefined) return preprocessConfigFromModelDir(files.dir);
  const base: Omit<PreprocessConfig, "size" | "source" | "warnings" | "assumptions"> = {
    resizeMode: "shortest",
    crop: [224, 224],
    cropRounding: "half-even",
    interpolation: "bilinear",
    rescale: { op: "divide", value: 255 },
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
  };
  if (spec.layout === "timm") {
    return {
      ...base,
      size: [256, 256],
      interpolation: "bicubic",
      source: `timm ConvNeXt default cfg (nothing in ${where})`,
      ...assumedOnly(
        `no pretrained_cfg in ${where}: assumed timm's ConvNeXt default (input 224, crop_pct ` +
          `0.875 -> shorter side 256, bicubic, ImageNet mean/std); override with --size/--crop`,
        ALL_SETTINGS,
      ),
    };
  }
  const preset = TORCHVISION_PRESETS.find((p) =>
    same(p.widths, spec.widths) && same(p.depths, spec.depths)
  );
  const resize = preset?.resize ?? 232;
  return {
    ...base,
    size: [resize, resize],
    source: `torchvision ${preset?.name ?? "ConvNeXt"} preset (nothing in ${where})`,
    ...assumedOnly(
      preset
        ? `no config in ${files.dir}: widths ${spec.widths} and depths ${spec.depths} are ` +
          `torchvision's ${preset.name}; used its published preset (shorter side ${resize}, ` +
          `bilinear, center-crop 224, ImageNet mean/std); override with --size/--crop`
        : `no config in ${files.dir}: widths ${spec.widths} / depths ${spec.depths} match no ` +
          `published torchvision ConvNeXt; assumed the base/large preset (shorter side 232, ` +
          `bilinear, center-crop 224, ImageNet mean/std); override with --size/--crop`,
      ALL_SETTINGS,
    ),
  };
}

/** Optional inputs of {@link loadConvNeXt}. */
export interface LoadConvNeXtOptions {
  /** Engine whose device receives the weights (default: a new one). */
  engine?: Engine;
  /** Preprocessing to report on the model (default: {@link convnextPipeline}). */
  preprocess?: ModelPreprocess;
}

/**
 * Loads a ConvNeXt / ConvNeXt V2 checkpoint: a folder (config.json +
 * model.safetensors) or a `.safetensors` file, in Hugging Face, timm or
 * torchvision layout. Anything wrong with the tensors is a ModelLayoutError
 * naming them.
 */
export async function loadConvNeXt(
  path: string | ModelFiles,
  options: LoadConvNeXtOptions = {},
): Promise<ConvNeXt> {
  const files = typeof path === "string" ? findModelFiles(path) : path;
  const file = await SafetensorsFile.open(files.weights);
  try {
    const spec = convnextSpec(file, files.config, files.weights);
    const engine = options.engine ?? await Engine.create();
    const description = {
      layout: spec.layout,
      version: spec.version,
      depths: spec.depths,
      widths: spec.widths,
      patch: spec.stem.patch,
      kernels: spec.stages.map((s) => s.blocks[0].kernel),
      mlpHidden: spec.stages.map((s) => s.blocks[0].hidden),
      layerScale: Boolean(spec.stages[0].blocks[0].layerScale),
      normEps: spec.stem.norm.eps,
      headNormEps: spec.head.norm?.eps,
      normPre: Boolean(spec.normPre),
      act: spec.act,
      numClasses: spec.head.numClasses,
      features: spec.head.features,
      headLayers: spec.head.layers.map((l) => ({ out: l.outFeatures, act: l.act })),
    };
    return await ConvNeXt.fromFile(
      engine,
      file,
      spec,
      checkpointMeta(files, {
        family: "convnext",
        description,
        numClasses: spec.head.numClasses,
        notes: spec.notes,
        fallbackSize: [224, 224],
        preprocess: options.preprocess ?? convnextPipeline(files, spec),
      }),
    );
  } finally {
    file.close();
  }
}

/** The ConvNeXt family (v1 and V2): Hugging Face, timm and torchvision layouts. */
export const convnextFamily: ModelFamily = {
  name: "convnext",
  summary: "ConvNeXt / ConvNeXt V2 (Hugging Face, timm, torchvision)",
  explain: { gradcam: true, rollout: false },
  detect(names, config) {
    const layout = detectConvNeXtLayout(names, config);
    return layout ? { layout } : undefined;
  },
  pipeline(files, index) {
    return convnextPipeline(files, convnextSpec(index, files.config, files.weights));
  },
  load(files, engine, preprocess) {
    return loadConvNeXt(files, { engine, preprocess });
  },
};
