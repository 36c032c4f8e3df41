/**
 * The transformer encoder block every token family shares (ViT, DeiT,
 * torchvision's ViT, `nn.TransformerEncoderLayer`, and the DINOv2 / BEiT
 * blocks to come): multi-head self-attention and a two-layer MLP, each in a
 * residual branch, with the LayerNorm before the branch (pre-norm,
 * `x + f(LN(x))`) or after the add (post-norm, `LN(x + f(x))`).
 *
 * q, k and v run as one [3D, D] linear (separate projections are
 * concatenated at load time); a layer scale (`x + gamma * f(...)`) is folded
 * into the branch's last linear (`gamma W`, `gamma b`); biases, the MLP
 * activation and the residual add run in the GEMM epilogues; attention is
 * one fused kernel.
 */
import type { Engine } from "../gpu/engine.ts";
import { attention } from "../ops/attention.ts";
import type { Activation } from "../ops/activation.ts";
import { linear } from "../ops/gemm.ts";
import { layerNorm } from "../ops/layernorm.ts";
import type { Tensor } from "../tensor.ts";
import type { LinearNames, NormNames } from "../weights/layout_check.ts";
import {
  type LoadedLinear,
  type LoadedNorm,
  loadLinear,
  loadNorm,
  packLinear,
  releaseLinear,
  releaseNorm,
  type WeightReader,
} from "./layers.ts";

/** One block's tensors. */
export interface TransformerBlockSpec {
  /** LayerNorm of the attention branch. */
  norm1: NormNames;
  /**
   * The q, k, v projections: one fused [3D, D] linear, or three [D, D]
   * linears in q, k, v order (concatenated at load time).
   */
  qkv: LinearNames[];
  /** Attention output projection [D, D]. */
  proj: LinearNames;
  /** LayerNorm of the MLP branch. */
  norm2: NormNames;
  /** MLP expansion [M, D] (followed by the block's activation). */
  fc1: LinearNames;
  /** MLP projection [D, M]. */
  fc2: LinearNames;
  /** Layer scale [D] of the attention branch (pre-norm blocks only). */
  layerScale1?: string;
  /** Layer scale [D] of the MLP branch (pre-norm blocks only). */
  layerScale2?: string;
  /**
   * A relative-position bias added to the attention scores (BEiT): the
   * table [(2Wh-1)(2Ww-1) + 3, H] of a Wh x Ww patch window with one class
   * token before the patches (the last three rows: class to patch, patch to
   * class, class to class).
   */
  relativePositionBias?: { table: string; window: [number, number] };
}

/**
 * BEiT's relative-position bias as a dense [H, T, T] score bias, T = 1 +
 * Wh * Ww (class token first): patch i attends to patch j with the table row
 * of their offset (dy + Wh - 1) * (2Ww - 1) + (dx + Ww - 1); the class
 * token's row and column use the last three table rows.
 */
export function relativePositionBias(
  table: Float32Array,
  heads: number,
  [wh, ww]: [number, number],
): Float32Array {
  const n = wh * ww, T = n + 1;
  const distances = (2 * wh - 1) * (2 * ww - 1) + 3;
  if (table.length !== distances * heads) {
    throw new Error(
      `relative position table of ${table.length} values is not [${distances}, ${heads}]`,
    );
  }
  const index = (i: number, j: number): number => {
    if (i === 0 && j === 0) return distances - 1; // class to class
    if (i === 0) return distances - 3; // class to patch
    if (j === 0) return distances - 2; // patch to class
    const yi = Math.floor((i - 1) / ww), xi = (i - 1) % ww;
    const yj = Math.floor((j - 1) / ww), xj = (j - 1) % ww;
    return (yi - yj + wh - 1) * (2 * ww - 1) + (xi - xj + ww - 1);
  };
  const out = new Float32Array(heads * T * T);
  for (let i = 0; i < T; i++) {
    for (let j = 0; j < T; j++) {
      const row = index(i, j) * heads;
      for (let h = 0; h < heads; h++) out[(h * T + i) * T + j] = table[row + h];
    }
  }
  return out;
}

/**
 * BEiT's table for another patch grid, as Hugging Face's
 * BeitRelativePositionBias does at any input size: the (2Wh-1)(2Ww-1) offset
 * rows, viewed as a [2Ww-1, 2Wh-1] image per head (Hugging Face's reshape;
 * the same as [2Wh-1, 2Ww-1] for square windows), resized bilinearly
 * (align_corners false, no antialias: `F.interpolate(mode="bilinear")`) to
 * [2h-1, 2w-1]; the three class-token rows are kept. Returns the new table
 * [(2h-1)(2w-1) + 3, heads].
 */
