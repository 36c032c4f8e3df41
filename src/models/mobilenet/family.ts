/**
 * The MobileNet family plug-in (MobileNetV2, MobileNetV3 small/large,
 * EfficientNet B0-B7, EfficientNetV2): detection, default preprocessing and
 * loading of torchvision, timm and Hugging Face checkpoints (see
 * `layouts.ts`, `hf.ts`).
 */
import { Engine } from "../../gpu/engine.ts";
import {
  assumedOnly,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type PreprocessConfig,
  preprocessConfigFromModelDir,
} from "../../data/preprocess.ts";
import { SafetensorsFile } from "../../weights/safetensors.ts";
import { findModelFiles, type ModelFiles } from "../config.ts";
import type { ModelFamily } from "../family.ts";
import { checkpointMeta } from "../classifier.ts";
import type { ModelPreprocess } from "../model.ts";
import { detectMobileNetLayout, mobilenetSpec } from "./layouts.ts";
import { MobileNet } from "./model.ts";
import type { MobileNetSpec } from "./spec.ts";

/**
 * torchvision's default weights per model: evaluation resize (shorter side),
 * center crop and interpolation (ImageClassification presets); ImageNet
 * mean/std unless `half` (efficientnet_v2_l: mean = std = 0.5).
 */
const TORCHVISION_PRESETS: Record<
  string,
  { resize: number; crop: number; interpolation: "bilinear" | "bicubic"; half?: boolean }
> = {
  mobilenet_v2: { resize: 232, crop: 224, interpolation: "bilinear" },
  mobilenet_v3_large: { resize: 232, crop: 224, interpolation: "bilinear" },
  mobilenet_v3_small: { resize: 256, crop: 224, interpolation: "bilinear" },
  efficientnet_b0: { resize: 256, crop: 224, interpolation: "bicubic" },
  efficientnet_b1: { resize: 255, crop: 240, interpolation: "bilinear" },
  efficientnet_b2: { resize: 288, crop: 288, interpolation: "bicubic" },
  efficientnet_b3: { resize: 320, crop: 300, interpolation: "bicubic" },
  efficientnet_b4: { resize: 384, crop: 380, interpolation: "bicubic" },
  efficientnet_b5: { resize: 456, crop: 456, interpolation: "bicubic" },
  efficientnet_b6: { resize: 528, crop: 528, interpolation: "bicubic" },
  efficientnet_b7: { resize: 600, crop: 600, interpolation: "bicubic" },
  efficientnet_v2_s: { resize: 384, crop: 384, interpolation: "bilinear" },
  efficientnet_v2_m: { resize: 480, crop: 480, interpolation: "bilinear" },
  efficientnet_v2_l: { resize: 480, crop: 480, interpolation: "bicubic", half: true },
};

/**
 * The preprocessing of a MobileNet / EfficientNet folder: its own
 * description when it has one (processor file, timm `pretrained_cfg`,
 * `image_size`); otherwise the preset of torchvision's default weights for
 * the model the shapes identify (stated in the warnings), or resize 256 /
 * crop 224 bilinear with ImageNet mean/std when they identify none.
 */
