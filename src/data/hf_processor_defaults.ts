/**
 * What each Hugging Face image processor class does with the keys a
 * `preprocessor_config.json` leaves out: the defaults of its `__init__`,
 * whether a bare-number `size` is a square or the shorter side
 * (`get_size_dict(default_to_square=...)`), and whether it has a center-crop
 * step at all. `save_pretrained` writes every key, but hand-written and old
 * feature-extractor files do not, and the class decides what they mean.
 */

/** ImageNet channel means and standard deviations (timm IMAGENET_DEFAULT_*). */
const IMAGENET_DEFAULT = {
  mean: [0.485, 0.456, 0.406] as [number, number, number],
  std: [0.229, 0.224, 0.225] as [number, number, number],
};
/** Hugging Face IMAGENET_STANDARD_MEAN / _STD. */
const IMAGENET_STANDARD = {
  mean: [0.5, 0.5, 0.5] as [number, number, number],
  std: [0.5, 0.5, 0.5] as [number, number, number],
};
/** Hugging Face OPENAI_CLIP_MEAN / _STD. */
const OPENAI_CLIP = {
  mean: [0.48145466, 0.4578275, 0.40821073] as [number, number, number],
  std: [0.26862954, 0.26130258, 0.27577711] as [number, number, number],
};

/** One processor class's defaults. */
export interface HfProcessorDefaults {
  /** Class name, as `image_processor_type` starts (`...FeatureExtractor` too). */
  name: string;
  /** Default `size`. */
  size: { height: number; width: number } | { shortest_edge: number };
  /** A bare-number `size` is a square (true) or the shorter side (false). */
  squareSize: boolean;
  /** Default Pillow resample code. */
  resample: number;
  /** Default `do_center_crop`; null when the class has no crop step (crop keys are unused). */
  centerCrop: boolean | null;
  /** Default `crop_size` (square). */
  cropSize: number;
  /** Default `image_mean` / `image_std`. */
  mean: [number, number, number];
  std: [number, number, number];
  /** EfficientNetImageProcessor's `include_top` default. */
  includeTop?: boolean;
}

const SHORTER_SIDE_CROP = { squareSize: false, centerCrop: true, cropSize: 224 };
const SQUARE_CROP = { squareSize: true, centerCrop: true, cropSize: 224 };

/** The classes of the families visioneval reads (DINOv2 ships BitImageProcessor, Swin ViT's). */
const CLASSES: HfProcessorDefaults[] = [
  {
    name: "ViTHybrid",
    size: { shortest_edge: 224 },
    resample: 3,
    ...SHORTER_SIDE_CROP,
    ...OPENAI_CLIP,
  },
  {
    name: "ViT",
    size: { height: 224, width: 224 },
    squareSize: true,
    resample: 2,
    centerCrop: null,
    cropSize: 224,
    ...IMAGENET_STANDARD,
  },
  {
    name: "DeiT",
    size: { height: 256, width: 256 },
    resample: 3,
    ...SQUARE_CROP,
    ...IMAGENET_STANDARD,
  },
  {
    name: "Beit",
    size: { height: 256, width: 256 },
    resample: 3,
    ...SQUARE_CROP,
    ...IMAGENET_STANDARD,
  },
  {
    name: "ConvNext",
    size: { shortest_edge: 384 },
    squareSize: false,
    resample: 2,
    centerCrop: null, // crop_pct decides the crop
    cropSize: 224,
    ...IMAGENET_DEFAULT,
  },
  { name: "Bit", size: { shortest_edge: 224 }, resample: 3, ...SHORTER_SIDE_CROP, ...OPENAI_CLIP },
  { name: "CLIP", size: { shortest_edge: 224 }, resample: 3, ...SHORTER_SIDE_CROP, ...OPENAI_CLIP },
  {
    name: "MobileNetV1",
    size: { shortest_edge: 256 },
    resample: 2,
    ...SHORTER_SIDE_CROP,
    ...IMAGENET_STANDARD,
  },
  {
    name: "MobileNetV2",
    size: { shortest_edge: 256 },
    resample: 2,
    ...SHORTER_SIDE_CROP,
    ...IMAGENET_STANDARD,
  },
  {
    name: "EfficientNet",
    size: { height: 346, width: 346 },
    squareSize: true,
    resample: 0,
    centerCrop: false,
    cropSize: 289,
    includeTop: true,
    ...IMAGENET_STANDARD,
  },
];

/**
 * Used for a processor class not in the table: ViTImageProcessor's values
 * (BaseImageProcessor's square default), with a written-out crop honoured.
 */
const UNKNOWN: HfProcessorDefaults = { ...CLASSES[1], name: "unknown", centerCrop: false };

/**
 * The defaults of the processor class named `type` (`image_processor_type`
 * or `feature_extractor_type`), matched on its name prefix; `known` is false
 * for a class outside the table.
 */
export function hfProcessorDefaults(
  type: string,
): { defaults: HfProcessorDefaults; known: boolean } {
  // Longest name first: "ViTHybrid" before "ViT", "MobileNetV2" is not "MobileNetV1".
  const match = [...CLASSES].sort((a, b) => b.name.length - a.name.length)
    .find((c) =>
      type.startsWith(c.name) &&
      /^(ImageProcessor|FeatureExtractor)/.test(type.slice(c.name.length))
    );
  return match ? { defaults: match, known: true } : { defaults: UNKNOWN, known: false };
}
