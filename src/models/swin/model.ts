/**
 * Swin Transformer (v1) and Swin V2 classifiers on the GPU, channels-last.
 *
 * Tokens are [B, H*W, C] (a row-major H x W map) from the patch embedding
 * to the head:
 * - patch embedding: p x p stride-p patches -> linear -> LayerNorm (Hugging
 *   Face pads the pixels to whole patches first);
 * - block: the map is padded to whole windows, rolled by half a window on
 *   odd blocks and cut into windows ({@link windowPartition}); attention
 *   runs per window with the relative-position bias and, when rolled, the
 *   region mask as one per-window score bias; the windows are put back and
 *   the residual added in the same pass ({@link windowMergeAdd}); then the
 *   MLP. v1 normalizes before each branch (pre-norm); V2 normalizes each
 *   branch's output (res-post-norm) and runs scaled cosine attention
 *   ({@link cosineQK}) with its continuous position bias;
 * - patch merging: 2x2 neighbours concatenated ({@link patchMerge}) ->
 *   LayerNorm -> linear (V2: linear -> LayerNorm);
 * - head: LayerNorm over the tokens -> mean -> linear.
 *
 * The `featureMap` tap is the final normalized tokens as NCHW [B, C, h, w]
 * (what pytorch-grad-cam's Swin reshape transform gives); `features` is the
 * pooled vector the classifier reads, so Grad-CAM's gradient is the head's
 * (closed form through the mean).
 */
import type { Engine } from "../../gpu/engine.ts";
import { ModelLayoutError } from "../../errors.ts";
import { attention } from "../../ops/attention.ts";
import { elementwise } from "../../ops/elementwise.ts";
import { linear } from "../../ops/gemm.ts";
import { layerNorm } from "../../ops/layernorm.ts";
import { meanTokens } from "../../ops/nhwc.ts";
import { patchify } from "../../ops/patch_embed.ts";
import { permute } from "../../ops/transpose.ts";
import {
  cosineQK,
  padPixels,
  patchMerge,
  shiftedWindowMask,
  type WindowGrid,
  windowLayout,
  windowMergeAdd,
  windowPartition,
} from "../../ops/window.ts";
import type { Tensor } from "../../tensor.ts";
import { ClassifierHead } from "../../nn/head.ts";
import {
  type LoadedLinear,
  type LoadedNorm,
  loadLinear,
  loadNorm,
  packLinear,
  releaseLinear,
  releaseNorm,
} from "../../nn/layers.ts";
import type { SafetensorsFile } from "../../weights/safetensors.ts";
import type { ForwardOptions, ForwardResult } from "../model.ts";
import {
  type ClassifierMeta,
  completeMeta,
  type LoaderMeta,
  PooledClassifier,
} from "../classifier.ts";
import { continuousBiasTable, gatherRelative, withMask } from "./bias.ts";
import type { SwinBlockSpec, SwinSpec, SwinStageSpec } from "./spec.ts";

interface LoadedBlock {
  spec: SwinBlockSpec;
  norm1: LoadedNorm;
  norm2: LoadedNorm;
  qkv: LoadedLinear;
  proj: LoadedLinear;
  fc1: LoadedLinear;
  fc2: LoadedLinear;
  /** Relative-position (v1) or continuous (V2) bias [heads, N, N] of the block's window. */
  bias: Float32Array;
  /** V2: tau_h * sqrt(head width) per head. */
  cosineScale?: Tensor;
  /** Dense per-window score bias on the GPU, by map size. */
  biasCache: Map<string, Tensor>;
}

interface LoadedStage {
  spec: SwinStageSpec;
  /** The window the blocks attend in (after the layout's construction rule). */
  window: [number, number];
  /** Half-window shift of odd blocks, before the per-input rules. */
  shift: [number, number];
  merge?: { norm: LoadedNorm; reduction: LoadedLinear };
  blocks: LoadedBlock[];
}

