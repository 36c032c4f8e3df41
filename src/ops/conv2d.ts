/**
 * 2-D convolution (NCHW activations, PyTorch OIHW weights) with a fused
 * epilogue (bias, residual, activation), and batch-norm folding at load time.
 */
import simpleCode from "../../shaders/conv2d_simple.wgsl" with { type: "text" };
import packCode from "../../shaders/conv2d_pack.wgsl" with { type: "text" };
import pack1x1Code from "../../shaders/conv2d_pack_1x1.wgsl" with { type: "text" };
import padWeightCode from "../../shaders/conv2d_pad_weight.wgsl" with { type: "text" };
import weightTextureCode from "../../shaders/conv2d_weight_texture.wgsl" with { type: "text" };
import panelsBufferCode from "../../shaders/conv2d_panels_buffer.wgsl" with { type: "text" };
import panelsTextureCode from "../../shaders/conv2d_panels_texture.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import type { Kernel } from "../gpu/kernel.ts";
import { assertFitsF16 } from "../gpu/kernel_path.ts";
import type { GpuTexture } from "../gpu/texture.ts";
import { packParams } from "../gpu/params.ts";
import { numel, type Tensor } from "../tensor.ts";
import { dummyTensor, gemm, GEMM_PANEL, PackedMatrix } from "./gemm.ts";
import { type Activation, ACTIVATION_WGSL, activationCode } from "./activation.ts";
import { paddedOutShape, type Padding, pair, resolvePadding, type Size2 } from "./padding.ts";

export { pair, type Size2 };

/** shaders/conv2d_simple.wgsl with the activation snippet it calls. */
const SIMPLE_SOURCE = ACTIVATION_WGSL + simpleCode;

const PACK_WG = 64;
/** Invocations per workgroup of the GPU path's im2col pack (one texel each). */
const GPU_PACK_WG = 256;
/** Tuning knobs of {@link conv2d} (tests lower them to exercise chunking). */
export const conv2dTuning = {
  /** Largest im2col buffer (bytes); convolutions needing more run in chunks of output pixels. */
  im2colBudgetBytes: 48 * 2 ** 20,
  /** Run GEMM convolutions on textures where the adapter allows (false: storage buffers only). */
  textures: true,
};

/**
 * Convolution weights uploaded once for {@link conv2d}: as the GEMM's
 * texture where that path applies (then no buffer copy is kept; rgba16float
 * when the engine stores weights as f16), else as an f32 storage buffer.
 * Create with {@link uploadConvWeight}.
 */
export class ConvWeight {
  /** Wraps an uploaded weight; use {@link uploadConvWeight}. */
  constructor(
    /** [O, C / groups, kh, kw]. */
    readonly shape: readonly number[],
    /** The groups the weights were uploaded for. */
    readonly groups: number,
    /** Name used in errors and profiles. */
    readonly label: string,
    /** The OIHW weights in a buffer (when not a texture). */
    readonly tensor?: Tensor,
    /** The weights as rows of ceil(K/4) texels, K = C/groups x kh x kw zero-padded to 4. */
    readonly texture?: GpuTexture,
  ) {}

  /** Frees the GPU copy. */
  release(): void {
    this.tensor?.release();
    this.texture?.release();
  }
}

/**
 * Uploads OIHW convolution weights (`data`, host float32) for {@link conv2d}
 * with `groups`, in the form its GEMM reads fastest on this adapter. With
 * the engine's f16 weight storage (`--weights f16`) the GEMM's weight
 * texture holds f16 (half the memory; the kernels read f32 and accumulate in
 * f32); direct convolutions (depthwise, thin groups) keep f32.
 */
