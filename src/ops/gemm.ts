/**
 * Matrix products with a fused epilogue (bias, residual, activation):
 * `linear` (a PyTorch `nn.Linear`) and batched `matmul`.
 *
 * Both run one GEMM whose B operand is packed in column panels
 * (shaders/gemm_pack.wgsl): shaders/gemm.wgsl on the software kernel path,
 * shaders/gemm_tiled.wgsl (in one of {@link GEMM_TILINGS}) on the GPU path
 * (src/gpu/kernel_path.ts). Constant weights are packed once with
 * {@link prepareLinearWeight}; raw weights and run-time B operands are
 * packed into a temporary buffer on every call (O(K N) extra work).
 * Packed weights may be stored as f16 (`Engine.weights`, the CLI's
 * `--weights f16`): the kernels widen them on load and accumulate in f32.
 */
import commonCode from "../../shaders/gemm_common.wgsl" with { type: "text" };
import gemmCode from "../../shaders/gemm.wgsl" with { type: "text" };
import tiledCode from "../../shaders/gemm_tiled.wgsl" with { type: "text" };
import outVec4Code from "../../shaders/gemm_out_vec4.wgsl" with { type: "text" };
import outScalarCode from "../../shaders/gemm_out_scalar.wgsl" with { type: "text" };
import aVec4Code from "../../shaders/gemm_a_vec4.wgsl" with { type: "text" };
import aScalarCode from "../../shaders/gemm_a_scalar.wgsl" with { type: "text" };
import aTextureCode from "../../shaders/gemm_a_texture.wgsl" with { type: "text" };
import bBufferCode from "../../shaders/gemm_b_buffer.wgsl" with { type: "text" };
import bTextureCode from "../../shaders/gemm_b_texture.wgsl" with { type: "text" };
import bF16Code from "../../shaders/gemm_b_f16.wgsl" with { type: "text" };
import packCode from "../../shaders/gemm_pack.wgsl" with { type: "text" };
import packF32Code from "../../shaders/gemm_pack_f32.wgsl" with { type: "text" };
import packF16Code from "../../shaders/gemm_pack_f16.wgsl" with { type: "text" };
import storeVec4Code from "../../shaders/gemm_store_vec4.wgsl" with { type: "text" };
import storeScalarCode from "../../shaders/gemm_store_scalar.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { GpuTexture } from "../gpu/texture.ts";
import { splitGrid } from "../gpu/kernel.ts";
import type { TuneJob } from "../gpu/autotune.ts";
import { randomFill, randomFillTexture } from "../gpu/output_check.ts";
import type { WeightStorage } from "../gpu/kernel_path.ts";
import { packParams } from "../gpu/params.ts";
import { numel, Tensor } from "../tensor.ts";
import { GpuLimitError } from "../errors.ts";
import { type Activation, ACTIVATION_WGSL, activationCode } from "./activation.ts";

export type { Activation };

/** Columns per packed panel and rows per tile of shaders/gemm.wgsl. */
export const GEMM_PANEL = 64;
const GEMM_ROWS = 16;
const PACK_WG = 64;

/** Options of {@link linear}. */
export interface LinearOptions {
  /** Bias [N], added before the residual and the activation. */
  bias?: Tensor;
  /** Activation (default "none"). */
  act?: Activation;
  /** Tensor of the output's shape added before the activation. Must not be `out`. */
  residual?: Tensor;
  /** Output tensor (default: a new pooled tensor). */
  out?: Tensor;
}

/** Options of {@link matmul}. */
export interface MatmulOptions extends LinearOptions {
  /** `b` is stored [B, N, K] (or [N, K]) and used transposed. */
  transB?: boolean;
  /** Scale of the product (applied before bias and residual). */
  alpha?: number;
}

/**
 * A B operand packed for shaders/gemm.wgsl: `[batch][panel][k][64]` floats,
 * columns past `n` zero. Create with {@link packB} or {@link prepareLinearWeight}.
 * It is a buffer (of f32, or of f16 pairs when `storage` is "f16"), or
 * (written by conv2d's im2col) an f32 texture array of `batch * panels`
 * layers of 16 x `k` texels.
 */