/** The window the blocks of stage `s` attend in, and their shift, as the layout builds them. */
function stageWindow(
  spec: SwinSpec,
  s: number,
): { window: [number, number]; shift: [number, number] } {
  const ws = spec.stages[s].window;
  const half = Math.floor(ws / 2);
  if (spec.windowRule !== "construction") return { window: [ws, ws], shift: [half, half] };
  const [gh, gw] = spec.constructionGrid!;
  const grid = [Math.floor(gh / 2 ** s), Math.floor(gw / 2 ** s)];
  if (spec.layout === "hf") {
    // Swinv2Layer keeps one side: window_size[0], shift_size[0].
    const w = Math.min(grid[0], ws);
    const sh = grid[0] <= w ? 0 : half;
    return { window: [w, w], shift: [sh, sh] };
  }
  const w = grid.map((g) => Math.min(g, ws)) as [number, number];
  const sh = grid.map((g, i) => g <= w[i] ? 0 : half) as [number, number];
  return { window: w, shift: sh };
}

async function loadQkv(
  file: SafetensorsFile,
  engine: Engine,
  b: SwinBlockSpec,
): Promise<LoadedLinear> {
  const D = b.dim;
  const w = new Float32Array(3 * D * D);
  const bias = new Float32Array(3 * D);
  if (b.qkv.length === 1) {
    w.set(await file.readF32(b.qkv[0].weight));
    if (b.qkv[0].bias) bias.set(await file.readF32(b.qkv[0].bias));
  } else {
    for (let i = 0; i < 3; i++) {
      w.set(await file.readF32(b.qkv[i].weight), i * D * D);
      const name = b.qkv[i].bias;
      if (name) bias.set(await file.readF32(name), i * D);
    }
  }
  if (b.qvBias) {
    bias.set(await file.readF32(b.qvBias.q), 0);
    bias.set(await file.readF32(b.qvBias.v), 2 * D);
  }
  // Swin V2 has no key bias (torchvision zeroes any stored one at every forward).
  if (b.zeroKeyBias) bias.fill(0, D, 2 * D);
  return packLinear(engine, w, [3 * D, D], b.qkv[0].weight, bias);
}

async function loadBlock(
  engine: Engine,
  file: SafetensorsFile,
  b: SwinBlockSpec,
  window: [number, number],
): Promise<LoadedBlock> {
  const H = b.heads;
  let bias: Float32Array;
  let cosineScale: Tensor | undefined;
  if (b.relativeTable) {
    bias = gatherRelative(await file.readF32(b.relativeTable), H, window);
  } else {
    const cpb = b.cpb!;
    const table = continuousBiasTable(
      window,
      cpb.pretrainedWindow,
      { weight: await file.readF32(cpb.fc1.weight), bias: await file.readF32(cpb.fc1.bias!) },
      await file.readF32(cpb.fc2),
      H,
    );
    bias = gatherRelative(table, H, window);
    const logit = await file.readF32(b.logitScale!);
    const d = b.dim / H;
    const scale = new Float32Array(H);
    for (let h = 0; h < H; h++) {
      scale[h] = Math.exp(Math.min(logit[h], Math.log(100))) * Math.sqrt(d);
    }
    cosineScale = engine.upload(scale, [H], `${b.logitScale}:scale`, true);
  }
  return {
    spec: b,
    norm1: await loadNorm(engine, file, b.norm1, b.dim),
    norm2: await loadNorm(engine, file, b.norm2, b.dim),
    qkv: await loadQkv(file, engine, b),
    proj: await loadLinear(engine, file, b.proj),
    fc1: await loadLinear(engine, file, b.fc1),
    fc2: await loadLinear(engine, file, b.fc2),
    bias,
    cosineScale,
    biasCache: new Map(),
  };
}

/** A Swin / Swin V2 ready to run. */
export class Swin extends PooledClassifier {
  /** Always "swin" (V2 included; see `spec.version`). */
  readonly architecture = "swin";

