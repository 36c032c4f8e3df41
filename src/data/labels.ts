/**
 * Mapping dataset classes to model classes.
 *
 * A model knows its classes by index and, usually, by name (Hugging Face
 * `id2label` like "tench, Tinca tinca"; timm `label_names` = WordNet ids and
 * `label_descriptions`). A dataset knows its classes by folder or CSV names
 * ("tench", "n01440764", "great_white_shark") or by bare indices. Names are
 * matched tolerantly: case, spaces/underscores/hyphens, WordNet ids, the
 * full label or the first of its comma-separated synonyms (then any
 * synonym), always requiring a unique answer. An explicit mapping file
 * overrides, and bare indices map to the same model index.
 *
 * Dataset classes the model lacks are an error, unless predictions are
 * restricted to the dataset's classes: then their images are dropped (and
 * listed) and the evaluator gets the model-class subset to mask logits with.
 */
import { extname } from "node:path";
import { DataError } from "../errors.ts";
import { requireRegularFile } from "../files.ts";
import type { Dataset, DatasetItem } from "./datasets.ts";
import { readCsvRecords } from "../csv.ts";

/** A model's classes: how many, and the names each can be called by. */
export interface ModelClasses {
  /** Number of outputs. */
  count: number;
  /** Display name per class ("" when unknown). */
  names: string[];
  /** WordNet id (or other id) per class, when known. */
  ids: (string | undefined)[];
  /** True when the names are real (not HF placeholders LABEL_0, ...). */
  named: boolean;
  /** Why a model that has names in its config is treated as unnamed, when it is. */
  namesIgnored?: string;
}

const PLACEHOLDER = /^LABEL_\d+$/;

/**
 * Reads the classes from a model config object: `id2label`,
 * timm `label_names` + `label_descriptions` (list or wnid -> text map),
 * or `labels`; `count` falls back to num_labels / num_classes.
 */
export function modelClassesFromConfig(
  config: Record<string, unknown>,
  count?: number,
): ModelClasses {
  const n = count ?? Number(config.num_labels ?? config.num_classes ?? 0);
  let names: string[] = [];
  let ids: (string | undefined)[] = [];
  const labelNames = config.label_names;
  const desc = config.label_descriptions;
  if (Array.isArray(labelNames)) {
    ids = labelNames.map(String);
    if (Array.isArray(desc)) names = desc.map(String);
    else if (desc && typeof desc === "object") {
      const d = desc as Record<string, unknown>;
      names = ids.map((id) => (id !== undefined && d[id] !== undefined ? String(d[id]) : id ?? ""));
    } else names = ids.map((id) => id ?? "");
  } else if (config.id2label && typeof config.id2label === "object") {
    const m = config.id2label as Record<string, unknown>;
    for (const [k, v] of Object.entries(m)) names[Number(k)] = String(v);
  } else if (Array.isArray(config.labels)) {
    names = config.labels.map(String);
  }
  const total = Math.max(n, names.length, ids.length);
  for (let i = 0; i < total; i++) names[i] ??= "";
  const named = names.some((s) => s && !PLACEHOLDER.test(s));
  return { count: total, names, ids, named };
}

/** Reads `config.json` of a model folder (see {@link modelClassesFromConfig}). */
export function readModelClasses(dir: string, count?: number): ModelClasses {
  const path = `${dir}/config.json`;
  let config: Record<string, unknown>;
  requireRegularFile(path, "model config");
  try {
    config = JSON.parse(Deno.readTextFileSync(path));
  } catch (e) {
    throw new DataError(`cannot read class names from ${path}: ${(e as Error).message}`);
  }
  return modelClassesFromConfig(config, count);
}

/** Classes of a model that names some of its classes but not these (indices, ascending). */
export function unnamedClasses(model: ModelClasses): number[] {
  if (!model.named) return [];
  const out: number[] = [];
  for (let c = 0; c < model.count; c++) {
    const name = model.names[c];
    if (!model.ids[c] && (!name || PLACEHOLDER.test(name))) out.push(c);
  }
  return out;
}

/** Model classes from a plain list of names (e.g. `ClassifierModel.labels`). */
export function modelClassesFromNames(names: string[] | undefined, count: number): ModelClasses {
  return modelClassesFromConfig({ labels: names ?? [] }, count);
}

/** Case, whitespace, underscore and hyphen insensitive form of a class name. */
export function normalizeClassName(s: string): string {
  return s.trim().toLowerCase().replace(/[\s_-]+/g, " ");
}

