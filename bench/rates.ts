/**
 * Rate measurement for the GEMM / conv2d / depthwise benches, and a script
 * that prints the whole table:
 * `deno run -A bench/rates.ts [gemm|conv2d|depthwise|nhwc|activation]`.
 *
 * Each op is recorded and synced `reps` times after one warm-up (which also
 * compiles the pipeline); the reported time is the minimum (other processes
 * share the CPU that lavapipe runs on). Next to the wall-clock rate we print
 * a CPU-time rate: the GFLOP/s that the process's own CPU seconds imply on
 * 2 cores, which stays meaningful when other work competes for the cores.
 */
import process from "node:process";
import { Engine } from "../src/gpu/engine.ts";
import type { Tensor } from "../src/tensor.ts";
import { randomF32 } from "../tests/_helpers.ts";
import { linear, matmul, prepareLinearWeight } from "../src/ops/gemm.ts";
import {
  conv2d,
  type Conv2dOptions,
  conv2dShape,
  conv2dTuning,
  uploadConvWeight,
} from "../src/ops/conv2d.ts";
import {
  depthwiseConv2dNHWC,
  depthwiseShape,
  uploadDepthwiseWeight,
} from "../src/ops/depthwise.ts";
import { type Activation, ACTIVATIONS } from "../src/ops/activation.ts";
import { grn } from "../src/ops/grn.ts";
import { meanTokens, spaceToDepthNHWC } from "../src/ops/nhwc.ts";
import { channelScale } from "../src/ops/channel_scale.ts";
import { seGate, uploadSeWeights } from "./experiments/se_gate.ts";

/** One measured rate. */
export interface Rate {
  /** What was measured. */
  name: string;
  /** Floating-point operations of one run. */
  flops: number;
  /** Fastest wall-clock time of one run (ms). */
  ms: number;
  /** Wall-clock GFLOP/s. */
  gflops: number;
  /** GFLOP/s implied by the process CPU time on `cores` cores. */
  cpuGflops: number;
}

/** Times `record` (which records GPU work) followed by a sync. */
export async function measure(
  engine: Engine,
  name: string,
  flops: number,
  record: () => void,
  reps = 5,
  cores = 2,
): Promise<Rate> {
  record();
  await engine.sync();
  let ms = Infinity, cpuMs = Infinity;
  for (let r = 0; r < reps; r++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    record();
    await engine.sync();
    const c = process.cpuUsage(c0);
    ms = Math.min(ms, performance.now() - t0);
    cpuMs = Math.min(cpuMs, (c.user + c.system) / 1000 / cores);
  }
  return { name, flops, ms, gflops: flops / ms / 1e6, cpuGflops: flops / cpuMs / 1e6 };
}

/** A markdown table row of a rate. */
export function rateRow(r: Rate): string {
  return `| ${r.name} | ${(r.flops / 1e9).toFixed(2)} | ${r.ms.toFixed(1)} | ` +
    `${r.gflops.toFixed(2)} | ${r.cpuGflops.toFixed(2)} |`;
}

/** Header of the rate table. */
export const RATE_HEADER = "| shape | GFLOP | ms | GFLOP/s (wall) | GFLOP/s (CPU time) |\n" +
  "|---|---|---|---|---|";

/** A GEMM case: y[M, N] = x[M, K] w[N, K]^T. */
export interface GemmCase {
  /** Label. */
  name: string;
  /** Rows. */
  m: number;
  /** Columns. */
  n: number;
  /** Inner dimension. */
  k: number;
}

/**
 * GEMM shapes: a square reference, ViT-B/16 (batch 8), ResNet-50's classifier
 * and ConvNeXt-T's pointwise layers (batch 8: many rows, a short K).
 */
export const GEMM_CASES: GemmCase[] = [
  { name: "square 1024^3", m: 1024, n: 1024, k: 1024 },
  { name: "ViT-B qkv (B=8): 1576x768 -> 2304", m: 1576, n: 2304, k: 768 },
  { name: "ViT-B proj (B=8): 1576x768 -> 768", m: 1576, n: 768, k: 768 },
  { name: "ViT-B fc1 (B=8): 1576x768 -> 3072", m: 1576, n: 3072, k: 768 },
  { name: "ViT-B fc2 (B=8): 1576x3072 -> 768", m: 1576, n: 768, k: 3072 },
  { name: "ResNet-50 fc (B=32): 32x2048 -> 1000", m: 32, n: 1000, k: 2048 },
  { name: "ConvNeXt-T stage 1 fc1 (B=8): 25088x96 -> 384", m: 25088, n: 384, k: 96 },
  { name: "ConvNeXt-T stage 1 fc2 (B=8): 25088x384 -> 96", m: 25088, n: 96, k: 384 },
  { name: "ConvNeXt-T stage 3 fc1 (B=8): 1568x384 -> 1536", m: 1568, n: 1536, k: 384 },
];