export function resizeRelativeTable(
  table: Float32Array,
  heads: number,
  [wh, ww]: [number, number],
  [nh, nw]: [number, number],
): Float32Array {
  const inH = 2 * ww - 1, inW = 2 * wh - 1; // Hugging Face's reshape(1, old_width, old_height, -1)
  const outH = 2 * nh - 1, outW = 2 * nw - 1;
  const rows = inH * inW;
  if (table.length !== (rows + 3) * heads) {
    throw new Error(
      `relative position table of ${table.length} values is not [${rows + 3}, ${heads}]`,
    );
  }
  /** Source index and weight of output index o along an axis (PyTorch's bilinear rule). */
  const axis = (o: number, inSize: number, outSize: number): [number, number, number] => {
    const src = Math.max(0, (o + 0.5) * (inSize / outSize) - 0.5);
    const i0 = Math.min(Math.floor(src), inSize - 1);
    const i1 = Math.min(i0 + 1, inSize - 1);
    return [i0, i1, src - i0];
  };
  const out = new Float32Array((outH * outW + 3) * heads);
  for (let y = 0; y < outH; y++) {
    const [y0, y1, ly] = axis(y, inH, outH);
    for (let x = 0; x < outW; x++) {
      const [x0, x1, lx] = axis(x, inW, outW);
      for (let h = 0; h < heads; h++) {
        const at = (r: number, c: number) => table[(r * inW + c) * heads + h];
        out[(y * outW + x) * heads + h] = (1 - ly) * ((1 - lx) * at(y0, x0) + lx * at(y0, x1)) +
          ly * ((1 - lx) * at(y1, x0) + lx * at(y1, x1));
      }
    }
  }
  out.set(table.subarray(rows * heads), outH * outW * heads);
  return out;
}

/** What every block of an encoder shares. */
export interface TransformerOptions {
  /** Model width D. */
  dim: number;
  /** Attention heads. */
  heads: number;
  /** LayerNorm epsilon. */
  eps: number;
  /** Pre-norm (true) or post-norm blocks. */
  normFirst: boolean;
  /** Activation between the MLP's linears. */
  mlpAct: Activation;
  /** The patch grid of this pass (blocks with a relative-position bias build theirs for it). */
  grid?: [number, number];
}

/** Where a block writes its attention probabilities, when asked. */
export interface AttentionTaps {
  /** Head-mean probabilities of every layer [B, L, T, T] and this block's layer index. */
  headMean?: { into: Tensor; layer: number };
  /** This block's class-token row per head [B, heads, T]. */
  clsHeads?: Tensor;
}

/** One transformer block on the GPU. */
export class TransformerBlock {
  private constructor(
    private readonly norm1: LoadedNorm,
    private readonly qkv: LoadedLinear,
    private readonly proj: LoadedLinear,
    private readonly norm2: LoadedNorm,
    private readonly fc1: LoadedLinear,
    private readonly fc2: LoadedLinear,
    private readonly scoreBias?: RelativeBias,
  ) {}

  /** Reads, fuses (q|k|v, layer scales) and uploads a block's weights. */
  static async load(
    engine: Engine,
    file: WeightReader,
    spec: TransformerBlockSpec,
    dim: number,
    heads = 1,
  ): Promise<TransformerBlock> {
    const scale = async (name?: string) => name ? await file.readF32(name) : undefined;
    let qkv: LoadedLinear;
    if (spec.qkv.length === 1) qkv = await loadLinear(engine, file, spec.qkv[0]);
    else {
      const D = dim;
      const w = new Float32Array(3 * D * D);
      // A projection without a bias (BEiT's key) gets zeros beside the others'.
      const b = spec.qkv.some((l) => l.bias) ? new Float32Array(3 * D) : undefined;
      for (let i = 0; i < 3; i++) {
        w.set(await file.readF32(spec.qkv[i].weight), i * D * D);
        const bias = spec.qkv[i].bias;
        if (b && bias) b.set(await file.readF32(bias), i * D);
      }
      const label = spec.qkv[0].weight.replace(/query\.weight$/, "qkv.weight");
      qkv = packLinear(engine, w, [3 * D, D], label, b);
    }
    return new TransformerBlock(
      await loadNorm(engine, file, spec.norm1, dim),
      qkv,
      await loadLinear(engine, file, spec.proj, await scale(spec.layerScale1)),
      await loadNorm(engine, file, spec.norm2, dim),
      await loadLinear(engine, file, spec.fc1),
      await loadLinear(engine, file, spec.fc2, await scale(spec.layerScale2)),
      await loadScoreBias(engine, file, spec, heads),
    );
  }

