/**
 * Explanation maps for whole batches, ready to save or put in a report:
 * one forward pass with the needed tap (final feature map for Grad-CAM,
 * attention for rollout), the maps computed from it (on the GPU for
 * Grad-CAM, shaders/gradcam.wgsl; rollout on the host from the read-back
 * attention, rollout.ts), one readback per batch, then overlays on the
 * image the model saw and on the original image.
 *
 * {@link explainPixels} works on a batch already preprocessed (an
 * evaluation loop has one); {@link explainImages} reads, decodes and
 * preprocesses image files itself and also blends onto the originals.
 */
import type { Engine } from "../gpu/engine.ts";
import type { ClassifierModel } from "../models/model.ts";
import { modelPipeline } from "../models/pipeline.ts";
import type { Tensor } from "../tensor.ts";
import { ModelLayoutError } from "../errors.ts";
import { readImage } from "../data/decode.ts";
import type { RgbImage } from "../data/resize.ts";
import {
  cropOffsets,
  normalizationTable,
  preprocess,
  type PreprocessConfig,
  resizedSize,
} from "../data/preprocess.ts";
import type { ExplanationExample, RasterImage } from "../report/types.ts";
import { argmaxRows, gradCam } from "./gradcam.ts";
import { rolloutBatch } from "./rollout.ts";
import {
  denormalize,
  type HeatMap,
  overlayMap,
  type OverlayOptions,
  type Region,
} from "./overlay.ts";
import { encodePng } from "../report/png.ts";

/** Explanation methods. */
export type ExplainMethod = "gradcam" | "gradcam++" | "rollout";

/** Options of {@link explainPixels} and {@link explainImages}. */
export interface ExplainOptions extends Omit<OverlayOptions, "region"> {
  /** Method (default: "gradcam" for CNNs, "rollout" for transformers). */
  method?: ExplainMethod;
  /** Class to explain per image, or one class for all (default: the predicted class). */
  classes?: number | number[];
  /** Grad-CAM++ denominator epsilon (default 0, the definition). */
  eps?: number;
  /** Encode the overlays as PNG (default true). */
  png?: boolean;
  /**
   * How the pixels were normalized, to show the image the model saw:
   * mean, std and the byte scale (default: the model folder's pipeline).
   */
  normalization?: { mean: readonly number[]; std: readonly number[]; scale?: number };
}

/** One image's explanation. */
export interface Explanation {
  /** "gradcam", "gradcam++" or "rollout". */
  method: ExplainMethod;
  /** The class the map explains. */
  class: number;
  /** Predicted class (argmax of the logits). */
  predicted: number;
  /** Softmax probability of the predicted class. */
  confidence: number;
  /** Softmax probability of the explained class. */
  classProbability: number;
  /** The raw map at feature / token-grid resolution (not normalized). */
  map: HeatMap;
  /** Last layer's class-token attention, mean over heads (ViT). */
  lastLayerCls?: HeatMap;
  /** Last layer's class-token attention of each head, in head order (ViT). */
  lastLayerClsHeads?: HeatMap[];
  /** The image the model saw (denormalized input), RGB. */
  input: RasterImage;
  /** Map blended onto the model input. */
  inputOverlay: RasterImage;
  /** PNG of `inputOverlay` (unless `png: false`). */
  inputOverlayPng?: Uint8Array;
  /** Map blended onto the original image (explainImages only). */
  originalOverlay?: RasterImage;
  /** PNG of `originalOverlay`. */
  originalOverlayPng?: Uint8Array;
  /** Image path (explainImages only). */
  path?: string;
}

/** Default method of a model: Grad-CAM for CNNs, rollout for transformers. */
export function defaultMethod(model: ClassifierModel): ExplainMethod {
  return /vit|deit|transformer/i.test(model.architecture) ? "rollout" : "gradcam";
}

