/**
 * Depthwise 2-D convolution on channels-last (NHWC) activations
 * (shaders/depthwise_nhwc.wgsl): ConvNeXt's 7x7 token mixer, EfficientNet /
 * MobileNet's 3x3 and 5x5 depthwise layers. Weights are uploaded once as
 * [kh * kw, C] so that the channels of one tap are contiguous; where C is a
 * multiple of 4 they go to uniform blocks of 64 KiB (a weight load the 8
 * lanes of a workgroup share is then one load on llvmpipe, not eight), each
 * holding [kh * kw, Cc] for a chunk of Cc channels (all C when they fit:
 * C <= 16384 / (kh kw), e.g. 332 channels at 7x7).
 */
import commonCode from "../../shaders/depthwise_common.wgsl" with { type: "text" };
import code from "../../shaders/depthwise_nhwc.wgsl" with { type: "text" };
import gpuCode from "../../shaders/depthwise_nhwc_gpu.wgsl" with { type: "text" };
import vec4Code from "../../shaders/depthwise_vec4.wgsl" with { type: "text" };
import scalarCode from "../../shaders/depthwise_scalar.wgsl" with { type: "text" };
import wUniformCode from "../../shaders/depthwise_w_uniform.wgsl" with { type: "text" };
import wStorageCode from "../../shaders/depthwise_w_storage.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import { splitGrid } from "../gpu/kernel.ts";
import { numel, Tensor } from "../tensor.ts";
import { type Activation, ACTIVATION_WGSL, activationCode } from "./activation.ts";
import { paddedOutShape, type Padding, pair, resolvePadding, type Size2 } from "./padding.ts";
import { dummyTensor } from "./gemm.ts";

/** Software-path kernels (depthwise_nhwc.wgsl) and GPU-path ones (depthwise_nhwc_gpu.wgsl). */
const SOURCES = {
  depthwise_nhwc: ACTIVATION_WGSL + vec4Code + wUniformCode + commonCode + code,
  depthwise_nhwc_storage_w: ACTIVATION_WGSL + vec4Code + wStorageCode + commonCode + code,
  depthwise_nhwc_scalar: ACTIVATION_WGSL + scalarCode + wStorageCode + commonCode + code,
  depthwise_nhwc_gpu: ACTIVATION_WGSL + vec4Code + wStorageCode + commonCode + gpuCode,
  depthwise_nhwc_gpu_scalar: ACTIVATION_WGSL + scalarCode + wStorageCode + commonCode + gpuCode,
};

/** Bytes of one uniform weight chunk (the WGSL array size; WebGPU's guaranteed minimum). */
const CHUNK_BYTES = 65536;

/** Tuning knobs of {@link uploadDepthwiseWeight} (tests turn them off to cover every path). */
export const depthwiseTuning = {
  /** Put the weights of C % 4 == 0 layers in uniform blocks (false: a storage buffer). */
  uniformWeights: true,
};

/** Lanes per workgroup (strips of output pixels side by side). */
const LANES = 8;
/** Output rows per invocation (ROWS in the shader). */
const ROWS = 4;
/** GPU path: invocations per workgroup (along channels) and output pixels per invocation. */
const GPU_WG = 64;
const GPU_STRIP = 4;

/**
 * Depthwise weights on the GPU, stored tap-major with the channels of a tap
 * contiguous: [kh * kw, C] in a storage buffer, or (C % 4 == 0) chunks of
 * `chunkChannels` channels, each [kh * kw, chunkChannels] in its own 64 KiB
 * uniform block. Create with {@link uploadDepthwiseWeight}.
 */
export class DepthwiseWeight {
  /** Wraps uploaded weights; use {@link uploadDepthwiseWeight}. */
  constructor(
    /** The weights (storage buffer, or uniform blocks of 64 KiB one after the other). */
    readonly tensor: Tensor,
    /** Channels C. */
    readonly channels: number,
    /** Kernel height. */
    readonly kh: number,
    /** Kernel width. */
    readonly kw: number,
    /** True if `tensor` holds uniform blocks. */
    readonly uniform: boolean,
    /** Channels per uniform block (C for a storage buffer). */
    readonly chunkChannels: number,
  ) {}

  /** The PyTorch shape [C, 1, kh, kw] the weights came from. */
  get shape(): [number, number, number, number] {
    return [this.channels, 1, this.kh, this.kw];
  }

  /** Name used in errors and profiles. */
  get label(): string {
    return this.tensor.label;
  }

