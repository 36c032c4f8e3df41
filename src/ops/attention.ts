/**
 * Fused multi-head self-attention (shaders/attention.wgsl) and, on request,
 * the head-mean attention probabilities of a layer for attention rollout
 * and the class-token row of every head (shaders/attention_probs.wgsl).
 */
import vec4Template from "../../shaders/attention.wgsl" with { type: "text" };
import scalarTemplate from "../../shaders/attention_scalar.wgsl" with { type: "text" };
import vec4ProbsCode from "../../shaders/attention_probs.wgsl" with { type: "text" };
import scalarProbsCode from "../../shaders/attention_probs_scalar.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import type { Kernel } from "../gpu/kernel.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";
import { dummyTensor } from "./gemm.ts";

/** Keys staged per tile: K and V tiles then take 2 * 1024 floats = 8 KiB of workgroup memory. */
const TILE_FLOATS = 1024;

/** Options of {@link attention}. */
export interface AttentionOptions {
  /** Number of heads H; the model width D = qkv.shape[-1] / 3 must be a multiple. */
  heads: number;
  /** Output tensor [B, T, D] (allocated when omitted). */
  out?: Tensor;
  /**
   * Also write the head-mean attention probabilities (post-softmax, averaged
   * over heads) into `into` [B, L, T, T] at `layer`. Costs one extra pass
   * over Q K^T; without it the attention kernel does no extra work.
   */
  headMeanProbs?: { into: Tensor; layer: number };
  /**
   * Also write the class-token (query row 0) probabilities of every head,
   * [B, H, T], into this tensor. Shares the statistics pass with
   * `headMeanProbs`; costs nothing when omitted.
   */
  clsHeadProbs?: Tensor;
  /**
   * Additive score bias [G, H, T, T] (or [H, T, T], G = 1): image b adds
   * `bias[b % G]` to its scores before the softmax, i.e.
   * softmax(Q K^T / sqrt(d) + bias) V. BEiT's relative-position bias has
   * G = 1; Swin's windows (batch ordered image-major, window-minor) use G =
   * windows per image for their masks.
   */
  bias?: Tensor;
}

const kernels = new Map<string, Kernel>();

/**
 * The attention kernel specialized for a head size (sizes its per-invocation
 * arrays): the vec4 form when d is a multiple of 4, else the scalar form.
 */
function attentionKernel(headDim: number, entry: "main" | "main_stats", wg: number): Kernel {
  const keysPerTile = Math.max(4, Math.floor(TILE_FLOATS / headDim));
  const vec4 = headDim % 4 === 0;
  const name = `attention${vec4 ? "" : "_scalar"}_d${headDim}`;
  let k = kernels.get(name);
  if (!k) {
    const code = (vec4 ? vec4Template : scalarTemplate)
      .replaceAll("__HEAD_DIM__", String(headDim))
      .replaceAll("__KEYS_PER_TILE__", String(keysPerTile));
    kernels.set(name, k = { name, code });
  }
  return { ...k, entry, constants: { WG: wg } };
}

/**
 * Invocations per workgroup for T tokens. Each covers `rowsPerInvocation`
 * query rows (2 in the vec4 kernel, 1 in the scalar one); of the two sizes
 * tried, the one that pads T less wins (ties: the larger). The GPU kernel
 * path doubles both (whole warps / wavefronts share each staged key tile;
 * on a CPU adapter a workgroup's invocations are SIMD lanes of one core).
 */
function invocationsPerWorkgroup(T: number, rowsPerInvocation: number, gpu: boolean): number {
  const scale = gpu ? 2 : 1;
  const [small, large] = (rowsPerInvocation === 2 ? [16, 32] : [32, 64]).map((n) => n * scale);
  const pad = (wg: number) => {
    const rows = wg * rowsPerInvocation;
    return Math.ceil(T / rows) * rows - T;
  };
  return pad(small) < pad(large) ? small : large;
}

/**
 * softmax(Q K^T / sqrt(d)) V for every image and head, reading Q, K and V
 * from the fused projection `qkv` [B, T, 3D] (q, k, v blocks of width D,
 * heads contiguous inside each: the layout of timm's `attn.qkv` and of the
 * concatenated Hugging Face query/key/value) and writing [B, T, D] with the
 * heads merged. The T x T scores are never stored.
 */