export function uploadConvWeight(
  engine: Engine,
  data: Float32Array,
  shape: readonly number[],
  groups = 1,
  label = "conv weight",
): ConvWeight {
  if (shape.length !== 4 || numel(shape) !== data.length) {
    throw new Error(`uploadConvWeight ${label}: ${data.length} values do not fill [${shape}]`);
  }
  const [o, cg, kh, kw] = shape;
  const kValid = cg * kh * kw;
  if (!usesGemm(o, groups) || !texturesFit(engine, o, kValid)) {
    return new ConvWeight(shape, groups, label, engine.upload(data, shape, label, true));
  }
  const k4 = Math.ceil(kValid / 4);
  const padded = new Float32Array(o * k4 * 4);
  for (let r = 0; r < o; r++) {
    padded.set(data.subarray(r * kValid, (r + 1) * kValid), r * k4 * 4);
  }
  const f16 = engine.weights === "f16";
  if (f16) assertFitsF16(data, label);
  const texture = engine.emptyTexture(k4, o, 1, {
    label,
    persistent: true,
    format: f16 ? "rgba16float" : "rgba32float",
  });
  engine.device.queue.writeTexture(
    { texture: texture.texture },
    f16 ? Float16Array.from(padded) : padded,
    { bytesPerRow: k4 * (f16 ? 8 : 16) },
    [k4, o],
  );
  return new ConvWeight(shape, groups, label, undefined, texture);
}

/** True if a convolution runs as im2col + GEMM (else directly: depthwise, thin groups). */
function usesGemm(o: number, groups: number): boolean {
  return o / groups >= 8 && groups <= 64;
}

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  /** Stride (default 1). */
  stride?: Size2;
  /**
   * Zero padding (default 0): the same on both sides of each axis, per side,
   * or "same" (TensorFlow's rule, from the input size: see `samePadding`).
   */
  padding?: Padding;
  /** Dilation (default 1). */
  dilation?: Size2;
  /** Groups (default 1); C and O must be multiples of it. */
  groups?: number;
  /** Bias [O]. */
  bias?: Tensor;
  /** Tensor [N, O, Ho, Wo] added before the activation. Must not be `out`. */
  residual?: Tensor;
  /** Activation applied last (default "none"). */
  act?: Activation;
  /** Apply ReLU last: the same as `act: "relu"` (an error if `act` says otherwise). */
  relu?: boolean;
  /** Output tensor (default: a new pooled tensor). */
  out?: Tensor;
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
  const stride = pair(opts.stride, 1), dilation = pair(opts.dilation, 1);
  const kernel = [wShape[2], wShape[3]] as const;
  const pad = resolvePadding(opts.padding, xShape[2], xShape[3], kernel, stride, dilation);
  return [
    xShape[0],
    wShape[0],
    ...paddedOutShape(xShape[2], xShape[3], pad, kernel, stride, dilation),
  ];
}

/**
 * The activation {@link Conv2dOptions} ask for: `act`, else "relu" for
 * `relu: true`. Throws if they disagree (`relu: true` with an `act` other
 * than "relu", or `relu: false` with `act: "relu"`).
 */
export function convActivation(opts: { act?: Activation; relu?: boolean }): Activation {
  const { act, relu } = opts;
  if (
    (relu === true && act !== undefined && act !== "relu") || (relu === false && act === "relu")
  ) {
    throw new Error(`conv2d: options relu=${relu} and act="${act}" disagree; give only act`);
  }
  return act ?? (relu ? "relu" : "none");
}

/**
 * `y = act(conv2d(x, w) + bias + residual)` for x [N, C, H, W] and
 * w [O, C / groups, kh, kw]; returns [N, O, Ho, Wo].
 */