/** Prefix tokens and patch grid of a transformer's attention maps of T tokens for an H x W input. */
function tokenLayout(
  model: ClassifierModel,
  tokens: number,
  H: number,
  W: number,
): { prefix: number; grid: [number, number] } {
  if (model.tokenGrid) return model.tokenGrid(H, W);
  for (const prefix of [1, 2]) { // class token, or class + distillation token
    const patch = Math.sqrt((H * W) / (tokens - prefix));
    if (Number.isInteger(patch) && H % patch === 0 && W % patch === 0) {
      return { prefix, grid: [H / patch, W / patch] };
    }
  }
  throw new ModelLayoutError(
    `${model.path}: cannot tell the patch grid of ${tokens} attention tokens for a ${H}x${W} input`,
  );
}

function softmaxRow(logits: ArrayLike<number>, offset: number, n: number): Float64Array {
  let max = -Infinity;
  for (let c = 0; c < n; c++) max = Math.max(max, logits[offset + c]);
  const p = new Float64Array(n);
  let s = 0;
  for (let c = 0; c < n; c++) s += p[c] = Math.exp(logits[offset + c] - max);
  for (let c = 0; c < n; c++) p[c] /= s;
  return p;
}

function argmax(p: Float64Array): number {
  let best = 0;
  for (let c = 1; c < p.length; c++) if (p[c] > p[best]) best = c;
  return best;
}

/**
 * Explains a preprocessed batch `pixels` [B, 3, H, W] (host array or GPU
 * tensor): runs the forward pass with the tap the method needs and returns
 * per image the raw map, prediction and overlays on the model input.
 */
