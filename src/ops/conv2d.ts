/**
 * 2-D convolution (NCHW activations, PyTorch OIHW weights) with a fused
 * epilogue (bias, residual, ReLU), and batch-norm folding at load time.
 */
import simpleCode from "../../shaders/conv2d_simple.wgsl" with { type: "text" };
import packCode from "../../shaders/conv2d_pack.wgsl" with { type: "text" };
import pack1x1Code from "../../shaders/conv2d_pack_1x1.wgsl" with { type: "text" };
import padWeightCode from "../../shaders/conv2d_pad_weight.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { splitGrid } from "../gpu/kernel.ts";
import { packParams } from "../gpu/params.ts";
import { numel, type Tensor } from "../tensor.ts";
import { dummyTensor, gemm, GEMM_PANEL, PackedMatrix } from "./gemm.ts";

const PACK_WG = 64;
/** Tuning knobs of {@link conv2d} (tests lower them to exercise chunking). */
export const conv2dTuning = {
  /** Largest im2col buffer (bytes); batches needing more are run in chunks of images. */
  im2colBudgetBytes: 48 * 2 ** 20,
};

/** A size given for both spatial dimensions or as [height, width]. */
export type Size2 = number | readonly [number, number];

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Stride (default 1). */
  stride?: Size2;
  /** Zero padding on each side (default 0). */
  padding?: Size2;
  /** Dilation (default 1). */
  dilation?: Size2;
  /** Groups (default 1); C and O must be multiples of it. */
  groups?: number;
  /** Bias [O]. */
  bias?: Tensor;
  /** Tensor [N, O, Ho, Wo] added before the ReLU. Must not be `out`. */
  residual?: Tensor;
  /** Apply ReLU last. */
  relu?: boolean;
  /** Output tensor (default: a new pooled tensor). */
  out?: Tensor;
}

/** [h, w] of a {@link Size2}. */
export function pair(s: Size2 | undefined, dflt: number): [number, number] {
  if (s === undefined) return [dflt, dflt];
  return typeof s === "number" ? [s, s] : [s[0], s[1]];
}

