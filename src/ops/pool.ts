/** Spatial pooling over NCHW tensors (shaders/pool.wgsl), PyTorch semantics. */
import code from "../../shaders/pool.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";
import { pair, type Size2 } from "./conv2d.ts";

const WG = 64;

/** Window of {@link maxPool2d} / {@link avgPool2d}. */
export interface Pool2dOptions {
  /** Window size. */
  kernel: Size2;
  /** Stride (default: the window size, as in PyTorch). */
  stride?: Size2;
  /** Implicit padding on each side (default 0). */
  padding?: Size2;
  /** Round the output size up instead of down (PyTorch `ceil_mode`). */
  ceilMode?: boolean;
  /** Average only: count padded elements in the divisor (default true, as in PyTorch). */
  countIncludePad?: boolean;
}

/** PyTorch's pooled output size, including its `ceil_mode` rule. */
export function poolOutSize(
  size: number,
  k: number,
  s: number,
  p: number,
  ceilMode = false,
): number {
  const span = size + 2 * p - k;
  let out = (ceilMode ? Math.ceil(span / s) : Math.floor(span / s)) + 1;
  // The last window must start inside the input or its left padding.
  if (ceilMode && (out - 1) * s >= size + p) out--;
  return out;
}

function pool2d(engine: Engine, x: Tensor, o: Pool2dOptions, mode: 0 | 1, what: string): Tensor {
  if (x.shape.length !== 4) throw new Error(`${what}: input ${x.label} [${x.shape}] is not NCHW`);
  const [n, c, h, w] = x.shape;
  const [kh, kw] = pair(o.kernel, 1);
  const [sh, sw] = pair(o.stride ?? o.kernel, 1);
  const [ph, pw] = pair(o.padding, 0);
  if (2 * ph > kh || 2 * pw > kw) {
    throw new Error(`${what}: padding [${ph}, ${pw}] exceeds half the window [${kh}, ${kw}]`);
  }
  const ho = poolOutSize(h, kh, sh, ph, o.ceilMode);
  const wo = poolOutSize(w, kw, sw, pw, o.ceilMode);
  if (ho <= 0 || wo <= 0) {
    throw new Error(`${what}: input ${x.label} [${x.shape}] is smaller than the window`);
  }
  const out = engine.empty([n, c, ho, wo], "f32", what);
  engine.run(
    {
      name: "pool",
      code,
      constants: { MODE: mode, COUNT_PAD: o.countIncludePad ?? true ? 1 : 0, WG },
    },
    [x, out],
    Math.ceil(out.size / WG),
    packParams([n * c, h, w, ho, wo, kh, kw, sh, sw, ph, pw]),
  );
  return out;
}

/** Max pooling of x [N, C, H, W] (padding never wins). */
export function maxPool2d(engine: Engine, x: Tensor, opts: Pool2dOptions): Tensor {
  return pool2d(engine, x, opts, 0, "maxPool2d");
}

/** Average pooling of x [N, C, H, W]; by default padded zeros count in the divisor. */
export function avgPool2d(engine: Engine, x: Tensor, opts: Pool2dOptions): Tensor {
  return pool2d(engine, x, opts, 1, "avgPool2d");
}

/** Mean over H and W: x [N, C, H, W] -> [N, C]. */
export function globalAvgPool(engine: Engine, x: Tensor): Tensor {
  if (x.shape.length !== 4) {
    throw new Error(`globalAvgPool: input ${x.label} [${x.shape}] is not NCHW`);
  }
  const [n, c, h, w] = x.shape;
  const out = engine.empty([n, c], "f32", "globalAvgPool");
  engine.run(
    { name: "pool", code, constants: { MODE: 2, COUNT_PAD: 1, WG } },
    [x, out],
    Math.ceil((n * c) / WG),
    packParams([n * c, h, w, 1, 1, h, w, 1, 1, 0, 0]),
  );
  return out;
}