  #stem: { proj: LoadedLinear; norm: LoadedNorm };
  #stages: LoadedStage[];
  #finalNorm: LoadedNorm;

  private constructor(
    /** The layout-free description of the network. */
    readonly spec: SwinSpec,
    parts: {
      stem: { proj: LoadedLinear; norm: LoadedNorm };
      stages: LoadedStage[];
      finalNorm: LoadedNorm;
      head: ClassifierHead;
    },
    meta: ClassifierMeta,
  ) {
    super(meta, parts.head);
    this.#stem = parts.stem;
    this.#stages = parts.stages;
    this.#finalNorm = parts.finalNorm;
  }

  /** Loads the weights of an opened checkpoint described by `spec`. */
  static async fromFile(
    engine: Engine,
    file: SafetensorsFile,
    spec: SwinSpec,
    meta: LoaderMeta,
  ): Promise<Swin> {
    // A conv weight [D, C, p, p] flattened is [D, C*p*p] in (c, i, j) order: patchify's columns.
    const stem = {
      proj: await loadLinear(engine, file, spec.stem.conv),
      norm: await loadNorm(engine, file, spec.stem.norm, spec.stem.dim),
    };
    const stages: LoadedStage[] = [];
    for (let s = 0; s < spec.stages.length; s++) {
      const st = spec.stages[s];
      const { window, shift } = stageWindow(spec, s);
      let merge: LoadedStage["merge"];
      if (st.merge) {
        const normDim = spec.mergeNormFirst ? 4 * st.merge.inDim : st.dim;
        merge = {
          norm: await loadNorm(engine, file, st.merge.norm, normDim),
          reduction: await loadLinear(engine, file, { weight: st.merge.reduction }),
        };
      }
      const blocks: LoadedBlock[] = [];
      for (const b of st.blocks) blocks.push(await loadBlock(engine, file, b, window));
      stages.push({ spec: st, window, shift, merge, blocks });
    }
    const last = spec.widths[spec.widths.length - 1];
    const finalNorm = await loadNorm(engine, file, spec.finalNorm, last);
    const head = await ClassifierHead.load(engine, file, spec.head);
    return new Swin(spec, { stem, stages, finalNorm, head }, completeMeta(meta, file.path, spec));
  }

