/**
 * What a loaded model expects of its inputs and means by its outputs: the
 * preprocessing pipeline (the model's own, else the one its folder
 * describes, with user overrides) and its classes (names, WordNet ids).
 */
import { dirname } from "node:path";
import type { ClassifierModel } from "./model.ts";
import {
  applyOverrides,
  pipelineOutputSize,
  type PreprocessConfig,
  preprocessConfigFromModelDir,
  type PreprocessOverrides,
} from "../data/preprocess.ts";
import {
  type ModelClasses,
  modelClassesFromConfig,
  modelClassesFromNames,
} from "../data/labels.ts";

/** The folder a model was loaded from. */
export function modelDir(model: ClassifierModel): string {
  return /\.safetensors$/i.test(model.path) ? dirname(model.path) : model.path;
}

/** The model's preprocessing pipeline with `overrides` (e.g. CLI flags) applied. */
export function modelPipeline(
  model: ClassifierModel,
  overrides: PreprocessOverrides = {},
): PreprocessConfig {
  return model.preprocess
    ? applyOverrides(model.preprocess, overrides)
    : preprocessConfigFromModelDir(modelDir(model), overrides);
}

/**
 * Warnings about the input size a pipeline gives the model (a transformer
 * run far above its trained size), printed before a run; none when the size
 * depends on the image.
 */
export function inputSizeWarnings(model: ClassifierModel, pipeline: PreprocessConfig): string[] {
  const size = pipelineOutputSize(pipeline);
  return size && model.inputSizeWarnings ? model.inputSizeWarnings(size) : [];
}

/** The model's classes (names, WordNet ids) from its config, else its labels. */
export function modelClasses(model: ClassifierModel): ModelClasses {
  const fromConfig = modelClassesFromConfig(model.config, model.numClasses);
  if (fromConfig.named && fromConfig.count === model.numClasses) return fromConfig;
  const classes = modelClassesFromNames(model.labels, model.numClasses);
  // A name list of another length (a fine-tuned head under the base model's 1000 names)
  // cannot say which output is which: said wherever the missing names matter.
  return fromConfig.named && !classes.named
    ? {
      ...classes,
      namesIgnored: `config.json names ${fromConfig.count} classes but the head has ` +
        `${model.numClasses} outputs, so its names are not used`,
    }
    : classes;
}
