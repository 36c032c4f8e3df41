/**
 * `loadModel(path)`: finds the checkpoint, works out which architecture it
 * holds and hands it to that architecture's loader. The architecture comes
 * from config.json (Hugging Face `model_type` / `architectures`, timm
 * `architecture`) and, failing that, from the tensor names.
 */
import { Engine } from "../gpu/engine.ts";
import { ModelLayoutError } from "../errors.ts";
import { SafetensorsFile } from "../weights/safetensors.ts";
import { summarizeNames } from "../weights/layout_check.ts";
import { findModelFiles, type ModelFiles } from "./config.ts";
import type { ClassifierModel } from "./model.ts";
import { Classifier } from "./classifier.ts";
import { checkKernelPath } from "./kernel_check.ts";
import {
  applyOverrides,
  type PreprocessConfig,
  preprocessConfigFromModelDir,
  type PreprocessOverrides,
} from "../data/preprocess.ts";
import { detectFamily, supportedSummary } from "./registry.ts";

/** Names of the architecture families {@link loadModel} can dispatch to (see `FAMILIES`). */
export type ArchitectureFamily = string;

/**
 * Which architecture family a checkpoint holds (its registry name, e.g.
 * "resnet"), or undefined. `names` are the tensor names of its weights file.
 */
export function detectArchitecture(
  config: Record<string, unknown>,
  names: readonly string[],
): ArchitectureFamily | undefined {
  return detectFamily(names, config)?.family.name;
}

/** Tensor names of a weights file (header only). */
async function tensorNames(path: string): Promise<string[]> {
  const file = await SafetensorsFile.open(path);
  try {
    return file.names();
  } finally {
    file.close();
  }
}

/**
 * Loads a classifier from a checkpoint folder (config.json +
 * model.safetensors, Hugging Face or timm) or a `.safetensors` file, onto
 * `engine` (default: a new engine on the process GPU).
 */
export async function loadModel(path: string, engine?: Engine): Promise<ClassifierModel> {
  const files: ModelFiles = findModelFiles(path);
  const names = await tensorNames(files.weights);
  const found = detectFamily(names, files.config);
  if (found) {
    let model: ClassifierModel;
    const on = engine ?? await Engine.create();
    try {
      model = await found.family.load(files, on);
    } catch (e) {
      // config.json named the family, so the prefix surfaces as a missing tensor there.
      const hint = wrapperPrefixHint(names, files.config);
      if (e instanceof ModelLayoutError && hint) throw new ModelLayoutError(e.message + hint);
      throw e;
    }
    // GPU kernel path: the model's network on the GPU kernels must reproduce the reference kernels.
    if (model instanceof Classifier) {
      model.engine = on;
      const check = await checkKernelPath(on, model).catch((e) => {
        model.dispose();
        throw e;
      });
      if (check) model.notes.push(check.note);
    }
    return model;
  }
  const said = [
    typeof files.config.model_type === "string" ? `model_type "${files.config.model_type}"` : "",
    Array.isArray(files.config.architectures)
      ? `architectures ${JSON.stringify(files.config.architectures)}`
      : "",
    typeof files.config.architecture === "string"
      ? `architecture "${files.config.architecture}"`
      : "",
  ].filter(Boolean);
  const hint = wrapperPrefixHint(names, files.config);
  throw new ModelLayoutError(
    `Cannot tell which architecture ${files.weights} holds` +
      (said.length
        ? ` (config.json: ${said.join(", ")})`
        : files.hasConfig
        ? ""
        : " (no config.json)") +
      `. Supported: ${supportedSummary()}. Found ${summarizeNames(names)}.${hint}`,
  );
}

/**
 * A wrapper's prefix on every name (DataParallel "module.", Lightning
 * "model.", a "state_dict." nesting) hides the layout: when the names
 * without it are a known architecture, the sentence that says how to strip
 * it; else "".
 */
function wrapperPrefixHint(names: string[], config: Record<string, unknown>): string {
  const first = names.length ? names[0].split(".")[0] : "";
  const prefixed = names.length > 1 && names.every((n) => n.startsWith(`${first}.`)) &&
    detectArchitecture(config, names.map((n) => n.slice(first.length + 1)));
  return prefixed
    ? ` Every tensor name starts with "${first}." (a training wrapper's prefix): save the ` +
      `wrapped model's state_dict, or strip the prefix, e.g. save_file({k.removeprefix(` +
      `"${first}."): v for k, v in sd.items()}, path).`
    : "";
}

/**
 * The preprocessing pipeline {@link loadModel} would give the model at
 * `path` (plus `overrides`), without loading the weights: the folder's
 * processor / timm / config.json description, or for a ResNet that has none
 * the defaults of its key layout. A folder without weights gets the folder
 * description alone.
 */
export async function folderPipeline(
  path: string,
  overrides: PreprocessOverrides = {},
): Promise<PreprocessConfig> {
  let files: ModelFiles;
  try {
    files = findModelFiles(path);
  } catch (e) {
    if (!(e instanceof ModelLayoutError)) throw e;
    return preprocessConfigFromModelDir(path, overrides);
  }
  const file = await SafetensorsFile.open(files.weights);
  try {
    const found = detectFamily(file.names(), files.config);
    if (found) return applyOverrides(found.family.pipeline(files, file), overrides);
  } finally {
    file.close();
  }
  return preprocessConfigFromModelDir(files.dir, overrides);
}