export function attention(engine: Engine, qkv: Tensor, opts: AttentionOptions): Tensor {
  if (qkv.shape.length !== 3 || qkv.shape[2] % 3 !== 0) {
    throw new Error(`attention: qkv must be [B, T, 3D], got [${qkv.shape}]`);
  }
  const [B, T, D3] = qkv.shape;
  const D = D3 / 3;
  const H = opts.heads;
  if (!Number.isInteger(H) || H < 1 || D % H !== 0) {
    throw new Error(`attention: width ${D} is not divisible into ${H} heads`);
  }
  const headDim = D / H;
  const scale = 1 / Math.sqrt(headDim);
  const out = opts.out ?? engine.empty([B, T, D], "f32", "attention");
  const rowsPerInvocation = headDim % 4 === 0 ? 2 : 1;
  const wg = invocationsPerWorkgroup(T, rowsPerInvocation, engine.kernels.name === "gpu");
  const qTiles = Math.ceil(T / (wg * rowsPerInvocation));
  const blocks = B * H * qTiles;
  const bias = opts.bias;
  const biasGroups = bias ? bias.size / (H * T * T) : 0;
  if (bias && (!Number.isInteger(biasGroups) || biasGroups < 1 || B % biasGroups !== 0)) {
    throw new Error(
      `attention: bias [${bias.shape}] must be [G, ${H}, ${T}, ${T}] with G dividing the batch ${B}`,
    );
  }
  // The kernels always bind a bias buffer; without one they never read it.
  const biasBinding = bias ?? dummyTensor(engine);
  const params = packParams([T, H, D, qTiles, blocks, { f32: scale }, biasGroups]);

  if (!opts.headMeanProbs && !opts.clsHeadProbs) {
    engine.run(attentionKernel(headDim, "main", wg), [qkv, out, biasBinding], blocks, params);
    return out;
  }

  const mean = opts.headMeanProbs;
  if (mean) {
    const { into, layer } = mean;
    const L = into.shape[1];
    if (
      into.shape.length !== 4 || into.shape[0] !== B || into.shape[2] !== T ||
      into.shape[3] !== T || !(layer >= 0 && layer < L)
    ) {
      throw new Error(
        `attention: headMeanProbs.into must be [${B}, L, ${T}, ${T}] with layer < L, got ` +
          `[${into.shape}] layer ${layer}`,
      );
    }
  }
  const cls = opts.clsHeadProbs;
  if (
    cls &&
    (cls.shape.length !== 3 || cls.shape[0] !== B || cls.shape[1] !== H || cls.shape[2] !== T)
  ) {
    throw new Error(`attention: clsHeadProbs must be [${B}, ${H}, ${T}], got [${cls.shape}]`);
  }
  const stats = engine.empty([B, H, T, 2], "f32", "attention-stats");
  engine.run(
    attentionKernel(headDim, "main_stats", wg),
    [qkv, out, biasBinding, stats],
    blocks,
    params,
  );
  const vec4 = headDim % 4 === 0;
  const probsKernel = (entry: "main" | "cls_heads"): Kernel => ({
    name: vec4 ? "attention_probs" : "attention_probs_scalar",
    code: vec4 ? vec4ProbsCode : scalarProbsCode,
    entry,
    constants: { WG: 64, HEAD_DIM: headDim, MODEL_DIM: D },
  });
  if (mean) {
    const L = mean.into.shape[1];
    engine.run(
      probsKernel("main"),
      [qkv, stats, mean.into, biasBinding],
      B * T,
      packParams([T, H, D, L, mean.layer, B * T, { f32: scale }, biasGroups]),
    );
  }
  if (cls) {
    // The same probabilities as `main`, for row 0 only and per head.
    engine.run(
      probsKernel("cls_heads"),
      [qkv, stats, cls, biasBinding],
      B,
      packParams([T, H, D, 1, 0, B, { f32: scale }, biasGroups]),
    );
  }
  stats.release();
  return out;
}