/** Sets up a linear layer with a prepacked weight; returns the recorder. */
export function setupLinear(engine: Engine, c: GemmCase, act: Activation = "none"): () => void {
  const x = engine.upload(randomF32(c.m * c.k, 1), [c.m, c.k]);
  const w = prepareLinearWeight(engine, engine.upload(randomF32(c.n * c.k, 2), [c.n, c.k]));
  const bias = engine.upload(randomF32(c.n, 3), [c.n]);
  const out = engine.empty([c.m, c.n]);
  return () => void linear(engine, x, w, { bias, out, act });
}

/** Attention-like batched matmuls (ViT-B, batch 8: 96 heads of 197 x 64). */
export function setupAttentionMatmul(engine: Engine, scores: boolean): [number, () => void] {
  const z = 96, t = 197, d = 64;
  const q = engine.upload(randomF32(z * t * d, 4), [z, t, d]);
  const out = engine.empty(scores ? [z, t, t] : [z, t, d]);
  if (scores) {
    const k = engine.upload(randomF32(z * t * d, 5), [z, t, d]);
    return [
      2 * z * t * t * d,
      () => void matmul(engine, q, k, { transB: true, alpha: 0.125, out }),
    ];
  }
  const p = engine.upload(randomF32(z * t * t, 6), [z, t, t]);
  return [2 * z * t * t * d, () => void matmul(engine, p, q, { out })];
}

/** A convolution case. */
export interface ConvCase {
  /** Label. */
  name: string;
  /** Input shape [N, C, H, W]. */
  x: [number, number, number, number];
  /** Weight shape [O, C/groups, kh, kw]. */
  w: [number, number, number, number];
  /** Stride, padding, ... */
  opts: Conv2dOptions;
}

/** ResNet-50 layer shapes (batch 2). */
export const CONV_CASES: ConvCase[] = [
  {
    name: "stem 7x7/2 3->64 @224",
    x: [2, 3, 224, 224],
    w: [64, 3, 7, 7],
    opts: { stride: 2, padding: 3 },
  },
  { name: "3x3 64->64 @56", x: [2, 64, 56, 56], w: [64, 64, 3, 3], opts: { padding: 1 } },
  { name: "1x1 256->64 @56", x: [2, 256, 56, 56], w: [64, 256, 1, 1], opts: {} },
  { name: "1x1 64->256 @56", x: [2, 64, 56, 56], w: [256, 64, 1, 1], opts: {} },
  {
    name: "3x3/2 128->128 @56",
    x: [2, 128, 56, 56],
    w: [128, 128, 3, 3],
    opts: { stride: 2, padding: 1 },
  },
  { name: "3x3 256->256 @14", x: [2, 256, 14, 14], w: [256, 256, 3, 3], opts: { padding: 1 } },
  { name: "3x3 512->512 @7", x: [2, 512, 7, 7], w: [512, 512, 3, 3], opts: { padding: 1 } },
];

/** FLOPs of a convolution (2 per multiply-add). */
export function convFlops(c: ConvCase): number {
  const [n, o, ho, wo] = conv2dShape(c.x, c.w, c.opts);
  return 2 * n * o * ho * wo * c.w[1] * c.w[2] * c.w[3];
}

/**
 * Sets up a convolution with bias, fused ReLU, its weights uploaded once as
 * a model does; returns the recorder. `textures = false` measures the
 * storage-buffer path (conv2dTuning.textures) instead of the texture one.
 */
export function setupConv(engine: Engine, c: ConvCase, textures = true): () => void {
  const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const x = engine.upload(randomF32(size(c.x), 7), c.x);
  const saved = conv2dTuning.textures;
  conv2dTuning.textures = textures;
  const w = uploadConvWeight(engine, randomF32(size(c.w), 8), c.w);
  conv2dTuning.textures = saved;
  const bias = engine.upload(randomF32(c.w[0], 9), [c.w[0]]);
  const out: Tensor = engine.empty(conv2dShape(c.x, c.w, c.opts));
  return () => void conv2d(engine, x, w, { ...c.opts, bias, relu: true, out });
}

/** A depthwise NHWC convolution case (stride 1, "same" padding). */
export interface DepthwiseCase {
  /** Label. */
  name: string;
  /** Input shape [B, H, W, C]. */
  x: [number, number, number, number];
  /** Kernel size (square). */
  k: number;
}

