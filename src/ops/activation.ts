/**
 * The activations a fused epilogue can apply (GEMM, convolutions, depthwise
 * convolution): their names, the codes of the WGSL `override ACT` in
 * shaders/activation.wgsl, the WGSL snippet itself and a float64 CPU
 * reference. Definitions are PyTorch's (`nn.ReLU`, `nn.GELU()` exact,
 * `nn.ReLU6`, `nn.SiLU`, `nn.Hardswish`, `nn.Sigmoid`, `nn.Hardsigmoid`,
 * `nn.GELU(approximate="tanh")`).
 */
import activationWgsl from "../../shaders/activation.wgsl" with { type: "text" };
import { GELU_WGSL } from "./gelu.ts";

/** Activation applied in a fused epilogue. */
export type Activation =
  | "none"
  | "relu"
  | "gelu"
  | "relu6"
  | "silu"
  | "hardswish"
  | "sigmoid"
  | "hardsigmoid"
  | "gelu_tanh";

/** Every {@link Activation}, in the order of their WGSL codes (0, 1, ...). */
export const ACTIVATIONS: readonly Activation[] = [
  "none",
  "relu",
  "gelu",
  "relu6",
  "silu",
  "hardswish",
  "sigmoid",
  "hardsigmoid",
  "gelu_tanh",
];

/**
 * The value of the WGSL override constant `ACT` that selects `a` in
 * {@link ACTIVATION_WGSL}. Throws on an unknown name (e.g. from a config file).
 */
export function activationCode(a: Activation): number {
  const code = ACTIVATIONS.indexOf(a);
  if (code < 0) {
    throw new Error(`unknown activation "${a}"; expected one of ${ACTIVATIONS.join(", ")}`);
  }
  return code;
}

/**
 * WGSL source defining `override ACT: u32`, `activate(x: f32) -> f32` and
 * `activate4(x: vec4f) -> vec4f` (with the GELU snippet it needs, see
 * {@link GELU_WGSL}). Prepend it to a kernel and pass
 * `constants: { ACT: activationCode(act) }`.
 */
export const ACTIVATION_WGSL: string = GELU_WGSL + activationWgsl;

/** erfc(z) for z >= 0 in float64: 1 - erf(z) below 2.5, a continued fraction above. */
function erfcNonneg(z: number): number {
  if (z < 2.5) return 1 - erf64(z);
  // erfc(z) = exp(-z^2) / sqrt(pi) / (z + (1/2) / (z + 1 / (z + (3/2) / (z + ...))))
  let f = z;
  for (let n = 80; n >= 1; n--) f = z + n / 2 / f;
  return Math.exp(-z * z) / (Math.sqrt(Math.PI) * f);
}

/** erf in float64: Maclaurin series below 2.5, a continued fraction of erfc above. */
export function erf64(x: number): number {
  const ax = Math.abs(x);
  let r: number;
  if (ax < 2.5) {
    // erf(x) = 2/sqrt(pi) * sum_n (-1)^n x^(2n+1) / (n! (2n+1))
    let term = ax, sum = ax;
    for (let n = 1; n < 200; n++) {
      term *= -(ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) <= 1e-17 * Math.abs(sum)) break;
    }
    r = sum * 2 / Math.sqrt(Math.PI);
  } else {
    r = 1 - erfcNonneg(ax);
  }
  return x < 0 ? -r : r;
}

function sigmoid64(x: number): number {
  const e = Math.exp(-Math.abs(x));
  return x >= 0 ? 1 / (1 + e) : e / (1 + e);
}

function relu6(x: number): number {
  return Math.min(Math.max(x, 0), 6);
}

/** sqrt(2 / pi), the scale of the tanh GELU's argument. */
const GELU_TANH_C = Math.sqrt(2 / Math.PI);

/** The tanh GELU's argument u = sqrt(2/pi) (x + 0.044715 x^3) (PyTorch's approximate="tanh"). */
function geluTanhU(x: number): number {
  return GELU_TANH_C * (x + 0.044715 * x * x * x);
}

/** `a` applied to `x` in float64 (the CPU reference of shaders/activation.wgsl). */
export function activateRef(a: Activation, x: number): number {
  switch (a) {
    case "none":
      return x;
    case "relu":
      return Math.max(x, 0);
    case "gelu":
      // x Phi(x); for x < 0 through erfc, which keeps the small tail exact.
      return x < 0 ? 0.5 * x * erfcNonneg(-x / Math.SQRT2) : 0.5 * x * (1 + erf64(x / Math.SQRT2));
    case "relu6":
      return relu6(x);
    case "silu":
      return x * sigmoid64(x);
    case "hardswish":
      return x * relu6(x + 3) / 6;
    case "sigmoid":
      return sigmoid64(x);
    case "hardsigmoid":
      return relu6(x + 3) / 6;
    case "gelu_tanh":
      return 0.5 * x * (1 + Math.tanh(geluTanhU(x)));
    default:
      throw new Error(`unknown activation "${a}"`);
  }
}

/**
 * d/dx of `a` at `x` in float64 (for closed-form gradients on the host, e.g.
 * Grad-CAM through an MLP head). At the kinks (relu at 0, relu6 at 0 and 6,
 * the hard functions at +-3) it takes PyTorch's autograd value.
 */
export function activationDerivativeRef(a: Activation, x: number): number {
  switch (a) {
    case "none":
      return 1;
    case "relu":
      return x > 0 ? 1 : 0;
    case "gelu":
      return 0.5 * (1 + erf64(x / Math.SQRT2)) +
        x * Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
    case "relu6":
      return x > 0 && x < 6 ? 1 : 0;
    case "silu": {
      const s = sigmoid64(x);
      return s * (1 + x * (1 - s));
    }
    case "hardswish":
      return x < -3 ? 0 : x > 3 ? 1 : (2 * x + 3) / 6;
    case "sigmoid": {
      const s = sigmoid64(x);
      return s * (1 - s);
    }
    case "hardsigmoid":
      return x > -3 && x < 3 ? 1 / 6 : 0;
    case "gelu_tanh": {
      const t = Math.tanh(geluTanhU(x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_TANH_C * (1 + 3 * 0.044715 * x * x);
    }
    default:
      throw new Error(`unknown activation "${a}"`);
  }
}