export class PackedMatrix {
  /** Wraps a packed tensor; use {@link packB} to create one. */
  constructor(
    /** The packed data. */
    readonly tensor: Tensor | GpuTexture,
    /** Inner dimension K. */
    readonly k: number,
    /** Columns N. */
    readonly n: number,
    /** Number of matrices (1 = shared by every batch). */
    readonly batch: number,
    /** Element type of a packed buffer ("f16": two values per u32 word). */
    readonly storage: WeightStorage = "f32",
  ) {
    if (storage === "f16" && tensor instanceof GpuTexture) {
      throw new Error(`PackedMatrix ${tensor.label}: f16 storage needs a buffer, not a texture`);
    }
  }

  /** Number of 64-column panels. */
  get panels(): number {
    return Math.ceil(this.n / GEMM_PANEL);
  }

  /** Frees the packed data. */
  release(): void {
    this.tensor.release();
  }
}

/**
 * The operand variants of both GEMM kernels: A and B in buffers (A read as
 * vec4 or scalars) or both in textures, x C stored as vec4 or scalars. The
 * key is the suffix of the kernel name ("gemm" + suffix, "gemm_tiled" + suffix).
 */
const GEMM_VARIANTS = {
  "": [aVec4Code, bBufferCode, true],
  _scalar_c: [aVec4Code, bBufferCode, false],
  _scalar_a: [aScalarCode, bBufferCode, true],
  _scalar_ac: [aScalarCode, bBufferCode, false],
  _tex: [aTextureCode, bTextureCode, true],
  _tex_scalar_c: [aTextureCode, bTextureCode, false],
} as const;
type GemmVariant = keyof typeof GEMM_VARIANTS;

/**
 * WGSL of one kernel: operand snippets, shared parts, output stage, main.
 * f16 weights swap the buffer B snippet for gemm_b_f16.wgsl, whose
 * `enable f16;` must open the module: the B snippet comes first (module-scope
 * declarations may be used before they appear).
 */
function gemmSource(variant: GemmVariant, tiled: boolean, storage: WeightStorage): string {
  const [aCode, bBuffer, vec4C] = GEMM_VARIANTS[variant];
  const bCode = storage === "f16" ? bF16Code : bBuffer;
  const out = vec4C ? outVec4Code : outScalarCode;
  const main = tiled ? tiledCode : (vec4C ? storeVec4Code : storeScalarCode) + gemmCode;
  return bCode + ACTIVATION_WGSL + commonCode + aCode + out + main;
}

const sources = new Map<string, string>();
function gemmKernelCode(
  name: string,
  variant: GemmVariant,
  tiled: boolean,
  storage: WeightStorage,
): string {
  let code = sources.get(name);
  if (!code) sources.set(name, code = gemmSource(variant, tiled, storage));
  return code;
}

/** A tiling of shaders/gemm_tiled.wgsl: rows x 64-column panels per workgroup. */
export interface GemmTiling {
  /** Rows of C per workgroup (32, 64 or 128). */
  rows: number;
  /** 64-column panels of C per workgroup (1 or 2). */
  panels: number;
}

/** The GPU path's GEMM tilings, largest first: name -> rows x columns of C per workgroup. */
export const GEMM_TILINGS: Readonly<Record<string, GemmTiling>> = {
  "128x128": { rows: 128, panels: 2 },
  "64x128": { rows: 64, panels: 2 },
  "64x64": { rows: 64, panels: 1 },
  "32x64": { rows: 32, panels: 1 },
};
const TILING_NAMES = Object.keys(GEMM_TILINGS);
/** What the tuner may pick for a shape: a tiling, or the software kernel (the reference). */
const PICKABLE = [...TILING_NAMES, "software"];

/**
 * Workgroups a GPU needs in flight to hide latency (about one per SM / CU on
 * a mid-size card). Below it the tiling heuristic picks smaller tiles.
 */