/** How dataset labels were turned into model class indices. */
export interface LabelMapping {
  /** "name", "index" or "file" (explicit mapping file, names for the rest). */
  mode: "name" | "index" | "file";
  /** Model class per dataset label (-1: not in the model, images dropped). */
  datasetToModel: Int32Array;
  /**
   * Model classes predictions are restricted to (sorted), or null for all.
   * The evaluator masks the other logits.
   */
  modelSubset: number[] | null;
  /** Dataset classes the model lacks (only non-empty when restricting). */
  missing: string[];
  /** One line describing the mapping. */
  description: string;
  /** Things worth telling the user. */
  warnings: string[];
}

/** Options of {@link mapLabels}. */
export interface MapLabelsOptions {
  /** "auto" (default): names when both sides have names, else indices. */
  by?: "auto" | "name" | "index";
  /** JSON `{dataset: model}` or CSV `dataset,model` (model = name or index). */
  mappingFile?: string;
  /** Restrict predictions to the dataset's classes (see module docs). */
  restrict?: boolean;
}

/** Lookup tables from normalised names to model classes, by priority. */
function buildIndex(model: ModelClasses): Map<string, Set<number>>[] {
  const levels = [new Map<string, Set<number>>(), new Map(), new Map(), new Map()];
  const add = (level: number, key: string | undefined, c: number) => {
    if (!key) return;
    const k = normalizeClassName(key);
    if (!k) return;
    const m = levels[level];
    if (!m.has(k)) m.set(k, new Set());
    m.get(k)!.add(c);
  };
  for (let c = 0; c < model.count; c++) {
    const name = model.names[c];
    add(0, model.ids[c], c);
    if (!name || PLACEHOLDER.test(name)) continue;
    add(1, name, c);
    const synonyms = name.split(",").map((s) => s.trim()).filter(Boolean);
    add(2, synonyms[0], c);
    for (const s of synonyms) add(3, s, c);
  }
  return levels;
}

/**
 * Finds the model class a name refers to; throws when it is ambiguous,
 * returns -1 when absent.
 */
function lookup(
  levels: Map<string, Set<number>>[],
  name: string,
  model: ModelClasses,
): number {
  const k = normalizeClassName(name);
  if (/^\d+$/.test(k)) {
    const i = Number(k);
    if (i < model.count) return i;
  }
  for (const m of levels) {
    const hits = m.get(k);
    if (!hits) continue;
    if (hits.size === 1) return [...hits][0];
    const list = [...hits].map((c) => `${c} "${model.names[c]}"`).join(", ");
    throw new DataError(
      `class "${name}" matches several model classes (${list}); ` +
        `name folders by WordNet id or give a mapping file (--mapping)`,
    );
  }
  return -1;
}

function readMappingFile(path: string): Map<string, string> {
  let text: string;
  requireRegularFile(path, "label mapping file");
  try {
    text = Deno.readTextFileSync(path);
  } catch (e) {
    throw new DataError(`cannot read label mapping file ${path}: ${(e as Error).message}`);
  }
  const out = new Map<string, string>();
  if (extname(path).toLowerCase() === ".json") {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      throw new DataError(`${path} is not valid JSON: ${(e as Error).message}`);
    }
    if (!obj || typeof obj !== "object" || Array.isArray(obj)) {
      throw new DataError(`${path}: expected an object {"dataset class": "model class"}`);
    }
    for (const [k, v] of Object.entries(obj)) out.set(k, String(v));
  } else {
    readCsvRecords(text).forEach(({ fields: r, line }, i) => {
      if (r.length < 2) throw new DataError(`${path} line ${line}: expected "dataset,model"`);
      if (i === 0 && /^(dataset|source|from)/i.test(r[0].trim())) return; // header
      out.set(r[0].trim(), r[1].trim());
    });
  }
  return out;
}

/**
 * Model class `l` for dataset class `l` when its name is not unique in the
 * dataset's class list and the model names its class `l` the same: a
 * numbered class list (the ImageNet-1k ClassLabel names, with "crane" at
 * 134 and 517) that repeats a name as the model does. A name alone is
 * ambiguous there; its position is the evidence. Null otherwise.
 */
function twinByPosition(dataset: Dataset, model: ModelClasses, l: number): number | null {
  const name = dataset.classes[l];
  if (!name || l >= model.count || !model.names[l]) return null;
  const k = normalizeClassName(name);
  const repeats = dataset.classes.filter((c) => normalizeClassName(c) === k).length;
  return repeats > 1 && normalizeClassName(model.names[l]) === k ? l : null;
}

/**
 * For index labels with names: "names" when every name resolves to a model
 * class and most resolve to another index than their own, else "index".
 */