/** ConvNeXt-T token mixers (7x7 depthwise, batch 8) and an EfficientNet-like 3x3. */
export const DEPTHWISE_CASES: DepthwiseCase[] = [
  { name: "7x7 C=96 @56", x: [8, 56, 56, 96], k: 7 },
  { name: "7x7 C=192 @28", x: [8, 28, 28, 192], k: 7 },
  { name: "7x7 C=384 @14", x: [8, 14, 14, 384], k: 7 },
  { name: "7x7 C=768 @7", x: [8, 7, 7, 768], k: 7 },
  { name: "3x3 C=144 @56", x: [8, 56, 56, 144], k: 3 },
];

/** FLOPs (2 per multiply-add) and bytes moved (input, output, weights, bias) of a depthwise case. */
export function depthwiseCost(c: DepthwiseCase): { flops: number; bytes: number } {
  const [b, h, w, ch] = c.x;
  return {
    flops: 2 * b * h * w * ch * c.k * c.k,
    bytes: 4 * (2 * b * h * w * ch + ch * c.k * c.k + ch),
  };
}

/** Sets up a depthwise convolution with bias (weights uploaded once); returns the recorder. */
export function setupDepthwise(
  engine: Engine,
  c: DepthwiseCase,
  act: Activation = "none",
): () => void {
  const [, , , ch] = c.x;
  const size = c.x.reduce((a, b) => a * b, 1);
  const x = engine.upload(randomF32(size, 7), c.x);
  const w = uploadDepthwiseWeight(engine, randomF32(ch * c.k * c.k, 8), [ch, 1, c.k, c.k]);
  const bias = engine.upload(randomF32(ch, 9), [ch]);
  const padding = (c.k - 1) / 2;
  const out = engine.empty(depthwiseShape(c.x, w, { padding }));
  return () => void depthwiseConv2dNHWC(engine, x, w, { padding, bias, act, out });
}

/** A memory-bound channels-last op at a ConvNeXt (V2) shape. */
export interface NhwcCase {
  /** Label. */
  name: string;
  /** Bytes read and written by one run. */
  bytes: number;
  /** Records one run. */
  record: () => void;
}

/**
 * GRN (ConvNeXt V2-T MLP widths, batch 8), space-to-depth before the
 * downsampling layers and the final token mean, at their ConvNeXt-T shapes;
 * the squeeze-and-excitation channel scaling at EfficientNet-B0's shapes.
 */
export function setupNhwc(engine: Engine): NhwcCase[] {
  const cases: NhwcCase[] = [];
  const input = (shape: number[], seed: number) =>
    engine.upload(randomF32(shape.reduce((a, b) => a * b, 1), seed), shape);
  for (const [t, c] of [[3136, 384], [784, 768], [196, 1536], [49, 3072]]) {
    const x = input([8, t, c], 10);
    const g = input([c], 11), b = input([c], 12);
    cases.push({
      name: `grn [8, ${t}, ${c}]`,
      bytes: 4 * 3 * 8 * t * c, // x read twice, y written
      record: () => grn(engine, x, g, b).release(),
    });
  }
  for (const [h, c] of [[56, 96], [28, 192], [14, 384]]) {
    const x = input([8, h, h, c], 13);
    cases.push({
      name: `spaceToDepth k=2 [8, ${h}, ${h}, ${c}]`,
      bytes: 4 * 2 * 8 * h * h * c,
      record: () => spaceToDepthNHWC(engine, x, 2).release(),
    });
  }
  // Squeeze-and-excitation's excite step at EfficientNet-B0 shapes (expanded widths, batch 8).
  for (const [h, c] of [[112, 96], [56, 144], [28, 240], [14, 672], [7, 1152]]) {
    const x = input([8, h * h, c], 15);
    const s = input([8, c], 16);
    cases.push({
      name: `channelScale [8, ${h}x${h}, ${c}]`,
      bytes: 4 * (2 * 8 * h * h * c + 8 * c),
      record: () => channelScale(engine, x, s).release(),
    });
  }
  // Squeeze-and-excitation's gate at EfficientNet-B0 shapes: the unfused chain the models run
  // (meanTokens, then the reduce and expand GEMMs of 8 rows) and the fused experiment
  // (bench/experiments/se_gate.ts, one dispatch).
  for (
    const [h, c, sq] of [[112, 32, 8], [56, 144, 6], [28, 240, 10], [14, 672, 28], [7, 1152, 48]]
  ) {
    const x = input([8, h * h, c], 17);
    const raw = (n: number, seed: number) => randomF32(n, seed);
    const l = { w1: raw(sq * c, 18), b1: raw(sq, 19), w2: raw(c * sq, 20), b2: raw(c, 21) };
    const se = uploadSeWeights(engine, l, c, sq, { act: "silu", gate: "sigmoid", label: "se" });
    const reduce = prepareLinearWeight(engine, engine.upload(l.w1, [sq, c]));
    const expand = prepareLinearWeight(engine, engine.upload(l.w2, [c, sq]));
    const bytes = 4 * (8 * h * h * c + 2 * c * sq + 8 * c);
    cases.push({
      name: `seGate fused [8, ${h}x${h}, ${c}] -> ${sq}`,
      bytes,
      record: () => seGate(engine, x, se).release(),
    });
    cases.push({
      name: `seGate unfused (mean + 2 GEMMs) [8, ${h}x${h}, ${c}] -> ${sq}`,
      bytes,
      record: () => {
        const m = meanTokens(engine, x);
        const r = linear(engine, m, reduce, { bias: se.b1, act: "silu" });
        const g = linear(engine, r, expand, { bias: se.b2, act: "sigmoid" });
        for (const t of [m, r, g]) t.release();
      },
    });
  }
  const last = input([8, 49, 768], 14);
  cases.push({
    name: "meanTokens [8, 49, 768]",
    bytes: 4 * (8 * 49 * 768 + 8 * 768),
    record: () => meanTokens(engine, last).release(),
  });
  return cases;
}