const WORKGROUPS_TO_FILL = 128;

/** Workgroups of `tiling` for an m x n product, `batch` times. */
function tiledWorkgroups(t: GemmTiling, m: number, n: number, batch: number): number {
  return Math.ceil(m / t.rows) * Math.ceil(Math.ceil(n / GEMM_PANEL) / t.panels) * batch;
}

/**
 * The tiling used before (or without) autotuning: the largest tile that
 * still gives {@link WORKGROUPS_TO_FILL} workgroups, else the smallest.
 */
export function defaultGemmTiling(m: number, n: number, batch: number): string {
  return TILING_NAMES.find((name) =>
    tiledWorkgroups(GEMM_TILINGS[name], m, n, batch) >= WORKGROUPS_TO_FILL
  ) ?? TILING_NAMES[TILING_NAMES.length - 1];
}

const dummies = new WeakMap<Engine, Tensor>();

/** A small tensor bound where an optional input is absent. */
export function dummyTensor(engine: Engine): Tensor {
  let t = dummies.get(engine);
  if (!t) {
    t = engine.upload(new Float32Array(4), [4], "unused-input", true);
    dummies.set(engine, t);
  }
  return t;
}

/** Where B's elements are: b(z, k, n) at z * batch + k * kStride + n * nStride. */
interface BLayout {
  k: number;
  n: number;
  batch: number;
  batchStride: number;
  kStride: number;
  nStride: number;
}

/** Bytes per packed element. */
const STORAGE_BYTES: Record<WeightStorage, number> = { f32: 4, f16: 2 };

function packedBytes(l: BLayout, storage: WeightStorage): number {
  return l.batch * Math.ceil(l.n / GEMM_PANEL) * l.k * GEMM_PANEL * STORAGE_BYTES[storage];
}

/** Records the packing of `b` (laid out as `l`) into `dst`, as `storage` elements. */
function recordPack(
  engine: Engine,
  b: Tensor,
  l: BLayout,
  dst: Tensor,
  storage: WeightStorage,
): void {
  const panels = Math.ceil(l.n / GEMM_PANEL);
  const total = panels * l.k * (GEMM_PANEL / 4);
  const [x, y] = splitGrid(
    Math.ceil(total / PACK_WG),
    engine.gpu.limits.maxComputeWorkgroupsPerDimension,
  );
  engine.run(
    {
      name: `gemm_pack_${storage}`,
      // The destination snippet first: gemm_pack_f16.wgsl opens with `enable f16;`.
      code: (storage === "f16" ? packF16Code : packF32Code) + packCode,
      constants: { WG: PACK_WG },
    },
    [b, dst],
    [x, y, l.batch],
    packParams([l.k, l.n, panels, total, l.batchStride, l.kStride, l.nStride]),
  );
}

/**
 * Packs B for {@link gemm}: `b` is [K, N] / [Z, K, N], or with `transB`
 * [N, K] / [Z, N, K]. With `persistent` the result gets its own buffer
 * (for weights); otherwise it comes from the pool. `storage` "f16" (which
 * needs the engine's adapter to have `shader-f16`) rounds every value to f16.
 */
export function packB(
  engine: Engine,
  b: Tensor,
  opts: { transB?: boolean; persistent?: boolean; storage?: WeightStorage } = {},
): PackedMatrix {
  const b3 = b.shape.length === 2 ? [1, ...b.shape] : b.shape;
  if (b3.length !== 3) throw new Error(`packB: ${b.label} [${b.shape}] is not 2-D or 3-D`);
  const [z, r, s] = b3;
  const [k, n] = opts.transB ? [s, r] : [r, s];
  const layout: BLayout = {
    k,
    n,
    batch: z,
    batchStride: k * n,
    kStride: opts.transB ? 1 : n,
    nStride: opts.transB ? k : 1,
  };
  const storage = opts.storage ?? "f32";
  if (storage === "f16" && !engine.gpu.hasF16) {
    throw new GpuLimitError(
      `packB ${b.label}: f16 storage needs the WebGPU feature "shader-f16", which this adapter lacks`,
    );
  }
  const bytes = packedBytes(layout, storage);
  // f16 pairs are held as u32 words (Tensor has no f16 dtype); bytes is a multiple of 128.
  const dtype = storage === "f16" ? "u32" : "f32";
  let dst: Tensor;
  const label = `${b.label} (packed)`;
  if (opts.persistent) {
    const buffer = engine.device.createBuffer({
      size: Math.max(16, bytes),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
      label,
    });
    dst = new Tensor(buffer, [bytes / 4], dtype, label, (t) => t.buffer.destroy());
  } else {
    dst = engine.empty([bytes / 4], dtype, label);
  }
  recordPack(engine, b, layout, dst, storage);
  return new PackedMatrix(dst, k, n, z, storage);
}