export async function explainPixels(
  engine: Engine,
  model: ClassifierModel,
  pixels: Float32Array | Tensor,
  shape: readonly [number, number, number, number],
  opts: ExplainOptions = {},
): Promise<Explanation[]> {
  const [B, , H, W] = shape;
  const method = opts.method ?? defaultMethod(model);
  const norm = opts.normalization ?? (() => {
    const cfg = modelPipeline(model);
    const scale = cfg.rescale.op === "divide" ? cfg.rescale.value : 1 / cfg.rescale.value;
    return { mean: cfg.mean, std: cfg.std, scale };
  })();
  const classesHost = opts.classes === undefined
    ? undefined
    : typeof opts.classes === "number"
    ? new Array(B).fill(opts.classes)
    : opts.classes;
  if (classesHost && classesHost.length !== B) {
    throw new RangeError(`${classesHost.length} classes given for ${B} images`);
  }
  for (const c of classesHost ?? []) {
    if (!Number.isInteger(c) || c < 0 || c >= model.numClasses) {
      throw new RangeError(`class ${c} is outside 0..${model.numClasses - 1} for ${model.path}`);
    }
  }
  const x = pixels instanceof Float32Array
    ? engine.upload(pixels, [...shape], "explain pixels")
    : pixels;
  const host = pixels instanceof Float32Array ? pixels : await engine.readF32(pixels);
  const toFree: Tensor[] = [];
  let logits: Float32Array;
  let maps: HeatMap[];
  let lastCls: HeatMap[] | undefined;
  let lastClsHeads: HeatMap[][] | undefined;
  try {
    if (method === "rollout") {
      const out = model.forward(engine, x, { attention: true, clsAttentionHeads: true });
      toFree.push(out.logits);
      if (out.clsAttentionHeads) toFree.push(out.clsAttentionHeads);
      if (!out.attention) {
        throw new ModelLayoutError(
          `${model.path}: ${model.architecture} has no attention maps; use --method gradcam`,
        );
      }
      toFree.push(out.attention);
      const [lg, att, heads] = await engine.read(
        out.logits,
        out.attention,
        ...(out.clsAttentionHeads ? [out.clsAttentionHeads] : []),
      );
      logits = lg as Float32Array;
      const [, L, T] = out.attention.shape;
      const { prefix, grid } = tokenLayout(model, T, H, W);
      maps = rolloutBatch(att as Float32Array, out.attention.shape, { prefixTokens: prefix, grid })
        .map((r) => ({ width: r.width, height: r.height, data: r.map }));
      // Last layer, class-token row, patch columns (head mean).
      lastCls = [...Array(B).keys()].map((b) => {
        const row = ((b * L + L - 1) * T) * T;
        return {
          width: grid[1],
          height: grid[0],
          data: Float32Array.from((att as Float32Array).subarray(row + prefix, row + T)),
        };
      });
      // The same row per head [B, heads, T], patch columns.
      if (heads && out.clsAttentionHeads) {
        const nh = out.clsAttentionHeads.shape[1];
        lastClsHeads = [...Array(B).keys()].map((b) =>
          [...Array(nh).keys()].map((h) => {
            const row = (b * nh + h) * T;
            return {
              width: grid[1],
              height: grid[0],
              data: Float32Array.from((heads as Float32Array).subarray(row + prefix, row + T)),
            };
          })
        );
      }
    } else {
      // A head deeper than one linear (an MLP, a LayerNorm) has a per-image gradient.
      const perImage = model.classScoreGradient !== undefined;
      const out = model.forward(engine, x, { featureMap: true, features: perImage });
      toFree.push(out.logits);
      if (out.features) toFree.push(out.features);
      if (!out.featureMap) {
        throw new ModelLayoutError(
          `${model.path}: ${model.architecture} exposes no final feature map for Grad-CAM; ` +
            `use --method rollout`,
        );
      }
      toFree.push(out.featureMap);
      const [, , h, w] = out.featureMap.shape;
      let cam: ReturnType<typeof gradCam>;
      if (perImage) {
        // d logit / d pooled per image, used as a [B, K] "classifier" whose row b is image b's.
        const [lg, feats] = await engine.read(out.logits, out.features!);
        const C = (lg as Float32Array).length / B;
        const classes = classesHost ??
          [...Array(B).keys()].map((b) =>
            argmax(Float64Array.from((lg as Float32Array).subarray(b * C, (b + 1) * C)))
          );
        const grads = model.classScoreGradient!(feats as Float32Array, classes);
        cam = gradCam(engine, out.featureMap, grads, [...Array(B).keys()], {
          plusPlus: method === "gradcam++",
          eps: opts.eps,
        });
      } else {
        const classes = classesHost ?? argmaxRows(engine, out.logits);
        if (!Array.isArray(classes)) toFree.push(classes as Tensor);
        cam = gradCam(engine, out.featureMap, model.classifierWeight(), classes, {
          plusPlus: method === "gradcam++",
          eps: opts.eps,
        });
      }
      const [lg, m] = await engine.read(out.logits, cam.maps);
      cam.release();
      logits = lg as Float32Array;
      maps = [...Array(B).keys()].map((b) => ({
        width: w,
        height: h,
        data: Float32Array.from((m as Float32Array).subarray(b * h * w, (b + 1) * h * w)),
      }));
    }
  } finally {
    for (const t of toFree) t.release();
    if (x !== pixels) x.release();
  }
  const C = logits.length / B;
  const overlay = { alpha: opts.alpha, colormap: opts.colormap };
  return maps.map((map, b) => {
    const p = softmaxRow(logits, b * C, C);
    const predicted = argmax(p);
    const cls = classesHost?.[b] ?? predicted;
    const input = denormalize(
      host.subarray(b * 3 * H * W, (b + 1) * 3 * H * W),
      W,
      H,
      norm.mean,
      norm.std,
      norm.scale ?? 255,
    );
    const inputOverlay = overlayMap(map, input, overlay);
    return {
      method,
      class: cls,
      predicted,
      confidence: p[predicted],
      classProbability: p[cls],
      map,
      ...(lastCls ? { lastLayerCls: lastCls[b] } : {}),
      ...(lastClsHeads ? { lastLayerClsHeads: lastClsHeads[b] } : {}),
      input,
      inputOverlay,
      ...(opts.png === false ? {} : { inputOverlayPng: encodePng(inputOverlay) }),
    };
  });
}

