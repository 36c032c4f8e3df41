/** `visioneval explain`: Grad-CAM / Grad-CAM++ / attention-rollout maps for images. */
import { parseArgs } from "node:util";
import { basename, extname, join } from "node:path";
import { UsageError } from "../errors.ts";
import { Engine } from "../gpu/engine.ts";
import { loadModel } from "../models/load.ts";
import { prepareOutDir, printModelNotes } from "./options.ts";
import type { ClassifierModel } from "../models/model.ts";
import {
  defaultMethod,
  explainImages,
  type ExplainMethod,
  type Explanation,
} from "../explain/explain.ts";
import { heatmapPng, overlayPng } from "../explain/overlay.ts";
import { encodePng } from "../report/png.ts";
import { modelClassesFromConfig } from "../data/labels.ts";

/** Usage text. */
export const HELP = `usage: visioneval explain --model PATH --image IMG... [options] --out DIR

Shows where the evidence for a prediction is: Grad-CAM or Grad-CAM++ on the
last stage of a ResNet (closed-form gradient of the GAP + linear head, on the
GPU), or attention rollout for a ViT/DeiT. Per image it writes to --out:

  NAME.METHOD.input.png      map blended onto the image the model saw
  NAME.METHOD.original.png   map blended onto the original image (crop area)
  NAME.METHOD.heatmap.png    the map alone at the model's input size
  NAME.METHOD.map.json       the raw map (feature/token grid), class, prediction
  NAME.cls_attention.input.png   (rollout) last layer's class-token attention
  NAME.cls_head{h}.input.png     (rollout) the same for head h alone (0-based)

and prints the predicted class and its probability.

options:
  --model PATH        model folder (config.json + model.safetensors) or .safetensors
  --image IMG         image file; repeat it, or list images after the options
  --method M          gradcam | gradcam++ | rollout (default: gradcam for
                      ResNets, rollout for ViTs)
  --class K           class to explain: index or name (default: the predicted one)
  --eps E             Grad-CAM++ denominator epsilon (default 0 = the definition)
  --alpha A           heat-map opacity in the blend, 0..1 (default 0.5)
  --colormap C        turbo | viridis (default turbo)
  --batch N           images per forward pass (default 16)
  --out DIR           output folder (default out/explain)
  --json              print one JSON object per image instead of text`;

/** Resolves --class: an index, or a class name of the model. */
export function parseClass(spec: string, model: ClassifierModel): number {
  const n = Number(spec);
  if (Number.isInteger(n)) {
    if (n < 0 || n >= model.numClasses) {
      throw new UsageError(`--class ${spec} is outside 0..${model.numClasses - 1}`);
    }
    return n;
  }
  const want = spec.trim().toLowerCase();
  const i = model.labels?.findIndex((l) => l.toLowerCase() === want) ?? -1;
  if (i < 0) {
    throw new UsageError(
      `--class "${spec}" is not a class name of ${model.path}; give an index 0..${
        model.numClasses - 1
      }`,
    );
  }
  return i;
}

/** Output file stems, unique even when two images share a name. */
function stems(paths: string[]): string[] {
  const seen = new Map<string, number>();
  return paths.map((p) => {
    const s = basename(p, extname(p));
    const k = seen.get(s) ?? 0;
    seen.set(s, k + 1);
    return k === 0 ? s : `${s}_${k}`;
  });
}

const METHODS: readonly ExplainMethod[] = ["gradcam", "gradcam++", "rollout"];