/**
 * Packs a PyTorch linear weight [N, K] once, at load time, into its own
 * buffer, stored as the engine's {@link Engine.weights} (f32 or f16). Pass
 * the result to {@link linear} instead of the raw weight.
 */
export function prepareLinearWeight(engine: Engine, w: Tensor): PackedMatrix {
  if (w.shape.length !== 2) throw new Error(`linear weight ${w.label} [${w.shape}] is not 2-D`);
  return packB(engine, w, { transB: true, persistent: true, storage: engine.weights });
}

/**
 * The A operand of {@link gemm}: a(z, m, k) at offset + z * batchStride + m * rowStride + k.
 * In a texture (4 k per texel, K padded to a multiple of 4; B must be a
 * texture too) row r is texture row r: rowStride is 1 and the offsets count rows.
 */
export interface GemmA {
  /** The tensor or texture holding A. */
  t: Tensor | GpuTexture;
  /** Rows M. */
  m: number;
  /** Floats between batches (0 = shared). */
  batchStride: number;
  /** Floats between rows (>= K). */
  rowStride: number;
  /** Float offset of the first element (default 0). */
  offset?: number;
}

/**
 * Where {@link gemm} writes: c(z, m, n) at offset + z * batchStride + m * N + n,
 * or, with column groups (a convolution over several images: n = image *
 * pixels + pixel), at offset + z * batchStride + g * groupStride + m * colGroup
 * + (n - g * colGroup), g = floor(n / colGroup).
 */
export interface GemmC {
  /** The output tensor (also the layout of the residual). */
  t: Tensor;
  /** Floats between batches. */
  batchStride: number;
  /** Float offset of the first element (default 0). */
  offset?: number;
  /** Columns per group (default N: one group). */
  colGroup?: number;
  /** Floats between column groups. */
  groupStride?: number;
  /** Column n of the product is column `column0 + n` of C (default 0; a multiple of 4 keeps vec4 stores). */
  column0?: number;
}

/** Epilogue options of {@link gemm}. */
export interface GemmOptions {
  /** Bias, per column n (or per row m with `biasPerRow`). */
  bias?: Tensor;
  /** Tensor of C's layout added before the activation. */
  residual?: Tensor;
  /** Activation (default "none"). */
  act?: Activation;
  /** Scale of the product (default 1). */
  alpha?: number;
  /** Index the bias by row m (a convolution's output channel) instead of column n. */
  biasPerRow?: boolean;
  /** Element offset into the bias. */
  biasOffset?: number;
}

/**
 * Records `C[z] = act(alpha * A[z] B[z] + bias + R[z])` with B packed, for
 * z < `batch` (the residual R has C's layout). Building block of
 * {@link linear}, {@link matmul} and conv2d. On the GPU kernel path the
 * tiling comes from the engine's tuner (cached winner, else
 * {@link defaultGemmTiling}; the shape is queued for `engine.tuneKernels()`).
 */
