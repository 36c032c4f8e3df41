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
  ) {}

  /** Reads, fuses (q|k|v, layer scales) and uploads a block's weights. */
  static async load(
    engine: Engine,
    file: WeightReader,
    spec: TransformerBlockSpec,
    dim: number,
  ): Promise<TransformerBlock> {
    const scale = async (name?: string) => name ? await file.readF32(name) : undefined;
    let qkv: LoadedLinear;
    if (spec.qkv.length === 1) qkv = await loadLinear(engine, file, spec.qkv[0]);
    else {
      const D = dim;
      const w = new Float32Array(3 * D * D);
      const b = spec.qkv[0].bias ? new Float32Array(3 * D) : undefined;
      for (let i = 0; i < 3; i++) {
        w.set(await file.readF32(spec.qkv[i].weight), i * D * D);
        if (b) b.set(await file.readF32(spec.qkv[i].bias!), i * D);
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
    );
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
  }
}
