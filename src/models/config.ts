/**
 * Model folders: where the weights and `config.json` are, what the config
 * says, and the class names it carries. Hugging Face folders hold
 * `config.json` (+ `preprocessor_config.json`) and `model.safetensors`; timm
 * hub folders hold a `config.json` with `architecture`, `pretrained_cfg` and
 * optionally `label_names` / `label_descriptions`.
 */
import { basename, dirname, join } from "node:path";
import { ModelLayoutError } from "../errors.ts";
import { notRegularFileReason, requireRegularFile } from "../files.ts";
import { checkImageSize } from "../data/preprocess.ts";

/** A model checkpoint on disk. */
export interface ModelFiles {
  /** The folder holding the checkpoint. */
  dir: string;
  /** The `.safetensors` weights file. */
  weights: string;
  /** The parsed `config.json`, or `{}` when there is none. */
  config: Record<string, unknown>;
  /** True if a `config.json` was found. */
  hasConfig: boolean;
  /** The parsed `preprocessor_config.json` (Hugging Face), when present. */
  preprocessorConfig?: Record<string, unknown>;
}

function statOrUndefined(path: string): Deno.FileInfo | undefined {
  try {
    return Deno.statSync(path);
  } catch {
    return undefined;
  }
}

/** Reads a JSON object file; a clear error when it is not one. */
export function readJsonObject(path: string): Record<string, unknown> {
  let text: string;
  requireRegularFile(path, "config file", ModelLayoutError);
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new ModelLayoutError(`Cannot read ${path}: ${(e as Error).message}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new ModelLayoutError(
      `${path} is not valid JSON (${(e as Error).message}). Fix or remove the file.`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ModelLayoutError(`${path} must hold a JSON object.`);
  }
  return value as Record<string, unknown>;
}

/**
 * Locates a checkpoint: `path` is either a folder (with `model.safetensors`,
 * or exactly one `.safetensors` file) or a `.safetensors` file (its folder's
 * `config.json`, if any, is used).
 */
export function findModelFiles(path: string): ModelFiles {
  const st = statOrUndefined(path);
  if (!st) {
    throw new ModelLayoutError(
      `Model path ${path} does not exist. Pass a checkpoint folder (config.json + ` +
        `model.safetensors) or a .safetensors file.`,
    );
  }
  let dir: string;
  let weights: string;
  if (st.isDirectory) {
    dir = path;
    const preferred = join(dir, "model.safetensors");
    if (notRegularFileReason(preferred) === null) {
      weights = preferred;
    } else {
      // A model.safetensors that is a FIFO, a device or a broken link is named, not passed over.
      const why = notRegularFileReason(preferred);
      if (why !== "does not exist") {
        throw new ModelLayoutError(
          `${preferred} ${
            why!.startsWith("a ") ? `is ${why}` : why
          }; the weights must be a regular .safetensors file`,
        );
      }
      const found = [...Deno.readDirSync(dir)]
        .filter((e) => (e.isFile || e.isSymlink) && e.name.endsWith(".safetensors"))
        .map((e) => e.name)
        .sort();
      if (found.length !== 1 && statOrUndefined(join(dir, "model.safetensors.index.json"))) {
        throw new ModelLayoutError(
          `${dir} holds a sharded checkpoint (model.safetensors.index.json + ${found.length} ` +
            `shards), which is not supported: merge the shards into one model.safetensors, e.g. ` +
            `model.save_pretrained(dir, max_shard_size="100GB").`,
        );
      }
      if (found.length !== 1) {
        throw new ModelLayoutError(
          found.length === 0
            ? `No .safetensors weights in ${dir}. Expected model.safetensors (PyTorch .bin/.pth ` +
              `checkpoints are not supported: convert them with safetensors' save_file).`
            : `${dir} holds several .safetensors files (${found.join(", ")}) and no ` +
              `model.safetensors; pass the one to use as the model path.`,
        );
      }
      weights = join(dir, found[0]);
    }
  } else {
    if (!basename(path).endsWith(".safetensors")) {
      throw new ModelLayoutError(
        `Model file ${path} is not a .safetensors file. Pass a checkpoint folder or a ` +
          `.safetensors file.`,
      );
    }
    requireRegularFile(path, "model weights", ModelLayoutError);
    dir = dirname(path);
    weights = path;
  }
  // An existing config.json / preprocessor_config.json that is not a regular file (a FIFO,
  // a broken link) is an error from readJsonObject, never silently treated as absent.
  const present = (p: string) => notRegularFileReason(p) !== "does not exist";
  const configPath = join(dir, "config.json");
  const hasConfig = present(configPath);
  const config = hasConfig ? readJsonObject(configPath) : {};
  checkImageSize(config, configPath);
  const ppPath = join(dir, "preprocessor_config.json");
  const preprocessorConfig = present(ppPath) ? readJsonObject(ppPath) : undefined;
  return { dir, weights, config, hasConfig, preprocessorConfig };
}