export function gemm(
  engine: Engine,
  a: GemmA,
  b: PackedMatrix,
  batch: number,
  c: GemmC,
  opts: GemmOptions = {},
): void {
  if (engine.kernels.name === "software") {
    recordGemm(engine, a, b, batch, c, opts, "software");
    return;
  }
  const { m } = a;
  const { k, n } = b;
  // Operands in textures and f16 weights (either operand) read through other
  // code and stream other byte counts: each is a shape of its own for the tuner.
  const operands: GemmOperands = {
    textures: a.t instanceof GpuTexture,
    aF16: a.t instanceof GpuTexture && a.t.format === "rgba16float",
    storage: b.storage,
  };
  const key = `gemm m=${m} n=${n} k=${k} z=${batch}` + (operands.textures ? " tex" : "") +
    (operands.aF16 ? " a=f16" : "") + (b.storage === "f16" ? " b=f16" : "");
  const tiling = engine.tuner.pick(
    key,
    PICKABLE,
    defaultGemmTiling(m, n, batch),
    () => gemmTuneJob(key, m, n, k, batch, operands),
  );
  recordGemm(engine, a, b, batch, c, opts, tiling);
}

/** Records one GEMM with the software kernel or a named tiling of the tiled one. */
function recordGemm(
  engine: Engine,
  a: GemmA,
  b: PackedMatrix,
  batch: number,
  c: GemmC,
  opts: GemmOptions,
  tiling: string,
): void {
  const { m } = a;
  const { k, n } = b;
  const aOff = a.offset ?? 0;
  const panels = b.panels;
  const textures = a.t instanceof GpuTexture;
  if (textures !== b.tensor instanceof GpuTexture) {
    throw new Error(
      `gemm: A (${a.t.label}) and B (${b.tensor.label}) must both be textures or both buffers`,
    );
  }
  if (textures && (a.rowStride !== 1 || k % 4 !== 0)) {
    throw new Error(`gemm: a texture A needs rowStride 1 (rows) and K a multiple of 4, got K=${k}`);
  }
  const vec4A = a.rowStride % 4 === 0 && a.batchStride % 4 === 0 && aOff % 4 === 0;
  const colGroup = c.colGroup ?? n;
  const groupStride = c.groupStride ?? 0;
  const vec4C = n % 4 === 0 && colGroup % 4 === 0 && groupStride % 4 === 0 &&
    c.batchStride % 4 === 0 && (c.offset ?? 0) % 4 === 0 && (c.column0 ?? 0) % 4 === 0 &&
    (opts.biasPerRow || (opts.biasOffset ?? 0) % 4 === 0);
  const variant: GemmVariant = textures
    ? (vec4C ? "_tex" : "_tex_scalar_c")
    : vec4A
    ? (vec4C ? "" : "_scalar_c")
    : vec4C
    ? "_scalar_a"
    : "_scalar_ac";
  const tiled = tiling === "software" ? undefined : GEMM_TILINGS[tiling];
  if (tiling !== "software" && !tiled) throw new Error(`gemm: unknown tiling "${tiling}"`);
  const rowBlocks = Math.ceil(m / (tiled?.rows ?? GEMM_ROWS));
  const workgroups = tiled ? tiledWorkgroups(tiled, m, n, 1) : rowBlocks * panels;
  const [x, y] = splitGrid(workgroups, engine.gpu.limits.maxComputeWorkgroupsPerDimension);
  const constants: Record<string, number> = {
    ACT: activationCode(opts.act ?? "none"),
    HAS_BIAS: opts.bias ? 1 : 0,
    HAS_RES: opts.residual ? 1 : 0,
    BIAS_PER_ROW: opts.biasPerRow ? 1 : 0,
  };
  if (tiled) {
    constants.TM = tiled.rows;
    constants.PN = tiled.panels;
  }
  const name = (tiled ? "gemm_tiled" : "gemm") + variant + (b.storage === "f16" ? "_f16b" : "");
  engine.run(
    { name, code: gemmKernelCode(name, variant, Boolean(tiled), b.storage), constants },
    [
      b.tensor,
      opts.bias ?? dummyTensor(engine),
      opts.residual ?? dummyTensor(engine),
      c.t,
      a.t,
    ],
    [x, y, batch],
    packParams([
      m,
      n,
      k,
      panels,
      a.batchStride,
      a.rowStride,
      b.batch === 1 ? 0 : panels * k * (GEMM_PANEL / 4),
      c.batchStride,
      { f32: opts.alpha ?? 1 },
      rowBlocks,
      aOff,
      c.offset ?? 0,
      opts.biasOffset ?? 0,
      colGroup,
      groupStride,
      c.column0 ?? 0,
    ]),
  );
}