function indexNamesAgree(dataset: Dataset, model: ModelClasses): "index" | "names" {
  const levels = buildIndex(model);
  const used = new Set(dataset.items.map((it) => it.label!));
  let disagree = 0;
  let agree = 0;
  for (const l of used) {
    const name = dataset.classes[l];
    if (!name) return "index";
    let c: number;
    try {
      c = lookup(levels, name, model);
    } catch {
      continue; // ambiguous name: no evidence either way
    }
    if (c < 0) return "index";
    if (c !== l) disagree++;
    else agree++;
  }
  // Real class lists have a few names that also fit another class; a
  // re-numbered subset disagrees almost everywhere.
  return disagree > agree ? "names" : "index";
}

/**
 * Maps a dataset's labels to model class indices. Throws DataError naming
 * the classes the model lacks (unless `restrict`), ambiguous names, or
 * labels beyond the model's classes.
 */
export function mapLabels(
  dataset: Dataset,
  model: ModelClasses,
  opts: MapLabelsOptions = {},
): LabelMapping {
  if (dataset.labelKind === "none") {
    return {
      mode: "index",
      datasetToModel: new Int32Array(0),
      modelSubset: null,
      missing: [],
      description: "dataset is unlabelled",
      warnings: [],
    };
  }
  const warnings: string[] = [];
  const maxLabel = dataset.items.reduce((m, it) => Math.max(m, it.label ?? -1), -1);
  const nLabels = Math.max(dataset.classes.length, maxLabel + 1);
  const map = new Int32Array(nLabels).fill(-1);
  const fileMap = opts.mappingFile ? readMappingFile(opts.mappingFile) : null;
  let mode: LabelMapping["mode"];
  const by = opts.by ?? "auto";
  let useNames = !fileMap && (by === "name" ||
    (by === "auto" && dataset.labelKind === "name" && model.named));
  if (!fileMap && by === "auto" && dataset.labelKind === "index" && model.named) {
    // Index labels that also carry names (a `name` column): trust the
    // indices only if the names agree with the model's classes there; a
    // re-numbered subset (0..9 for ten ImageNet classes) maps by name.
    const verdict = indexNamesAgree(dataset, model);
    if (verdict === "names") {
      useNames = true;
      warnings.push(
        `dataset labels are numbers but their names are other model classes; mapped by name`,
      );
    }
  }
  if (fileMap || useNames) {
    mode = fileMap ? "file" : "name";
    if (!model.named && !fileMap) {
      throw new DataError(
        `the model has no class names (${
          model.namesIgnored ?? "config.json id2label / label_names"
        }); ` +
          `map by index (--map-by index) or give a mapping file (--mapping)`,
      );
    }
    const levels = buildIndex(model);
    for (let l = 0; l < nLabels; l++) {
      const name = dataset.classes[l] || String(l);
      const target = fileMap?.get(name) ?? fileMap?.get(String(l));
      if (target !== undefined) {
        const c = lookup(levels, target, model);
        if (c < 0) {
          throw new DataError(
            `mapping file ${opts.mappingFile}: "${target}" (for "${name}") is not a model class`,
          );
        }
        map[l] = c;
      } else if (dataset.labelKind === "index" && !dataset.classes[l]) {
        map[l] = l < model.count ? l : -1;
      } else {
        try {
          map[l] = lookup(levels, name, model);
        } catch (e) {
          const twin = twinByPosition(dataset, model, l);
          if (twin === null) throw e;
          map[l] = twin;
          warnings.push(
            `class "${name}" names several classes of both the dataset and the model ` +
              `(as "crane" does in the ImageNet-1k list); dataset class ${l} mapped to model ` +
              `class ${l}, the one of that name at the same position`,
          );
        }
      }
    }
  } else {
    mode = "index";
    if (dataset.labelKind === "name") {
      warnings.push(
        `${
          model.named
            ? "--map-by index"
            : `model has no class names${model.namesIgnored ? ` (${model.namesIgnored})` : ""}`
        }: dataset classes mapped ` +
          `by position (${dataset.classes.slice(0, 3).join(", ")}, ... -> 0, 1, 2, ...)`,
      );
    }
    for (let l = 0; l < nLabels; l++) map[l] = l < model.count ? l : -1;
  }
  // ImageNet's WordNet-id folders against a model that names its 1000 classes in words
  // (Hugging Face id2label "tench, Tinca tinca"): with all 1000 ids present the standard
  // class order is theirs sorted, which is how index i was defined.
  const isWnid = (s: string) => /^n\d{8}$/.test(s);
  const wnidLabels = dataset.labelKind === "name" && dataset.classes.length > 0 &&
    dataset.classes.every(isWnid) && !model.names.some(isWnid);
  if (
    mode === "name" && wnidLabels && model.count === 1000 && dataset.classes.length === 1000 &&
    map.every((c) => c < 0)
  ) {
    const order = [...dataset.classes].sort();
    dataset.classes.forEach((c, l) => map[l] = order.indexOf(c));
    warnings.push(
      `dataset classes are the 1000 ImageNet WordNet ids and the model names its classes in ` +
        `words: mapped in the standard ImageNet order (sorted WordNet ids = class index)`,
    );
  }
  // Dataset classes that actually occur but have no model class.
  const used = new Set(dataset.items.map((it) => it.label!));
  const missing = [...used].filter((l) => map[l] < 0).sort((a, b) => a - b)
    .map((l) => dataset.classes[l] || String(l));
  // A model that names only some of its classes (an id2label with gaps): a dataset class
  // that found no name may be one of the unnamed ones, so the mapping is refused, not guessed.
  const unnamed = mode === "index" ? [] : unnamedClasses(model);
  if (missing.length && unnamed.length) {
    const shown = unnamed.slice(0, 10).join(", ") + (unnamed.length > 10 ? ", ..." : "");
    throw new DataError(
      `the model names ${model.count - unnamed.length} of its ${model.count} classes: ` +
        `its config (id2label) has no name for class index(es) ${shown}, so mapping the ` +
        `dataset's classes by name cannot be complete (${missing.slice(0, 8).join(", ")}${
          missing.length > 8 ? ", ..." : ""
        } found no model class). Add the missing names to id2label, give a mapping file ` +
        `(--mapping), or map by position (--map-by index)`,
    );
  }
  if (missing.length && !opts.restrict) {
    throw new DataError(
      `${missing.length} dataset class(es) are not among the model's ${model.count} classes: ` +
        `${missing.slice(0, 8).join(", ")}${missing.length > 8 ? ", ..." : ""}. ` +
        `Give a mapping file (--mapping), or restrict predictions to the classes ` +
        `both share (--restrict) to drop those images` +
        // Nothing matched by name: the names may just differ (c0 vs airplane) in the same order.
        (mode === "name" && wnidLabels
          ? `. The dataset names classes by WordNet id (n01440764) and the model in words; ` +
            `only a full 1000-class ImageNet set maps by itself, a subset needs --mapping ` +
            `(wnid,model class per line)`
          : mode === "name" && missing.length === used.size && nLabels <= model.count
          ? `, or map classes by position (--map-by index) if they are in the model's order`
          : ""),
    );
  }
  const targets = [...used].map((l) => map[l]).filter((c) => c >= 0);
  const seen = new Map<number, number>();
  for (let l = 0; l < nLabels; l++) {
    if (map[l] < 0 || !used.has(l)) continue;
    if (seen.has(map[l])) {
      warnings.push(
        `dataset classes "${dataset.classes[seen.get(map[l])!]}" and "${
          dataset.classes[l]
        }" both map to model class ${map[l]}`,
      );
    } else seen.set(map[l], l);
  }
  const modelSubset = opts.restrict ? [...new Set(targets)].sort((a, b) => a - b) : null;
  if (missing.length) {
    warnings.push(`images of ${missing.length} class(es) the model lacks are left out`);
  }
  return {
    mode,
    datasetToModel: map,
    modelSubset,
    missing,
    description: `${used.size} dataset classes -> model classes by ${mode}${
      modelSubset ? `, predictions restricted to ${modelSubset.length} classes` : ""
    }${missing.length ? `, ${missing.length} class(es) dropped` : ""}`,
    warnings,
  };
}

/**
 * Rewrites item labels into model class indices. Items whose class the model
 * lacks (only possible when restricting) are returned in `dropped`.
 */
export function applyLabelMapping(
  items: DatasetItem[],
  mapping: LabelMapping,
  dataset: Dataset,
): { items: DatasetItem[]; dropped: { path: string; reason: string }[] } {
  if (dataset.labelKind === "none") return { items, dropped: [] };
  const out: DatasetItem[] = [];
  const dropped: { path: string; reason: string }[] = [];
  for (const it of items) {
    const c = mapping.datasetToModel[it.label!];
    if (c >= 0) out.push({ ...it, label: c });
    else {
      dropped.push({
        path: it.path,
        reason: `class "${dataset.classes[it.label!] || it.label}" is not a model class`,
      });
    }
  }
  return { items: out, dropped };
}