/**
 * Class names from a config, when it has them: Hugging Face `id2label`
 * (index -> name), timm `label_descriptions` (preferred, human-readable) or
 * `label_names`, or a plain `labels` list. An `id2label` with gaps gives the
 * names it has and "" for the missing indices (a gap does not erase the
 * other names). Returns undefined when there are none, or when a list's
 * length does not match `numClasses`.
 */
export function labelsFromConfig(
  config: Record<string, unknown>,
  numClasses: number,
  where = "config.json",
): string[] | undefined {
  checkId2labelKeys(config, numClasses, where);
  const asList = (v: unknown): string[] | undefined =>
    Array.isArray(v) && v.length === numClasses && v.every((s) => typeof s === "string")
      ? v as string[]
      : undefined;
  for (const key of ["label_descriptions", "label_names", "labels"]) {
    const l = asList(config[key]) ??
      asList((config.pretrained_cfg as Record<string, unknown> | undefined)?.[key]);
    if (l) return l;
  }
  const id2label = config.id2label;
  if (id2label && typeof id2label === "object" && !Array.isArray(id2label)) {
    const map = id2label as Record<string, unknown>;
    const out: string[] = [];
    for (let i = 0; i < numClasses; i++) {
      const name = map[String(i)];
      out.push(typeof name === "string" ? name : "");
    }
    return out.some(Boolean) ? out : undefined;
  }
  return undefined;
}

/**
 * Refuses an `id2label` whose keys are not class indices of the head
 * (0..numClasses-1): a 1-based map, one with more names than outputs, or a
 * label2id pasted in its place would otherwise name (and, in an evaluation,
 * map dataset classes to) the wrong outputs. Hugging Face refuses such a
 * config too (num_labels = len(id2label) no longer fits the head's weights).
 * Keys missing inside the range are allowed (see {@link labelsFromConfig}).
 */
export function checkId2labelKeys(
  config: Record<string, unknown>,
  numClasses: number,
  where = "config.json",
): void {
  const id2label = config.id2label;
  if (!id2label || typeof id2label !== "object" || Array.isArray(id2label)) return;
  // Keys are read back as String(i), so "01" or " 1" would be skipped as silently as "10".
  const bad = Object.keys(id2label).filter((k) => {
    const i = Number(k);
    return !(Number.isInteger(i) && i >= 0 && i < numClasses && String(i) === k);
  });
  if (bad.length === 0) return;
  const shown = bad.slice(0, 5).map((k) => JSON.stringify(k)).join(", ") +
    (bad.length > 5 ? `, ... (${bad.length} keys)` : "");
  throw new ModelLayoutError(
    `${where}: id2label has key(s) ${shown}, but the model's head has ${numClasses} outputs, ` +
      `so its keys must be class indices 0..${numClasses - 1} (0-based, as Hugging Face writes ` +
      `them: {"0": "name", ...}). Fix id2label in ${where} to name each output of the head.`,
  );
}

/**
 * The input size [H, W] a config asks for: timm `pretrained_cfg.input_size`
 * [3, H, W], HF `image_size`, or (under `preprocessor_config`) the HF image
 * processor's `crop_size` / `size`; else `fallback`.
 */
export function inputSizeFromConfig(
  config: Record<string, unknown>,
  fallback: [number, number],
): [number, number] {
  const isNum = (x: unknown): x is number => typeof x === "number" && x > 0;
  const pc = config.pretrained_cfg as Record<string, unknown> | undefined;
  const timm = pc?.input_size;
  if (Array.isArray(timm) && timm.length === 3 && timm.every(isNum)) return [timm[1], timm[2]];
  const s = config.image_size;
  if (isNum(s)) return [s, s];
  if (Array.isArray(s) && s.length === 2 && s.every(isNum)) return [s[0], s[1]];
  const pp = config.preprocessor_config as Record<string, unknown> | undefined;
  for (const key of ["crop_size", "size"]) {
    const v = pp?.[key];
    if (isNum(v)) return [v, v];
    if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      if (isNum(o.height) && isNum(o.width)) return [o.height, o.width];
      if (isNum(o.shortest_edge)) return [o.shortest_edge, o.shortest_edge];
    }
  }
  return fallback;
}