/** How a GEMM's operands are held, which decides the kernel variant the tuner checks. */
interface GemmOperands {
  /** A and B in textures (A rows of texels, B a texture array of panels). */
  textures: boolean;
  /** A in an rgba16float texture (f16 convolution weights). */
  aF16: boolean;
  /** Element type of a buffer B. */
  storage: WeightStorage;
}

/**
 * Autotuning of one GEMM shape: random A and B of the shape, held as the
 * real call holds them (buffers with B packed in its storage, or textures,
 * A possibly rgba16float), each tiling of {@link GEMM_TILINGS}, checked
 * against the software kernel on the same operands.
 */
function gemmTuneJob(
  key: string,
  m: number,
  n: number,
  k: number,
  batch: number,
  operands: GemmOperands,
): TuneJob {
  return {
    key,
    candidates: TILING_NAMES,
    reference: "software",
    prepare(engine) {
      const panels = Math.ceil(n / GEMM_PANEL);
      let a: Tensor | GpuTexture, b: PackedMatrix, rowStride: number;
      if (operands.textures) {
        // Texture A: row r is texture row r (rowStride 1, offsets in rows).
        a = randomFillTexture(
          engine,
          engine.emptyTexture(k / 4, batch * m, 1, {
            label: "autotune A",
            persistent: true,
            format: operands.aF16 ? "rgba16float" : "rgba32float",
          }),
          1,
        );
        const bt = engine.emptyTexture(GEMM_PANEL / 4, k, batch * panels, {
          arrayed: true,
          label: "autotune B",
          persistent: true,
        });
        b = new PackedMatrix(randomFillTexture(engine, bt, 2), k, n, batch);
        rowStride = 1;
      } else {
        a = randomFill(engine, engine.empty([batch * m * k], "f32", "autotune A"), 1);
        const raw = randomFill(engine, engine.empty([batch, k, n], "f32", "autotune B"), 2);
        b = packB(engine, raw, { storage: operands.storage });
        raw.release();
        rowStride = k;
      }
      const c = engine.empty([batch * m * n], "f32", "autotune C");
      return {
        record(on, tiling) {
          recordGemm(
            on,
            { t: a, m, batchStride: m * rowStride, rowStride },
            b,
            batch,
            { t: c, batchStride: m * n },
            {},
            tiling,
          );
          return c;
        },
        release() {
          a.release();
          b.release();
          c.release();
        },
      };
    },
  };
}

function checkEpilogue(
  what: string,
  outShape: number[],
  n: number,
  opts: LinearOptions,
  inputs: Tensor[],
): Tensor | undefined {
  if (opts.out && inputs.some((t) => t.buffer === opts.out!.buffer)) {
    throw new Error(`${what}: out ${opts.out.label} must not share a buffer with an input`);
  }
  if (opts.bias && opts.bias.size !== n) {
    throw new Error(`${what}: bias ${opts.bias.label} has ${opts.bias.size} values, expected ${n}`);
  }
  if (opts.residual && opts.residual.size !== numel(outShape)) {
    throw new Error(
      `${what}: residual ${opts.residual.label} [${opts.residual.shape}] does not match the ` +
        `output [${outShape}]`,
    );
  }
  if (opts.out && opts.out.size !== numel(outShape)) {
    throw new Error(`${what}: out ${opts.out.label} [${opts.out.shape}] is not [${outShape}]`);
  }
  if (opts.out && opts.residual && opts.out.buffer === opts.residual.buffer) {
    throw new Error(`${what}: out and residual must be different buffers`);
  }
  return opts.out?.reshape(outShape);
}