export function conv2d(
  engine: Engine,
  x: Tensor,
  w: Tensor | ConvWeight,
  opts: Conv2dOptions = {},
): Tensor {
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
  if (w instanceof ConvWeight && w.groups !== groups) {
    throw new Error(`conv2d: weight ${w.label} was uploaded for groups=${w.groups}, not ${groups}`);
  }
  const act = convActivation(opts);
  activationCode(act); // rejects an unknown name before anything is recorded
  const [sh, sw] = pair(opts.stride, 1);
  const [dh, dw] = pair(opts.dilation, 1);
  // Only the top / left padding reaches the kernels (taps outside the input read zero).
  const pad = resolvePadding(opts.padding, h, wd, [kh, kw], [sh, sw], [dh, dw]);
  const ph = pad.top, pw = pad.left;
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
  const geometry = { c, h, w: wd, ho, wo, kh, kw, sh, sw, ph, pw, dh, dw, cg };
  if (usesGemm(o, groups)) {
    convAsGemm(engine, x, w, out, n, o, groups, geometry, opts, act);
  } else {
    const wt = w instanceof ConvWeight ? w.tensor! : w;
    convDirect(engine, x, wt, out, n, o, groups, geometry, opts, act);
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
 * im2col + GEMM: per chunk of output columns (the pixels of all images one
 * after the other) and per group, shaders/conv2d_pack.wgsl writes the input
 * patches in gemm.wgsl's packed-panel layout and the GEMM multiplies the
 * weight rows [Og, Cg kh kw] with them. Packing once and reading the panel
 * from every 8-channel row block is cheaper on llvmpipe than gathering
 * patches inside the GEMM loop (each per-lane load is a scalar loop there).
 * Weights and panels are textures where the adapter allows (faster fetches:
 * see src/gpu/texture.ts), else storage buffers.
 */
function convAsGemm(
  engine: Engine,
  x: Tensor,
  w: Tensor | ConvWeight,
  out: Tensor,
  n: number,
  o: number,
  groups: number,
  g: ConvGeometry,
  opts: Conv2dOptions,
  act: Activation,
): void {
  if (n === 0) return; // an empty batch: nothing to compute
  const og = o / groups;
  const kValid = g.cg * g.kh * g.kw;
  // K padded to a multiple of 4 (zero weights and zero patch rows) so that
  // the GEMM reads the weights as vec4s; only the 7x7 stem on 3 channels
  // (K = 147) and similar need it.
  const k = Math.ceil(kValid / 4) * 4;
  // Uploaded weights come as a texture or as a buffer; raw ones are
  // converted per call (into a texture, or K-padded when needed).
  const uploaded = w instanceof ConvWeight ? w.texture : undefined;
  const raw = w instanceof ConvWeight ? w.tensor : w;
  const textures = w instanceof ConvWeight ? Boolean(uploaded) : texturesFit(engine, o, kValid);
  let a: Tensor | GpuTexture;
  if (uploaded) a = uploaded;
  else if (textures) a = weightTexture(engine, raw!, o, kValid);
  else a = k === kValid ? raw! : padWeight(engine, raw!, o, kValid, k);
  const npix = g.ho * g.wo;
  const total = n * npix;
  // Columns per chunk: the packed panels stay under the budget (and, as a
  // texture array, under the layer limit); a multiple of the panel width.
  const budget = Math.min(
    conv2dTuning.im2colBudgetBytes,
    engine.gpu.limits.maxStorageBufferBindingSize,
  );
  let chunkPanels = Math.max(1, Math.floor(budget / (k * GEMM_PANEL * 4)));
  if (textures) chunkPanels = Math.min(chunkPanels, engine.gpu.limits.maxTextureArrayLayers);
  chunkPanels = Math.min(chunkPanels, Math.ceil(total / GEMM_PANEL));
  const chunkColumns = chunkPanels * GEMM_PANEL;
  const panelsOut = textures
    ? engine.emptyTexture(GEMM_PANEL / 4, k, chunkPanels, { arrayed: true, label: "im2col" })
    : engine.empty([chunkPanels * k * GEMM_PANEL], "f32", "im2col");
  const pointwise = g.kh === 1 && g.kw === 1 && g.sh === 1 && g.sw === 1 && g.ph === 0 &&
    g.pw === 0 && g.ho === g.h && g.wo === g.w && npix % 4 === 0 && k === kValid;
  const panelSink = textures ? "texture" : "buffer";
  for (let col0 = 0; col0 < total; col0 += chunkColumns) {
    const columns = Math.min(chunkColumns, total - col0);
    const rows = Math.ceil(columns / GEMM_PANEL) * k;
    for (let grp = 0; grp < groups; grp++) {
      if (pointwise) {
        const { kernel, workgroups } = packKernel(
          engine,
          "conv2d_pack_1x1",
          pack1x1Code,
          panelSink,
          rows,
        );
        engine.run(
          kernel,
          [x, panelsOut],
          workgroups,
          packParams([g.c, npix / 4, k, rows, grp * g.cg, col0, col0 + columns]),
        );
      } else {
        const { kernel, workgroups } = packKernel(engine, "conv2d_pack", packCode, panelSink, rows);
        engine.run(
          kernel,
          [x, panelsOut],
          workgroups,
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
            col0,
            kValid,
            col0 + columns,
          ]),
        );
      }
      gemm(
        engine,
        textures
          ? { t: a, m: og, batchStride: 0, rowStride: 1, offset: grp * og }
          : { t: a, m: og, batchStride: 0, rowStride: k, offset: grp * og * k },
        new PackedMatrix(panelsOut, k, columns, 1),
        1,
        {
          t: out,
          batchStride: 0,
          offset: grp * og * npix,
          colGroup: npix,
          groupStride: o * npix,
          column0: col0,
        },
        {
          bias: opts.bias,
          biasPerRow: true,
          biasOffset: grp * og,
          residual: opts.residual,
          act,
        },
      );
    }
  }
  panelsOut.release();
  if (a !== uploaded && a !== raw) a.release();
}

