/**
 * What a model family plugs into the registry (`registry.ts`): how to
 * recognise its checkpoints, what preprocessing they default to, how to load
 * them, and which explanations they support. One family = one folder under
 * `src/models/` (layouts.ts: key names -> spec; model.ts: forward + taps),
 * exporting one {@link ModelFamily}.
 */
import type { Engine } from "../gpu/engine.ts";
import type { PreprocessConfig } from "../data/preprocess.ts";
import type { TensorIndex } from "../weights/layout_check.ts";
import type { ModelFiles } from "./config.ts";
import type { ClassifierModel } from "./model.ts";

/** A family's verdict on a checkpoint: which of its key layouts it uses. */
export interface FamilyMatch {
  /** The layout, e.g. "hf", "timm", "torchvision". */
  layout: string;
}

/** One architecture family (ResNet, ViT, ConvNeXt, ...). */
export interface ModelFamily {
  /** Short name, e.g. "resnet". */
  readonly name: string;
  /**
   * What the "Supported: ..." message says about it, e.g.
   * "ResNet (Hugging Face, torchvision/timm, CIFAR)".
   */
  readonly summary: string;
  /** Explanations its models support. */
  readonly explain: {
    /** Grad-CAM / Grad-CAM++ on a final feature map (the `featureMap` tap). */
    gradcam: boolean;
    /** Attention rollout (the `attention` tap). */
    rollout: boolean;
  };
  /**
   * The layout of a checkpoint, or undefined when it is not this family.
   * Reads only tensor names and config.json (cheap, no weights).
   */
  detect(names: readonly string[], config: Record<string, unknown>): FamilyMatch | undefined;
  /**
   * The preprocessing a checkpoint of this family defaults to (folder
   * description first, then the family's assumptions, stated as warnings).
   */
  pipeline(files: ModelFiles, index: TensorIndex): PreprocessConfig;
  /** Loads the checkpoint onto `engine`; `preprocess` replaces the default pipeline. */
  load(files: ModelFiles, engine: Engine, preprocess?: PreprocessConfig): Promise<ClassifierModel>;
}