/**
 * A fully connected layer: `y = act(x @ w^T + bias + residual)` with a
 * PyTorch weight `w` [N, K] (raw, or packed once by
 * {@link prepareLinearWeight}). `x` is [..., K]; the result is [..., N].
 */
export function linear(
  engine: Engine,
  x: Tensor,
  w: Tensor | PackedMatrix,
  opts: LinearOptions = {},
): Tensor {
  const packed = w instanceof PackedMatrix ? w : undefined;
  if (!packed && (w as Tensor).shape.length !== 2) {
    throw new Error(`linear: weight ${(w as Tensor).label} [${(w as Tensor).shape}] is not 2-D`);
  }
  const [n, k] = packed ? [packed.n, packed.k] : (w as Tensor).shape;
  const wLabel = packed ? packed.tensor.label : (w as Tensor).label;
  const xk = x.shape[x.shape.length - 1];
  if (xk !== k) {
    throw new Error(`linear: input ${x.label} [${x.shape}] does not end in K=${k} of ${wLabel}`);
  }
  const m = x.size / k;
  const outShape = [...x.shape.slice(0, -1), n];
  const out = checkEpilogue("linear", outShape, n, opts, [x]) ??
    engine.empty(outShape, "f32", "linear");
  const b = packed ?? packB(engine, w as Tensor, { transB: true });
  gemm(engine, { t: x, m, batchStride: 0, rowStride: k }, b, 1, { t: out, batchStride: 0 }, opts);
  if (!packed) b.release();
  return out;
}

/**
 * Batched matrix product `C[z] = act(alpha * A[z] @ B[z] + bias + residual)`.
 * `a` is [Z, M, K] or [M, K]; `b` is [Z, K, N] or [K, N] ([Z, N, K] / [N, K]
 * with `transB`), or already packed by {@link packB}. A 2-D operand is
 * shared by every batch. The result is [Z, M, N] (or [M, N] when both are 2-D).
 */
export function matmul(
  engine: Engine,
  a: Tensor,
  b: Tensor | PackedMatrix,
  opts: MatmulOptions = {},
): Tensor {
  const a3 = a.shape.length === 2 ? [1, ...a.shape] : a.shape;
  if (a3.length !== 3) throw new Error(`matmul: ${a.label} [${a.shape}] is not 2-D or 3-D`);
  const [za, m, k] = a3;
  let packed: PackedMatrix;
  let bIs2d: boolean;
  if (b instanceof PackedMatrix) {
    packed = b;
    bIs2d = b.batch === 1;
  } else {
    const b3 = b.shape.length === 2 ? [1, ...b.shape] : b.shape;
    if (b3.length !== 3) throw new Error(`matmul: ${b.label} [${b.shape}] is not 2-D or 3-D`);
    const kb = opts.transB ? b3[2] : b3[1];
    if (kb !== k) {
      throw new Error(
        `matmul: inner sizes differ: ${a.label} [${a.shape}] vs ${b.label} [${b.shape}]` +
          (opts.transB ? " (transposed)" : ""),
      );
    }
    bIs2d = b.shape.length === 2;
    packed = packB(engine, b, { transB: opts.transB });
  }
  if (packed.k !== k) throw new Error(`matmul: packed B has K=${packed.k}, ${a.label} has ${k}`);
  const zb = packed.batch;
  if (za !== zb && za !== 1 && zb !== 1) {
    throw new Error(`matmul: batch sizes differ: ${za} (${a.label}) vs ${zb}`);
  }
  const z = Math.max(za, zb);
  const n = packed.n;
  const outShape = a.shape.length === 2 && bIs2d ? [m, n] : [z, m, n];
  const out = checkEpilogue("matmul", outShape, n, opts, [a]) ??
    engine.empty(outShape, "f32", "matmul");
  gemm(
    engine,
    { t: a, m, batchStride: za === 1 ? 0 : m * k, rowStride: k },
    packed,
    z,
    { t: out, batchStride: m * n },
    opts,
  );
  if (!(b instanceof PackedMatrix)) packed.release();
  return out;
}
