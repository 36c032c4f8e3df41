/**
 * Matrix products with a fused epilogue (bias, residual, activation):
 * `linear` (a PyTorch `nn.Linear`) and batched `matmul`.
 */
import simpleCode from "../../shaders/gemm_simple.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import { numel, type Tensor } from "../tensor.ts";
import { GELU_WGSL } from "./gelu.ts";

/** Activation applied in a GEMM epilogue. */
export type Activation = "none" | "relu" | "gelu";

const ACT_CODE: Record<Activation, number> = { none: 0, relu: 1, gelu: 2 };

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

const SIMPLE_CODE = GELU_WGSL + simpleCode;

const dummies = new WeakMap<Engine, Tensor>();

/** A 1-element tensor bound where an optional input is absent. */
export function dummyTensor(engine: Engine): Tensor {
  let t = dummies.get(engine);
  if (!t) {
    t = engine.upload(new Float32Array(4), [4], "unused-input", true);
    dummies.set(engine, t);
  }
  return t;
}

/** Where one operand's elements are: batch, row and column strides. */
interface Strided {
  t: Tensor;
  batch: number; // batch stride (0 = broadcast)
  row: number;
  col: number;
}

/** Records C = act(alpha * A B + bias + residual) for strided A, B. */
function gemmGeneric(
  engine: Engine,
  m: number,
  n: number,
  k: number,
  batch: number,
  a: Strided,
  b: Strided,
  alpha: number,
  opts: LinearOptions,
  out: Tensor,
): void {
  if (a.col !== 1) throw new Error("gemm: A must be contiguous along K");
  engine.run(
    {
      name: "gemm_simple",
      code: SIMPLE_CODE,
      constants: {
        ACT: ACT_CODE[opts.act ?? "none"],
        HAS_BIAS: opts.bias ? 1 : 0,
        HAS_RES: opts.residual ? 1 : 0,
      },
    },
    [a.t, b.t, opts.bias ?? dummyTensor(engine), opts.residual ?? dummyTensor(engine), out],
    [Math.ceil(n / 32), Math.ceil(m / 32), batch],
    packParams([m, n, k, batch, a.batch, a.row, b.batch, b.row, b.col, { f32: alpha }]),
  );
}

function checkEpilogue(what: string, outShape: number[], n: number, opts: LinearOptions): Tensor {
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
  return opts.out ? opts.out.reshape(outShape) : undefined as unknown as Tensor;
}

/**
 * A fully connected layer: `y = act(x @ w^T + bias + residual)` with PyTorch
 * weights `w` [N, K]. `x` is [..., K]; the result is [..., N].
 */
export function linear(engine: Engine, x: Tensor, w: Tensor, opts: LinearOptions = {}): Tensor {
  if (w.shape.length !== 2) throw new Error(`linear: weight ${w.label} [${w.shape}] is not 2-D`);
  const [n, k] = w.shape;
  const xk = x.shape[x.shape.length - 1];
  if (xk !== k) {
    throw new Error(`linear: input ${x.label} [${x.shape}] does not end in K=${k} of ${w.label}`);
  }
  const m = x.size / k;
  const outShape = [...x.shape.slice(0, -1), n];
  const out = checkEpilogue("linear", outShape, n, opts) ??
    engine.empty(outShape, "f32", "linear");
  gemmGeneric(
    engine,
    m,
    n,
    k,
    1,
    { t: x, batch: 0, row: k, col: 1 },
    { t: w, batch: 0, row: 1, col: k },
    1,
    opts,
    out,
  );
  return out;
}

/**
 * Batched matrix product `C[b] = act(alpha * A[b] @ B[b] + bias + residual)`.
 * `a` is [B, M, K] or [M, K]; `b` is [B, K, N] or [K, N] ([B, N, K] / [N, K]
 * with `transB`). A 2-D operand is shared by every batch. The result is
 * [B, M, N] (or [M, N] when both are 2-D).
 */
export function matmul(engine: Engine, a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const a3 = a.shape.length === 2 ? [1, ...a.shape] : a.shape;
  const b3 = b.shape.length === 2 ? [1, ...b.shape] : b.shape;
  if (a3.length !== 3 || b3.length !== 3) {
    throw new Error(`matmul: operands [${a.shape}] and [${b.shape}] must be 2-D or 3-D`);
  }
  const [ba, m, k] = a3;
  const [bb, r1, r2] = b3;
  const [kb, n] = opts.transB ? [r2, r1] : [r1, r2];
  if (kb !== k) {
    throw new Error(
      `matmul: inner sizes differ: ${a.label} [${a.shape}] vs ${b.label} [${b.shape}]` +
        (opts.transB ? " (transposed)" : ""),
    );
  }
  if (ba !== bb && ba !== 1 && bb !== 1) {
    throw new Error(`matmul: batch sizes differ: [${a.shape}] vs [${b.shape}]`);
  }
  const batch = Math.max(ba, bb);
  const outShape = a.shape.length === 2 && b.shape.length === 2 ? [m, n] : [batch, m, n];
  const out = checkEpilogue("matmul", outShape, n, opts) ??
    engine.empty(outShape, "f32", "matmul");
  gemmGeneric(
    engine,
    m,
    n,
    k,
    batch,
    { t: a, batch: ba === 1 ? 0 : m * k, row: k, col: 1 },
    {
      t: b,
      batch: bb === 1 ? 0 : k * n,
      row: opts.transB ? 1 : n,
      col: opts.transB ? k : 1,
    },
    opts.alpha ?? 1,
    opts,
    out,
  );
  return out;
}