/**
 * A pack kernel writing its panels to a buffer or a texture array, with the
 * dispatch that covers `rows` panel rows: on the software path an
 * invocation per row (`main`), on the GPU path an invocation per texel
 * (`per_texel`: coalesced reads and writes).
 */
function packKernel(
  engine: Engine,
  name: string,
  code: string,
  sink: "buffer" | "texture",
  rows: number,
): { kernel: Kernel; workgroups: number } {
  const perTexel = engine.kernels.name === "gpu";
  const wg = perTexel ? GPU_PACK_WG : PACK_WG;
  const kernel: Kernel = {
    name: (sink === "texture" ? `${name}_tex` : name) + (perTexel ? " per texel" : ""),
    code: (sink === "texture" ? panelsTextureCode : panelsBufferCode) + code,
    entry: perTexel ? "per_texel" : "main",
    constants: { WG: wg },
  };
  return { kernel, workgroups: Math.ceil((perTexel ? rows * 16 : rows) / wg) };
}

/**
 * True if a convolution with `o` output channels and `kValid` = C/groups x
 * kh x kw runs on textures: its weights as a texture of ceil(K/4) x O texels
 * and its panels as 16 x K texels per layer, within the adapter's limits.
 */
function texturesFit(engine: Engine, o: number, kValid: number): boolean {
  const k4 = Math.ceil(kValid / 4);
  return conv2dTuning.textures && engine.textureFits(k4, o) &&
    engine.textureFits(GEMM_PANEL / 4, k4 * 4);
}

/** Weights [O, K] (any K) into a texture of ceil(K/4) x O texels (see conv2d_weight_texture.wgsl). */
function weightTexture(engine: Engine, w: Tensor, o: number, kValid: number): GpuTexture {
  const k4 = Math.ceil(kValid / 4);
  const t = engine.emptyTexture(k4, o, 1, { label: `${w.label} (texture)` });
  engine.run(
    { name: "conv2d_weight_texture", code: weightTextureCode, constants: { WG: PACK_WG } },
    [w, t],
    Math.ceil((o * k4) / PACK_WG),
    packParams([o, kValid, k4]),
  );
  return t;
}

/** Weights [O, K] copied to [O, Kp] with zero columns after K (storage-buffer path). */
function padWeight(engine: Engine, w: Tensor, o: number, k: number, kp: number): Tensor {
  const wp = engine.empty([o, kp], "f32", `${w.label} (K padded)`);
  engine.run(
    { name: "conv2d_pad_weight", code: padWeightCode, constants: { WG: PACK_WG } },
    [w, wp],
    Math.ceil((o * kp) / PACK_WG),
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
  act: Activation,
): void {
  const og = o / groups;
  const ocBlocks = Math.ceil(og / 32);
  engine.run(
    {
      name: "conv2d_simple",
      code: SIMPLE_SOURCE,
      constants: {
        HAS_BIAS: opts.bias ? 1 : 0,
        HAS_RES: opts.residual ? 1 : 0,
        ACT: activationCode(act),
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