  /** Frees the GPU copy. */
  release(): void {
    this.tensor.release();
  }
}

/**
 * Uploads PyTorch depthwise weights (`nn.Conv2d(C, C, k, groups=C)`,
 * [C, 1, kh, kw]) for {@link depthwiseConv2dNHWC}, reordered tap-major
 * (see {@link DepthwiseWeight}).
 */
export function uploadDepthwiseWeight(
  engine: Engine,
  weight: Float32Array,
  shape: readonly [number, number, number, number] | readonly number[],
  label = "depthwise weight",
): DepthwiseWeight {
  if (shape.length !== 4 || shape[1] !== 1 || numel(shape) !== weight.length) {
    throw new Error(
      `uploadDepthwiseWeight ${label}: expected ${weight.length} values as [C, 1, kh, kw], ` +
        `got shape [${shape}]`,
    );
  }
  const [c, , kh, kw] = shape;
  const taps = kh * kw;
  // Channels per uniform chunk: a multiple of 4 whose taps fill at most 64 KiB.
  const chunk = Math.min(c, Math.floor(CHUNK_BYTES / 16 / taps) * 4);
  if (depthwiseTuning.uniformWeights && c % 4 === 0 && c > 0 && chunk >= 4) {
    const chunks = Math.ceil(c / chunk);
    const data = new Float32Array((chunks * CHUNK_BYTES) / 4);
    for (let ch = 0; ch < c; ch++) {
      const base = Math.floor(ch / chunk) * (CHUNK_BYTES / 4) + (ch % chunk);
      for (let k = 0; k < taps; k++) data[base + k * chunk] = weight[ch * taps + k];
    }
    const buffer = engine.device.createBuffer({
      size: data.byteLength,
      // STORAGE too: the GPU path's kernel reads the same chunks as storage.
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      label,
    });
    engine.device.queue.writeBuffer(buffer, 0, data);
    const t = new Tensor(buffer, [data.length], "f32", label, (x) => x.buffer.destroy());
    return new DepthwiseWeight(t, c, kh, kw, true, chunk);
  }
  const t = new Float32Array(weight.length);
  for (let ch = 0; ch < c; ch++) {
    for (let k = 0; k < taps; k++) t[k * c + ch] = weight[ch * taps + k];
  }
  return new DepthwiseWeight(engine.upload(t, [taps, c], label, true), c, kh, kw, false, c);
}

/** Options of {@link depthwiseConv2dNHWC}. */
export interface DepthwiseOptions {
  /** Stride, 1 or 2 per direction (default 1). */
  stride?: Size2;
  /**
   * Zero padding (default 0): the same on both sides of each axis, per side,
   * or "same" (TensorFlow's rule, from the input size: see `samePadding`).
   */
  padding?: Padding;
  /** Bias [C]. */
  bias?: Tensor;
  /** Activation applied last (default "none"). */
  act?: Activation;
  /** Tensor [B, Ho, Wo, C] added before the activation. */
  residual?: Tensor;
  /** Output tensor [B, Ho, Wo, C] (default: a new pooled tensor). */
  out?: Tensor;
}

/** The output shape [B, Ho, Wo, C] of {@link depthwiseConv2dNHWC}. */
export function depthwiseShape(
  xShape: readonly number[],
  w: { kh: number; kw: number },
  opts: Pick<DepthwiseOptions, "stride" | "padding"> = {},
): [number, number, number, number] {
  const stride = pair(opts.stride, 1);
  const kernel = [w.kh, w.kw] as const;
  const pad = resolvePadding(opts.padding, xShape[1], xShape[2], kernel, stride);
  return [xShape[0], ...paddedOutShape(xShape[1], xShape[2], pad, kernel, stride), xShape[3]];
}

/**
 * `y = act(depthwise_conv(x, w) + bias + residual)` on channels-last maps:
 * x [B, H, W, C] -> y [B, Ho, Wo, C], zero padding, any kernel size, stride
 * 1 or 2 (the same in both directions). The same as PyTorch's
 * `nn.Conv2d(C, C, (kh, kw), stride, padding, groups=C)` on NCHW, permuted.
 */