/** Options of {@link explainImages}. */
export interface ExplainImagesOptions extends ExplainOptions {
  /** Images per forward pass (default 16). */
  batchSize?: number;
  /** The preprocessing pipeline (default: the model folder's). */
  pipeline?: PreprocessConfig;
}

/** An image to explain: a file path, or an already decoded image with a name. */
export type ExplainSource = string | { path: string; image: RgbImage };

/** Where the model input came from in the original image (undoing resize + center crop). */
export function inputRegion(cfg: PreprocessConfig, width: number, height: number): Region {
  const [rw, rh] = resizedSize(cfg, width, height);
  const { left, top } = cropOffsets(cfg, rw, rh);
  const [ch, cw] = cfg.crop ?? [rh, rw];
  const sx = width / rw, sy = height / rh;
  return { x: left * sx, y: top * sy, width: cw * sx, height: ch * sy };
}

/**
 * Explains image files (or decoded images): decodes, preprocesses with the
 * model's pipeline, runs {@link explainPixels} in batches and also blends
 * each map onto the original image (over the area the model input was
 * cropped from).
 */
export async function explainImages(
  engine: Engine,
  model: ClassifierModel,
  sources: readonly ExplainSource[],
  opts: ExplainImagesOptions = {},
): Promise<Explanation[]> {
  const cfg = opts.pipeline ?? modelPipeline(model);
  const table = normalizationTable(cfg);
  const batchSize = Math.max(1, opts.batchSize ?? 16);
  const scale = cfg.rescale.op === "divide" ? cfg.rescale.value : 1 / cfg.rescale.value;
  const results: Explanation[] = new Array(sources.length);
  for (let start = 0; start < sources.length; start += batchSize) {
    const decoded = await Promise.all(
      sources.slice(start, start + batchSize).map(async (s) =>
        typeof s === "string" ? { path: s, image: await readImage(s) } : s
      ),
    );
    // Images of one batch share the pipeline's output size unless it keeps
    // aspect ratios (no crop): then each size is its own forward pass.
    const groups = new Map<string, number[]>();
    decoded.forEach((d, i) => {
      const [rw, rh] = resizedSize(cfg, d.image.width, d.image.height);
      const [h, w] = cfg.crop ?? [rh, rw];
      const key = `${h}x${w}`;
      groups.set(key, [...(groups.get(key) ?? []), i]);
    });
    for (const [key, members] of groups) {
      const [H, W] = key.split("x").map(Number);
      const per = 3 * H * W;
      const pixels = new Float32Array(per * members.length);
      members.forEach((i, k) => preprocess(decoded[i].image, cfg, pixels, k * per, table));
      const classes = Array.isArray(opts.classes)
        ? members.map((i) => (opts.classes as number[])[start + i])
        : opts.classes;
      const ex = await explainPixels(engine, model, pixels, [members.length, 3, H, W], {
        ...opts,
        classes,
        normalization: opts.normalization ?? { mean: cfg.mean, std: cfg.std, scale },
      });
      ex.forEach((e, k) => {
        const d = decoded[members[k]];
        const originalOverlay = overlayMap(e.map, d.image, {
          alpha: opts.alpha,
          colormap: opts.colormap,
          region: inputRegion(cfg, d.image.width, d.image.height),
        });
        results[start + members[k]] = {
          ...e,
          path: d.path,
          originalOverlay,
          ...(opts.png === false ? {} : { originalOverlayPng: encodePng(originalOverlay) }),
        };
      });
    }
  }
  return results;
}

/**
 * An explanation as the HTML report shows it (report/types.ts): the overlay
 * on the model input (which is the picture the map is exact for), the input
 * beside it, and the true class when known.
 */
export function explanationExample(e: Explanation, label?: number): ExplanationExample {
  return {
    path: e.path ?? "",
    method: e.method,
    class: e.class,
    overlay: e.inputOverlayPng ?? e.inputOverlay,
    image: e.input,
    label,
    pred: e.predicted,
    confidence: e.confidence,
  };
}