  /** Stage map sizes for an `h` x `w` input (refusing sizes the layout's library refuses). */
  #grids(h: number, w: number): [number, number][] {
    const { spec } = this;
    const p = spec.stem.patch;
    if (spec.fixedInput && (h !== spec.fixedInput[0] || w !== spec.fixedInput[1])) {
      throw new ModelLayoutError(
        `${this.path}: this timm Swin was built for ${spec.fixedInput[0]}x${spec.fixedInput[1]} ` +
          `inputs and timm refuses ${h}x${w} (its windows and masks are fixed for that size); ` +
          `preprocess to ${spec.fixedInput[0]}x${spec.fixedInput[1]} (drop --size/--crop ` +
          `overrides) or set pretrained_cfg.input_size in config.json to the size it was built for.`,
      );
    }
    let gh = spec.padPixels ? Math.ceil(h / p) : Math.floor(h / p);
    let gw = spec.padPixels ? Math.ceil(w / p) : Math.floor(w / p);
    if (gh < 1 || gw < 1) {
      throw new ModelLayoutError(
        `${this.path}: a ${h}x${w} input is smaller than one ${p}x${p} patch.`,
      );
    }
    const grids: [number, number][] = [];
    for (let s = 0; s < this.#stages.length; s++) {
      if (s > 0) [gh, gw] = [Math.ceil(gh / 2), Math.ceil(gw / 2)];
      const ws = this.#stages[s].window[0];
      if (spec.windowRule === "hf" && Math.min(gh, gw) < ws) {
        throw new ModelLayoutError(
          `${this.path}: at a ${h}x${w} input, stage ${s + 1}'s map is ${gh}x${gw}, smaller than ` +
            `its ${ws}x${ws} window; Hugging Face's SwinLayer cannot run that (its relative-position ` +
            `bias is fixed to the window). Use inputs of at least ${
              ws * p * 2 ** s
            } pixels a side.`,
        );
      }
      grids.push([gh, gw]);
    }
    return grids;
  }

  /** The window grid of a block of `stage` on a gh x gw map (the layout's shift rule). */
  #windowGrid(stage: LoadedStage, shifted: boolean, gh: number, gw: number): WindowGrid {
    const { window } = stage;
    let shift: [number, number] = shifted ? stage.shift : [0, 0];
    if (shifted && this.spec.windowRule === "torchvision") {
      // torchvision: no shift along an axis whose padded size is at most the window.
      const l = windowLayout({ h: gh, w: gw, window, shift });
      shift = [window[0] >= l.ph ? 0 : shift[0], window[1] >= l.pw ? 0 : shift[1]];
    } else if (shifted && this.spec.windowRule === "hf") {
      if (Math.min(gh, gw) <= window[0]) shift = [0, 0];
    }
    return { h: gh, w: gw, window, shift };
  }

  /** The block's score bias for a window grid: [1, H, N, N] unshifted, [nW, H, N, N] shifted. */
  #scoreBias(engine: Engine, b: LoadedBlock, g: WindowGrid): Tensor {
    const shifted = g.shift[0] > 0 || g.shift[1] > 0;
    const key = shifted ? `${g.h}x${g.w}:${g.shift}` : "unshifted";
    let t = b.biasCache.get(key);
    if (!t) {
      const H = b.spec.heads, N = g.window[0] * g.window[1];
      const dense = shifted
        ? withMask(b.bias, shiftedWindowMask(g, this.spec.maskValue), H)
        : b.bias;
      t = engine.upload(dense, [dense.length / (H * N * N), H, N, N], `${b.spec.name}:bias`, true);
      b.biasCache.set(key, t);
    }
    return t;
  }

  /** The largest tensor one `h` x `w` image produces anywhere in the network, in bytes. */
  activationBytesPerImage(h: number, w: number): number {
    let largest = this.spec.inChannels * h * w;
    const grids = this.#grids(h, w);
    for (let s = 0; s < grids.length; s++) {
      const [gh, gw] = grids[s];
      const st = this.#stages[s];
      const l = windowLayout({ h: gh, w: gw, window: st.window, shift: [0, 0] });
      const hidden = Math.max(...st.blocks.map((b) => b.spec.hidden));
      largest = Math.max(largest, l.ph * l.pw * 3 * st.spec.dim, gh * gw * hidden);
      if (st.merge) largest = Math.max(largest, gh * gw * 4 * st.merge.norm.weight.size);
    }
    return largest * 4;
  }

  /** The network on one chunk (the base class splits batches). */
  protected forwardBatch(engine: Engine, pixels: Tensor, opts: ForwardOptions): ForwardResult {
    const B = pixels.shape[0];
    const [H, W] = [pixels.shape[2], pixels.shape[3]];
    const grids = this.#grids(H, W);
    const p = this.spec.stem.patch;
    const eps = this.spec.eps;
    const norm = (t: Tensor, n: LoadedNorm) => layerNorm(engine, t, n.weight, n.bias, eps);
    // Patch embedding.
    let input = pixels;
    if (this.spec.padPixels && (H % p !== 0 || W % p !== 0)) {
      input = padPixels(engine, pixels, Math.ceil(H / p) * p, Math.ceil(W / p) * p);
    }
    const patches = patchify(engine, input, [p, p]);
    if (input !== pixels) input.release();
    const emb = linear(engine, patches, this.#stem.proj.weight, { bias: this.#stem.proj.bias });
    patches.release();
    let x = norm(emb, this.#stem.norm);
    emb.release();
    let [gh, gw] = grids[0];
    for (let s = 0; s < this.#stages.length; s++) {
      const stage = this.#stages[s];
      if (stage.merge) {
        const m = stage.merge;
        const cat = patchMerge(engine, x, B, gh, gw);
        x.release();
        if (this.spec.mergeNormFirst) {
          const n = norm(cat, m.norm);
          x = linear(engine, n, m.reduction.weight);
          n.release();
        } else {
          const r = linear(engine, cat, m.reduction.weight);
          x = norm(r, m.norm);
          r.release();
        }
        cat.release();
      }
      [gh, gw] = grids[s];
      for (const b of stage.blocks) {
        const g = this.#windowGrid(stage, b.spec.shifted, gh, gw);
        const y = this.#block(engine, x, b, B, g);
        x.release();
        x = y;
      }
    }
    const y = norm(x, this.#finalNorm);
    x.release();
    const C = y.shape[y.shape.length - 1];
    const pooled = meanTokens(engine, y.reshape([B, gh * gw, C]));
    const logits = this.head.forward(engine, pooled);
    const result: ForwardResult = { logits };
    if (opts.featureMap) {
      result.featureMap = permute(engine, y.reshape([B, gh, gw, C]), [0, 3, 1, 2]);
    }
    y.release();
    if (opts.features) result.features = pooled;
    else pooled.release();
    return result;
  }

  /** One block on tokens x [B, h*w, C]; returns a new tensor (x is not released). */
  #block(engine: Engine, x: Tensor, b: LoadedBlock, B: number, g: WindowGrid): Tensor {
    const eps = this.spec.eps;
    const norm = (t: Tensor, n: LoadedNorm) => layerNorm(engine, t, n.weight, n.bias, eps);
    const v2 = this.spec.version === 2;
    const { heads } = b.spec;
    // Attention branch, per window.
    const src = v2 ? x : norm(x, b.norm1);
    const windows = windowPartition(engine, src, B, g);
    if (src !== x) src.release();
    const qkv = linear(engine, windows, b.qkv.weight, { bias: b.qkv.bias });
    windows.release();
    if (b.cosineScale) cosineQK(engine, qkv, b.cosineScale, heads);
    const a = attention(engine, qkv, { heads, bias: this.#scoreBias(engine, b, g) });
    qkv.release();
    let out = linear(engine, a, b.proj.weight, { bias: b.proj.bias });
    a.release();
    if (v2) {
      const n = norm(out, b.norm1);
      out.release();
      out = n;
    }
    const x2 = windowMergeAdd(engine, out, x, B, g);
    out.release();
    // MLP branch.
    if (!v2) {
      const n2 = norm(x2, b.norm2);
      const m = linear(engine, n2, b.fc1.weight, { bias: b.fc1.bias, act: this.spec.act });
      n2.release();
      const y = linear(engine, m, b.fc2.weight, { bias: b.fc2.bias, residual: x2 });
      m.release();
      x2.release();
      return y;
    }
    const m = linear(engine, x2, b.fc1.weight, { bias: b.fc1.bias, act: this.spec.act });
    const f = linear(engine, m, b.fc2.weight, { bias: b.fc2.bias });
    m.release();
    const n2 = norm(f, b.norm2);
    f.release();
    const y = elementwise(engine, "add", x2, n2);
    n2.release();
    x2.release();
    return y;
  }

  /** Frees the GPU weights. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    releaseLinear(this.#stem.proj);
    releaseNorm(this.#stem.norm);
    for (const s of this.#stages) {
      if (s.merge) {
        releaseNorm(s.merge.norm);
        releaseLinear(s.merge.reduction);
      }
      for (const b of s.blocks) {
        for (const l of [b.qkv, b.proj, b.fc1, b.fc2]) releaseLinear(l);
        releaseNorm(b.norm1);
        releaseNorm(b.norm2);
        b.cosineScale?.release();
        for (const t of b.biasCache.values()) t.release();
      }
    }
    releaseNorm(this.#finalNorm);
    this.head.release();
  }
}