export function depthwiseConv2dNHWC(
  engine: Engine,
  x: Tensor,
  w: DepthwiseWeight,
  opts: DepthwiseOptions = {},
): Tensor {
  if (x.shape.length !== 4) {
    throw new Error(`depthwiseConv2dNHWC: input ${x.label} [${x.shape}] is not [B, H, W, C]`);
  }
  const [b, h, wd, c] = x.shape;
  if (c !== w.channels) {
    throw new Error(
      `depthwiseConv2dNHWC: input ${x.label} [${x.shape}] has ${c} channels, weight ` +
        `${w.label} ${w.channels}`,
    );
  }
  const [sh, sw] = pair(opts.stride, 1);
  // Only the top / left padding reaches the kernel (taps outside the input read zero).
  const pad = resolvePadding(opts.padding, h, wd, [w.kh, w.kw], [sh, sw]);
  const ph = pad.top, pw = pad.left;
  if (sh !== sw || (sh !== 1 && sh !== 2)) {
    throw new Error(`depthwiseConv2dNHWC: stride [${sh}, ${sw}] is not supported (1 or 2)`);
  }
  const outShape = depthwiseShape(x.shape, w, opts);
  const [, ho, wo] = outShape;
  if (ho <= 0 || wo <= 0) {
    throw new Error(
      `depthwiseConv2dNHWC: input ${x.label} [${x.shape}] is smaller than the ` +
        `${w.kh}x${w.kw} kernel of ${w.label}`,
    );
  }
  const act = opts.act ?? "none";
  if (opts.bias && opts.bias.size !== c) {
    throw new Error(
      `depthwiseConv2dNHWC: bias ${opts.bias.label} has ${opts.bias.size} values, expected ${c}`,
    );
  }
  if (opts.residual && opts.residual.size !== numel(outShape)) {
    throw new Error(
      `depthwiseConv2dNHWC: residual ${opts.residual.label} [${opts.residual.shape}] is not ` +
        `[${outShape}]`,
    );
  }
  if (opts.out && opts.out.size !== numel(outShape)) {
    throw new Error(
      `depthwiseConv2dNHWC: out ${opts.out.label} [${opts.out.shape}] is not [${outShape}]`,
    );
  }
  if (opts.out && [x, opts.residual].some((t) => t && t.buffer === opts.out!.buffer)) {
    throw new Error(
      `depthwiseConv2dNHWC: out ${opts.out.label} must not share a buffer with an input`,
    );
  }
  const out = opts.out?.reshape(outShape) ?? engine.empty(outShape, "f32", "depthwise");
  if (out.size === 0) return out; // an empty batch
  const vec4 = c % 4 === 0;
  const cv = vec4 ? c / 4 : c;
  const gpu = engine.kernels.name === "gpu";
  const strip = gpu ? GPU_STRIP : sh === 1 ? 8 : 4;
  const strips = Math.ceil(wo / strip);
  const rowGroups = gpu ? ho : Math.ceil(ho / ROWS);
  const name = gpu
    ? (vec4 ? "depthwise_nhwc_gpu" : "depthwise_nhwc_gpu_scalar")
    : !vec4
    ? "depthwise_nhwc_scalar"
    : w.uniform
    ? "depthwise_nhwc"
    : "depthwise_nhwc_storage_w";
  const kernel = {
    name,
    code: SOURCES[name],
    constants: {
      KW: w.kw,
      STRIDE: sh,
      HAS_BIAS: opts.bias ? 1 : 0,
      HAS_RES: opts.residual ? 1 : 0,
      ACT: activationCode(act),
    },
  };
  const [gy, gz] = splitGrid(
    gpu ? b * rowGroups * strips : Math.ceil((b * rowGroups * strips) / LANES),
    engine.gpu.limits.maxComputeWorkgroupsPerDimension,
  );
  // One dispatch per weight chunk (one in all for a storage buffer); the
  // GPU kernels read a uniform-block chunk as storage.
  const chunkCv = vec4 ? w.chunkChannels / 4 : c;
  for (let cv0 = 0; cv0 < cv; cv0 += chunkCv) {
    const weights = w.uniform
      ? { buffer: w.tensor.buffer, offset: (cv0 / chunkCv) * CHUNK_BYTES, size: CHUNK_BYTES }
      : w.tensor;
    const chunk = Math.min(chunkCv, cv - cv0);
    engine.run(
      kernel,
      [x, weights, opts.bias ?? dummyTensor(engine), opts.residual ?? dummyTensor(engine), out],
      [gpu ? Math.ceil(chunk / GPU_WG) : chunk, gy, gz],
      packParams([h, wd, cv, ho, wo, w.kh, ph, pw, strips, rowGroups, cv0, chunkCv, b]),
    );
  }
  return out;
}
