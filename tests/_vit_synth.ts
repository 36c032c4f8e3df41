/**
 * Random Vision Transformer checkpoints in the timm layout, for the opt-in
 * full-size tests and the benchmarks (weights as in the fixtures' random
 * models: linear weights ~ N(0, 1/fan_in), biases ~ N(0, 0.05^2), LayerNorm
 * weights ~ 1 + N(0, 0.1^2), tokens / position embeddings ~ N(0, 0.5^2)).
 */
import type { SafetensorsTensorData } from "../src/weights/safetensors.ts";
import { rng } from "./_helpers.ts";

/** Sizes of a ViT. */
export interface ViTSize {
  /** Width D. */
  D: number;
  /** Blocks. */
  depth: number;
  /** Attention heads. */
  heads: number;
  /** MLP width. */
  mlp: number;
  /** Classes. */
  classes: number;
  /** Patch size. */
  patch: number;
  /** Token grid side. */
  grid: number;
}

/** ViT-Ti/16 at 224x224. */
export const VIT_TINY: ViTSize = {
  D: 192,
  depth: 12,
  heads: 3,
  mlp: 768,
  classes: 1000,
  patch: 16,
  grid: 14,
};
/** ViT-B/16 at 224x224. */
export const VIT_BASE: ViTSize = {
  D: 768,
  depth: 12,
  heads: 12,
  mlp: 3072,
  classes: 1000,
  patch: 16,
  grid: 14,
};

/** Tensor names and shapes of a timm VisionTransformer. */
export function timmViTShapes(s: ViTSize): Record<string, number[]> {
  const { D, depth, mlp: M, classes: C, grid, patch: p } = s;
  const shapes: Record<string, number[]> = {
    cls_token: [1, 1, D],
    pos_embed: [1, grid * grid + 1, D],
    "patch_embed.proj.weight": [D, 3, p, p],
    "patch_embed.proj.bias": [D],
    "norm.weight": [D],
    "norm.bias": [D],
    "head.weight": [C, D],
    "head.bias": [C],
  };
  for (let l = 0; l < depth; l++) {
    const b = `blocks.${l}`;
    Object.assign(shapes, {
      [`${b}.norm1.weight`]: [D],
      [`${b}.norm1.bias`]: [D],
      [`${b}.attn.qkv.weight`]: [3 * D, D],
      [`${b}.attn.qkv.bias`]: [3 * D],
      [`${b}.attn.proj.weight`]: [D, D],
      [`${b}.attn.proj.bias`]: [D],
      [`${b}.norm2.weight`]: [D],
      [`${b}.norm2.bias`]: [D],
      [`${b}.mlp.fc1.weight`]: [M, D],
      [`${b}.mlp.fc1.bias`]: [M],
      [`${b}.mlp.fc2.weight`]: [D, M],
      [`${b}.mlp.fc2.bias`]: [D],
    });
  }
  return shapes;
}

/** Random F32 weights of a timm ViT, plus the timm config.json that describes them. */
export function synthTimmViT(
  s: ViTSize,
  seed: number,
): { tensors: Record<string, SafetensorsTensorData>; config: Record<string, unknown> } {
  const r = rng(seed);
  const gauss = (n: number, std: number) => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      a[i] = std * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    }
    return a;
  };
  const tensors: Record<string, SafetensorsTensorData> = {};
  for (const [n, shape] of Object.entries(timmViTShapes(s))) {
    const size = shape.reduce((a, b) => a * b, 1);
    const data = /norm\d?\.weight$/.test(n)
      ? Float32Array.from(gauss(size, 0.1), (v) => 1 + v)
      : n === "cls_token" || n === "pos_embed"
      ? gauss(size, 0.5)
      : shape.length === 1
      ? gauss(size, 0.05)
      : gauss(size, 1 / Math.sqrt(size / shape[0]));
    tensors[n] = { dtype: "F32", shape, data };
  }
  const config = {
    architecture: `vit_random_patch${s.patch}_${s.grid * s.patch}`,
    num_classes: s.classes,
    model_args: {
      img_size: s.grid * s.patch,
      patch_size: s.patch,
      embed_dim: s.D,
      depth: s.depth,
      num_heads: s.heads,
    },
  };
  return { tensors, config };
}