if (import.meta.main) {
  const which = Deno.args[0] ?? "all";
  const engine = await Engine.create();
  console.log(`adapter: ${engine.gpu.info.description}\n`);
  if (which === "all" || which === "gemm") {
    console.log("GEMM (linear with prepacked weight and bias)\n" + RATE_HEADER);
    for (const c of GEMM_CASES) {
      const flops = 2 * c.m * c.n * c.k;
      console.log(rateRow(await measure(engine, c.name, flops, setupLinear(engine, c))));
    }
    for (const scores of [true, false]) {
      const [flops, rec] = setupAttentionMatmul(engine, scores);
      const name = scores
        ? "attention scores 96 x (197x64 . 64x197)"
        : "attention context 96 x (197x197 . 197x64)";
      console.log(rateRow(await measure(engine, name, flops, rec)));
    }
  }
  if (which === "all" || which === "conv2d") {
    console.log("\nconv2d (batch 2, bias + ReLU), textures then storage buffers\n" + RATE_HEADER);
    for (const c of CONV_CASES) {
      for (const textures of [true, false]) {
        const name = `${c.name} ${textures ? "textures" : "buffers"}`;
        console.log(
          rateRow(await measure(engine, name, convFlops(c), setupConv(engine, c, textures))),
        );
      }
    }
  }
  if (which === "all" || which === "depthwise") {
    console.log(
      "\ndepthwise NHWC (batch 8, bias, same padding)\n" +
        "| shape | GFLOP | ms | GFLOP/s (wall) | GFLOP/s (CPU time) | GB/s (wall) |\n" +
        "|---|---|---|---|---|---|",
    );
    for (const c of DEPTHWISE_CASES) {
      const { flops, bytes } = depthwiseCost(c);
      const r = await measure(engine, c.name, flops, setupDepthwise(engine, c));
      console.log(`${rateRow(r)} ${(bytes / r.ms / 1e6).toFixed(2)} |`);
    }
  }
  if (which === "all" || which === "nhwc") {
    console.log(
      "\nchannels-last helpers\n| op | MB | ms | GB/s (wall) | GB/s (CPU time) |\n|---|---|---|---|---|",
    );
    for (const c of setupNhwc(engine)) {
      const r = await measure(engine, c.name, c.bytes, c.record);
      console.log(
        `| ${c.name} | ${(c.bytes / 1e6).toFixed(1)} | ${r.ms.toFixed(1)} | ` +
          `${r.gflops.toFixed(2)} | ${r.cpuGflops.toFixed(2)} |`,
      );
    }
  }
  if (which === "all" || which === "activation") {
    // The cost of each fused activation in a GEMM epilogue (ViT-B fc1 shape, batch 2).
    console.log("\nlinear 394x768 -> 3072 + bias + activation\n" + RATE_HEADER);
    const c: GemmCase = { name: "fc1", m: 394, n: 3072, k: 768 };
    for (const act of ACTIVATIONS) {
      const rec = setupLinear(engine, c, act);
      console.log(rateRow(await measure(engine, `act=${act}`, 2 * c.m * c.n * c.k, rec)));
    }
  }
}