/** Output spatial size of a convolution or pooling window. */
export function convOutSize(
  inSize: number,
  kernel: number,
  stride: number,
  padding: number,
  dilation = 1,
): number {
  return Math.floor((inSize + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** The output shape [N, O, Ho, Wo] of {@link conv2d}. */
export function conv2dShape(
  xShape: readonly number[],
  wShape: readonly number[],
  opts: Conv2dOptions = {},
): [number, number, number, number] {
  const [sh, sw] = pair(opts.stride, 1), [ph, pw] = pair(opts.padding, 0);
  const [dh, dw] = pair(opts.dilation, 1);
  return [
    xShape[0],
    wShape[0],
    convOutSize(xShape[2], wShape[2], sh, ph, dh),
    convOutSize(xShape[3], wShape[3], sw, pw, dw),
  ];
}

/**
 * `y = relu?(conv2d(x, w) + bias + residual)` for x [N, C, H, W] and
 * w [O, C / groups, kh, kw]; returns [N, O, Ho, Wo].
 */
export function conv2d(engine: Engine, x: Tensor, w: Tensor, opts: Conv2dOptions = {}): Tensor {
  if (x.shape.length !== 4 || w.shape.length !== 4) {
    throw new Error(
      `conv2d: input ${x.label} [${x.shape}] and weight ${w.label} [${w.shape}] must be 4-D`,
    );
  }
  const [n, c, h, wd] = x.shape;
  const [o, cg, kh, kw] = w.shape;
  const groups = opts.groups ?? 1;
  if (c % groups || o % groups || cg * groups !== c) {
    throw new Error(
      `conv2d: weight ${w.label} [${w.shape}] with groups=${groups} does not fit input ` +
        `${x.label} with ${c} channels`,
    );
  }
  const [sh, sw] = pair(opts.stride, 1), [ph, pw] = pair(opts.padding, 0);
  const [dh, dw] = pair(opts.dilation, 1);
  const outShape = conv2dShape(x.shape, w.shape, opts);
  const [, , ho, wo] = outShape;
  if (ho <= 0 || wo <= 0) {
    throw new Error(`conv2d: input ${x.label} [${x.shape}] is smaller than the kernel ${w.label}`);
  }
  if (opts.bias && opts.bias.size !== o) {
    throw new Error(`conv2d: bias ${opts.bias.label} has ${opts.bias.size} values, expected ${o}`);
  }
  if (opts.residual && opts.residual.size !== numel(outShape)) {
    throw new Error(
      `conv2d: residual ${opts.residual.label} [${opts.residual.shape}] is not [${outShape}]`,
    );
  }
  if (opts.out && opts.out.size !== numel(outShape)) {
    throw new Error(`conv2d: out ${opts.out.label} [${opts.out.shape}] is not [${outShape}]`);
  }
  if (opts.out && opts.residual && opts.out.buffer === opts.residual.buffer) {
    throw new Error("conv2d: out and residual must be different buffers");
  }
  if (opts.out && opts.out.buffer === x.buffer) {
    throw new Error(`conv2d: out ${opts.out.label} must not share a buffer with the input`);
  }
  const out = opts.out ? opts.out.reshape(outShape) : engine.empty(outShape, "f32", "conv2d");
  const og = o / groups;
  const geometry = { c, h, w: wd, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw, cg };
  if (og >= 8 && groups <= 64) {
    convAsGemm(engine, x, w, out, n, o, groups, geometry, opts);
  } else {
    convDirect(engine, x, w, out, n, o, groups, geometry, opts);
  }
  return out;
}

interface ConvGeometry {
  c: number;
  h: number;
  w: number;
  ho: number;
  wo: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  dh: number;
  dw: number;
  cg: number;
}

/**
 * im2col + GEMM: per chunk of images and per group, shaders/conv2d_pack.wgsl
 * writes the input patches in gemm.wgsl's packed-panel layout and the GEMM
 * multiplies the weight rows [Og, Cg kh kw] with them. Packing once and
 * reading the panel from every 8-channel row block is cheaper on llvmpipe
 * than gathering patches inside the GEMM loop (each per-lane load is a
 * scalar loop there).
 */
function convAsGemm(
  engine: Engine,
  x: Tensor,
  w: Tensor,
  out: Tensor,
  n: number,
  o: number,
  groups: number,
  g: ConvGeometry,
  opts: Conv2dOptions,
): void {
  const og = o / groups;
  const kValid = g.cg * g.kh * g.kw;
  // K padded to a multiple of 4 (zero weights and zero patch rows) so that
  // the GEMM reads the weights as vec4s; only the 7x7 stem on 3 channels
  // (K = 147) and similar need it.
  const k = Math.ceil(kValid / 4) * 4;
  const wk = k === kValid ? w : padWeight(engine, w, o, kValid, k);
  const npix = g.ho * g.wo;
  // Images per chunk: the im2col buffer (all their pixels as columns) stays
  // under the budget.
  const budget = Math.min(
    conv2dTuning.im2colBudgetBytes,
    engine.gpu.limits.maxStorageBufferBindingSize,
  );
  const chunk = Math.max(1, Math.min(n, Math.floor(budget / (npix * k * 4) - 1)));
  const maxPanels = Math.ceil((chunk * npix) / GEMM_PANEL);
  const cols = engine.empty([maxPanels * k * GEMM_PANEL], "f32", "im2col");
  const pointwise = g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 &&
    g.pw === 0 && npix % 4 === 0 && k === kValid;
  const maxDim = engine.gpu.limits.maxComputeWorkgroupsPerDimension;
  for (let img0 = 0; img0 < n; img0 += chunk) {
    const count = Math.min(chunk, n - img0);
    const columns = count * npix;
    const panels = Math.ceil(columns / GEMM_PANEL);
    for (let grp = 0; grp < groups; grp++) {
      if (pointwise) {
        const rows = panels * k;
        engine.run(
          { name: "conv2d_pack_1x1", code: pack1x1Code, constants: { WG: PACK_WG } },
          [x, cols],
          splitGrid(Math.ceil(rows / PACK_WG), maxDim),
          packParams([g.c, npix / 4, k, rows, grp * g.cg, img0, count]),
        );
      } else {
        const rows = panels * k;
        engine.run(
          { name: "conv2d_pack", code: packCode, constants: { WG: PACK_WG } },
          [x, cols],
          splitGrid(Math.ceil(rows / PACK_WG), maxDim),
          packParams([
            g.c,
            g.h,
            g.w,
            g.wo,
            g.kh,
            g.kw,
            g.sh,
            g.sw,
            g.ph,
            g.pw,
            g.dh,
            g.dw,
            k,
            npix,
            rows,
            grp * g.cg,
            img0,
            kValid,
            count,
          ]),
        );
      }
      gemm(
        engine,
        { t: wk, m: og, batchStride: 0, rowStride: k, offset: grp * og * k },
        new PackedMatrix(cols, k, columns, 1),
        1,
        {
          t: out,
          batchStride: 0,
          offset: (img0 * o + grp * og) * npix,
          colGroup: npix,
          groupStride: o * npix,
        },
        {
          bias: opts.bias,
          biasPerRow: true,
          biasOffset: grp * og,
          residual: opts.residual,
          act: opts.relu ? "relu" : "none",
        },
      );
    }
  }
  cols.release();
  if (wk !== w) wk.release();
}

/** Weights [O, K] copied to [O, Kp] with zero columns after K. */
function padWeight(engine: Engine, w: Tensor, o: number, k: number, kp: number): Tensor {
  const wp = engine.empty([o, kp], "f32", `${w.label} (K padded)`);
  const [x, y] = splitGrid(
    Math.ceil((o * kp) / PACK_WG),
    engine.gpu.limits.maxComputeWorkgroupsPerDimension,
  );
  engine.run(
    { name: "conv2d_pad_weight", code: padWeightCode, constants: { WG: PACK_WG } },
    [w, wp],
    [x, y],
    packParams([o, k, kp]),
  );
  return wp;
}

/** Direct convolution (shaders/conv2d_simple.wgsl), for depthwise / thin groups. */
function convDirect(
  engine: Engine,
  x: Tensor,
  w: Tensor,
  out: Tensor,
  n: number,
  o: number,
  groups: number,
  g: ConvGeometry,
  opts: Conv2dOptions,
): void {
  const og = o / groups;
  const ocBlocks = Math.ceil(og / 32);
  engine.run(
    {
      name: "conv2d_simple",
      code: simpleCode,
      constants: {
        HAS_BIAS: opts.bias ? 1 : 0,
        HAS_RES: opts.residual ? 1 : 0,
        RELU: opts.relu ? 1 : 0,
      },
    },
    [x, w, opts.bias ?? dummyTensor(engine), opts.residual ?? dummyTensor(engine), out],
    [Math.ceil((g.ho * g.wo) / 32), n * ocBlocks, groups],
    packParams([
      g.c,
      g.h,
      g.w,
      o,
      g.ho,
      g.wo,
      g.kh,
      g.kw,
      g.sh,
      g.sw,
      g.ph,
      g.pw,
      g.dh,
      g.dw,
      g.cg,
      og,
      ocBlocks,
    ]),
  );
}

/** Batch-norm parameters (PyTorch `BatchNorm2d` in eval mode). */
export interface BatchNormParams {
  /** gamma [O]. */
  weight: Float32Array;
  /** beta [O]. */
  bias: Float32Array;
  /** Running mean [O]. */
  runningMean: Float32Array;
  /** Running variance [O]. */
  runningVar: Float32Array;
  /** Epsilon (PyTorch default 1e-5). */
  eps: number;
}

/**
 * Folds an eval-mode batch norm that follows a convolution into the
 * convolution's weight and bias (on the CPU, in float64):
 * `s = gamma / sqrt(var + eps)`, `w' = w * s[o]`, `b' = (b - mean) * s + beta`.
 */
export function foldBatchNorm(
  w: Float32Array,
  wShape: readonly number[],
  bias: Float32Array | undefined,
  bn: BatchNormParams,
): { weight: Float32Array; bias: Float32Array } {
  const o = wShape[0];
  const per = numel(wShape) / o;
  if (w.length !== o * per) throw new Error(`foldBatchNorm: weight does not fill [${wShape}]`);
  for (const [name, v] of Object.entries(bn)) {
    if (v instanceof Float32Array && v.length !== o) {
      throw new Error(`foldBatchNorm: batch-norm ${name} has ${v.length} values, expected ${o}`);
    }
  }
  if (bias && bias.length !== o) {
    throw new Error(`foldBatchNorm: bias has ${bias.length} values, expected ${o}`);
  }
  const weight = new Float32Array(w.length);
  const b = new Float32Array(o);
  for (let k = 0; k < o; k++) {
    const s = bn.weight[k] / Math.sqrt(bn.runningVar[k] + bn.eps);
    for (let i = 0; i < per; i++) weight[k * per + i] = w[k * per + i] * s;
    b[k] = ((bias?.[k] ?? 0) - bn.runningMean[k]) * s + bn.bias[k];
  }
  return { weight, bias: b };
}