/** Runs `explain`. */
export async function run(args: string[]): Promise<void> {
  const { values: v, positionals } = parseArgs({
    args,
    options: {
      model: { type: "string" },
      image: { type: "string", multiple: true },
      method: { type: "string" },
      class: { type: "string" },
      eps: { type: "string" },
      alpha: { type: "string", default: "0.5" },
      colormap: { type: "string", default: "turbo" },
      batch: { type: "string", default: "16" },
      out: { type: "string", default: "out/explain" },
      json: { type: "boolean" },
    },
    allowPositionals: true,
    strict: true,
  });
  if (!v.model) throw new UsageError("--model is required");
  const images = [...(v.image ?? []), ...positionals];
  if (images.length === 0) throw new UsageError("give at least one --image");
  if (v.method && !METHODS.includes(v.method as ExplainMethod)) {
    throw new UsageError(`--method must be one of ${METHODS.join(", ")}, got "${v.method}"`);
  }
  if (v.colormap !== "turbo" && v.colormap !== "viridis") {
    throw new UsageError(`--colormap must be turbo or viridis, got "${v.colormap}"`);
  }
  const alpha = Number(v.alpha);
  if (!(alpha >= 0 && alpha <= 1)) throw new UsageError(`--alpha must be in 0..1, got ${v.alpha}`);
  const batch = Number(v.batch);
  if (!Number.isInteger(batch) || batch < 1) throw new UsageError(`--batch must be >= 1`);
  const eps = v.eps === undefined ? undefined : Number(v.eps);
  if (eps !== undefined && !(eps >= 0)) throw new UsageError(`--eps must be >= 0, got ${v.eps}`);

  await prepareOutDir(v.out!);
  const engine = await Engine.create();
  const model = await loadModel(v.model, engine);
  printModelNotes(model);
  const method = (v.method as ExplainMethod | undefined) ?? defaultMethod(model);
  const cls = v.class === undefined ? undefined : parseClass(v.class, model);
  const colormap = v.colormap as "turbo" | "viridis";
  if (cls !== undefined && method === "rollout") {
    console.error("note: attention rollout does not depend on the class; --class only labels it");
  }
  const results = await explainImages(engine, model, images, {
    method,
    classes: cls,
    eps,
    alpha,
    colormap,
    batchSize: batch,
  });
  const names = stems(images);
  // Readable names: timm configs map wnids to descriptions (data/labels.ts).
  const classes = modelClassesFromConfig(model.config, model.numClasses);
  const name = (c: number) =>
    (classes.named ? classes.names[c] : undefined) || model.labels?.[c] || String(c);
  const tag = method === "gradcam++" ? "gradcampp" : method;
  for (let i = 0; i < results.length; i++) {
    const e: Explanation = results[i];
    const base = join(v.out!, `${names[i]}.${tag}`);
    const files = [`${base}.input.png`, `${base}.original.png`, `${base}.heatmap.png`];
    await Deno.writeFile(files[0], e.inputOverlayPng!);
    await Deno.writeFile(files[1], e.originalOverlayPng!);
    await Deno.writeFile(
      files[2],
      heatmapPng(e.map, e.input.width, e.input.height, colormap),
    );
    if (e.lastLayerCls) {
      const f = join(v.out!, `${names[i]}.cls_attention.input.png`);
      await Deno.writeFile(f, overlayPng(e.lastLayerCls, e.input, { alpha, colormap }));
      files.push(f);
    }
    for (const [h, headMap] of (e.lastLayerClsHeads ?? []).entries()) {
      const f = join(v.out!, `${names[i]}.cls_head${h}.input.png`);
      await Deno.writeFile(f, overlayPng(headMap, e.input, { alpha, colormap }));
      files.push(f);
    }
    const input = join(v.out!, `${names[i]}.input.png`);
    await Deno.writeFile(input, encodePng(e.input));
    const record = {
      image: e.path,
      method,
      class: e.class,
      class_name: name(e.class),
      class_probability: e.classProbability,
      predicted: e.predicted,
      predicted_name: name(e.predicted),
      confidence: e.confidence,
      width: e.map.width,
      height: e.map.height,
      map: rows(e.map.data, e.map.width),
      ...(e.lastLayerCls
        ? { last_layer_cls_attention: rows(e.lastLayerCls.data, e.map.width) }
        : {}),
    };
    await Deno.writeTextFile(`${base}.map.json`, JSON.stringify(record) + "\n");
    files.push(`${base}.map.json`, input);
    if (v.json) {
      const { map: _map, last_layer_cls_attention: _a, ...brief } = record as typeof record & {
        last_layer_cls_attention?: unknown;
      };
      console.log(JSON.stringify({ ...brief, files }));
    } else {
      const explained = e.class === e.predicted
        ? ""
        : `; map for class ${e.class} (${name(e.class)}, p=${e.classProbability.toFixed(4)})`;
      console.log(
        `${e.path}: predicted ${e.predicted} (${name(e.predicted)}) p=${
          e.confidence.toFixed(4)
        }${explained} -> ${base}.*`,
      );
    }
  }
  model.dispose();
}

/** A row-major map as nested arrays (rows of `width`), rounded for JSON. */
function rows(data: Float32Array, width: number): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < data.length / width; r++) {
    out.push([...data.subarray(r * width, (r + 1) * width)].map((x) => +x.toPrecision(7)));
  }
  return out;
}