  /** The input grid this block's relative-position bias was built for, if it has one. */
  get biasWindow(): [number, number] | undefined {
    return this.scoreBias?.window;
  }

  /** The dense score bias [H, T, T] for a patch grid (the trained one, or the table resized). */
  #biasFor(engine: Engine, grid: [number, number] | undefined): Tensor | undefined {
    const rel = this.scoreBias;
    if (!rel) return undefined;
    const g = grid ?? rel.window;
    const key = `${g[0]}x${g[1]}`;
    let t = rel.dense.get(key);
    if (!t) {
      const same = g[0] === rel.window[0] && g[1] === rel.window[1];
      const table = same ? rel.table : resizeRelativeTable(rel.table, rel.heads, rel.window, g);
      const T = 1 + g[0] * g[1];
      t = engine.upload(
        relativePositionBias(table, rel.heads, g),
        [rel.heads, T, T],
        `${rel.name}:dense`,
        true,
      );
      rel.dense.set(key, t);
    }
    return t;
  }

  /** The block on tokens `x` [B, T, D]; returns a new tensor (`x` is released). */
  forward(engine: Engine, x: Tensor, o: TransformerOptions, taps: AttentionTaps = {}): Tensor {
    const norm = (t: Tensor, n: LoadedNorm) => layerNorm(engine, t, n.weight, n.bias, o.eps);
    const attend = (t: Tensor) => {
      const qkv = linear(engine, t, this.qkv.weight, { bias: this.qkv.bias });
      const out = attention(engine, qkv, {
        heads: o.heads,
        headMeanProbs: taps.headMean,
        clsHeadProbs: taps.clsHeads,
        bias: this.#biasFor(engine, o.grid),
      });
      qkv.release();
      return out;
    };
    const { proj, fc1, fc2 } = this;
    if (o.normFirst) {
      // x = x + proj(attn(LN1(x))); x = x + fc2(act(fc1(LN2(x))))
      const h1 = norm(x, this.norm1);
      const a = attend(h1);
      h1.release();
      const x2 = linear(engine, a, proj.weight, { bias: proj.bias, residual: x });
      a.release();
      x.release();
      const h2 = norm(x2, this.norm2);
      const m = linear(engine, h2, fc1.weight, { bias: fc1.bias, act: o.mlpAct });
      h2.release();
      const y = linear(engine, m, fc2.weight, { bias: fc2.bias, residual: x2 });
      m.release();
      x2.release();
      return y;
    }
    // x = LN1(x + proj(attn(x))); x = LN2(x + fc2(act(fc1(x))))
    const a = attend(x);
    const s1 = linear(engine, a, proj.weight, { bias: proj.bias, residual: x });
    a.release();
    x.release();
    const x2 = norm(s1, this.norm1);
    s1.release();
    const m = linear(engine, x2, fc1.weight, { bias: fc1.bias, act: o.mlpAct });
    const s2 = linear(engine, m, fc2.weight, { bias: fc2.bias, residual: x2 });
    m.release();
    x2.release();
    const y = norm(s2, this.norm2);
    s2.release();
    return y;
  }

  /** Frees the GPU weights. */
  release(): void {
    for (const l of [this.qkv, this.proj, this.fc1, this.fc2]) releaseLinear(l);
    for (const n of [this.norm1, this.norm2]) releaseNorm(n);
    for (const t of this.scoreBias?.dense.values() ?? []) t.release();
  }
}

/** A block's relative-position table (host) and its dense biases per patch grid (GPU). */
interface RelativeBias {
  name: string;
  table: Float32Array;
  heads: number;
  /** The grid the table was trained for. */
  window: [number, number];
  dense: Map<string, Tensor>;
}

/** The relative-position table of a block, read once; dense biases are built per grid. */
async function loadScoreBias(
  _engine: Engine,
  file: WeightReader,
  spec: TransformerBlockSpec,
  heads: number,
): Promise<RelativeBias | undefined> {
  const rel = spec.relativePositionBias;
  if (!rel) return undefined;
  const table = await file.readF32(rel.table);
  // Fail at load, not at the first forward, when the table does not fit the window.
  relativePositionBias(table, heads, rel.window);
  return { name: rel.table, table, heads, window: rel.window, dense: new Map() };
}