export function mobilenetPipeline(files: ModelFiles, spec: MobileNetSpec): PreprocessConfig {
  const c = files.config;
  if (
    files.preprocessorConfig !== undefined || c.pretrained_cfg !== undefined ||
    c.image_size !== undefined
  ) {
    return preprocessConfigFromModelDir(files.dir);
  }
  const where = files.hasConfig ? `${files.dir}/config.json` : files.dir;
  const preset = spec.variant ? TORCHVISION_PRESETS[spec.variant] : undefined;
  const p = preset ?? { resize: 256, crop: 224, interpolation: "bilinear" as const, half: false };
  const norm = p.half ? "mean/std 0.5" : "ImageNet mean/std";
  return {
    resizeMode: "shortest",
    size: [p.resize, p.resize],
    crop: [p.crop, p.crop],
    cropRounding: "half-even",
    interpolation: p.interpolation,
    rescale: { op: "divide", value: 255 },
    mean: p.half ? [0.5, 0.5, 0.5] : IMAGENET_MEAN,
    std: p.half ? [0.5, 0.5, 0.5] : IMAGENET_STD,
    source: `torchvision ${spec.variant ?? spec.arch} preset (nothing in ${where})`,
    ...assumedOnly(
      preset
        ? `no preprocessing description in ${where}: the shapes are torchvision's ` +
          `${spec.variant}; used its default weights' preset (shorter side ${p.resize}, ` +
          `${p.interpolation}, center-crop ${p.crop}, ${norm}); override with ` +
          `--size/--crop/--interpolation`
        : `no preprocessing description in ${where} and the shapes match no published ` +
          `torchvision model: assumed shorter side 256, bilinear, center-crop 224, ImageNet ` +
          `mean/std; override with --size/--crop/--interpolation`,
      ["size", "crop", "interpolation", "mean", "std"],
    ),
  };
}

/** Optional inputs of {@link loadMobileNet}. */
export interface LoadMobileNetOptions {
  /** Engine whose device receives the weights (default: a new one). */
  engine?: Engine;
  /** Preprocessing to report on the model (default: {@link mobilenetPipeline}). */
  preprocess?: ModelPreprocess;
}

/**
 * Loads a MobileNetV2 / MobileNetV3 / EfficientNet / EfficientNetV2 checkpoint: a folder
 * (config.json + model.safetensors) or a `.safetensors` file. Anything wrong
 * with the tensors is a ModelLayoutError naming them.
 */
export async function loadMobileNet(
  path: string | ModelFiles,
  options: LoadMobileNetOptions = {},
): Promise<MobileNet> {
  const files = typeof path === "string" ? findModelFiles(path) : path;
  const file = await SafetensorsFile.open(files.weights);
  try {
    const spec = mobilenetSpec(file, files.config, files.weights);
    const engine = options.engine ?? await Engine.create();
    const description = {
      layout: spec.layout,
      arch: spec.arch,
      variant: spec.variant,
      stem: spec.stem.out,
      blocks: spec.blocks.map((b) => ({
        kind: b.kind,
        in: b.inChannels,
        expanded: b.expanded,
        out: b.outChannels,
        kernel: b.kernel,
        stride: b.stride,
        padding: b.padding,
        act: b.act,
        se: b.kind === "mbconv" ? b.se?.squeeze : undefined,
        residual: b.residual,
      })),
      finalChannels: spec.final.out,
      bnEps: spec.bnEps,
      numClasses: spec.head.numClasses,
      features: spec.head.features,
      headLayers: spec.head.layers.map((l) => ({ out: l.outFeatures, act: l.act })),
    };
    return await MobileNet.fromFile(
      engine,
      file,
      spec,
      checkpointMeta(files, {
        family: "mobilenet",
        description,
        numClasses: spec.head.numClasses,
        notes: spec.notes,
        fallbackSize: [224, 224],
        preprocess: options.preprocess ?? mobilenetPipeline(files, spec),
      }),
    );
  } finally {
    file.close();
  }
}

/**
 * The MobileNet family: MobileNetV2, MobileNetV3 small/large, EfficientNet
 * B0-B7, EfficientNetV2.
 */
export const mobilenetFamily: ModelFamily = {
  name: "mobilenet",
  summary: "MobileNetV2 / MobileNetV3 / EfficientNet B0-B7 / EfficientNetV2 (torchvision; timm " +
    "[tf_]mobilenetv3, [tf_]efficientnet, [tf_]efficientnetv2; Hugging Face MobileNetV2, EfficientNet)",
  explain: { gradcam: true, rollout: false },
  detect(names, config) {
    const found = detectMobileNetLayout(names, config);
    return found ? { layout: found.layout } : undefined;
  },
  pipeline(files, index) {
    return mobilenetPipeline(files, mobilenetSpec(index, files.config, files.weights));
  },
  load(files, engine, preprocess) {
    return loadMobileNet(files, { engine, preprocess });
  },
};
