// The activation of every fused epilogue, chosen by the override constant
// ACT (codes: src/ops/activation.ts). Prepend this snippet, after gelu.wgsl
// (which defines gelu / gelu4), to a kernel that calls activate / activate4;
// src/ops/activation.ts exports the pair as ACTIVATION_WGSL.
//
// Definitions are PyTorch's:
//   0 none         x
//   1 relu         max(x, 0)
//   2 gelu         x * Phi(x), exact (erf) form
//   3 relu6        min(max(x, 0), 6)
//   4 silu         x * sigmoid(x)
//   5 hardswish    x * relu6(x + 3) / 6
//   6 sigmoid      1 / (1 + exp(-x))
//   7 hardsigmoid  relu6(x + 3) / 6
//   8 gelu_tanh    0.5 x (1 + tanh(u)), u = sqrt(2/pi) (x + 0.044715 x^3)
//                  (nn.GELU(approximate='tanh')), computed as x * sigmoid(2u)
// sigmoid only ever evaluates exp(-|x|) <= 1, so it never overflows: for
// x < 0 it is e / (1 + e) with e = exp(x), which keeps the tiny values of
// the far negative tail instead of rounding 1 / (1 + huge) to 0 or NaN.

override ACT: u32 = 0u;

fn sigmoid_f32(x: f32) -> f32 {
  let e = exp(-abs(x));
  let s = 1.0 / (1.0 + e);
  return select(e * s, s, x >= 0.0);
}

fn sigmoid4(x: vec4f) -> vec4f {
  let e = exp(-abs(x));
  let s = 1.0 / (1.0 + e);
  return select(e * s, s, x >= vec4f(0.0));
}

fn relu6_f32(x: f32) -> f32 {
  return min(max(x, 0.0), 6.0);
}

fn relu6_4(x: vec4f) -> vec4f {
  return min(max(x, vec4f(0.0)), vec4f(6.0));
}

// 2u of the tanh GELU: 1 + tanh(u) = 2 sigmoid(2u), and sigmoid never overflows where tanh's
// exp form would for large |x|.
fn gelu_tanh_2u(x: f32) -> f32 {
  return 1.5957691216057308 * (x + 0.044715 * x * x * x);
}

fn gelu_tanh_2u4(x: vec4f) -> vec4f {
  return 1.5957691216057308 * (x + 0.044715 * x * x * x);
}

fn activate(x: f32) -> f32 {
  switch ACT {
    case 1u: { return max(x, 0.0); }
    case 2u: { return gelu(x); }
    case 3u: { return relu6_f32(x); }
    case 4u: { return x * sigmoid_f32(x); }
    case 5u: { return x * relu6_f32(x + 3.0) / 6.0; }
    case 6u: { return sigmoid_f32(x); }
    case 7u: { return relu6_f32(x + 3.0) / 6.0; }
    case 8u: { return x * sigmoid_f32(gelu_tanh_2u(x)); }
    default: { return x; }
  }
}

fn activate4(x: vec4f) -> vec4f {
  switch ACT {
    case 1u: { return max(x, vec4f(0.0)); }
    case 2u: { return gelu4(x); }
    case 3u: { return relu6_4(x); }
    case 4u: { return x * sigmoid4(x); }
    case 5u: { return x * relu6_4(x + 3.0) / 6.0; }
    case 6u: { return sigmoid4(x); }
    case 7u: { return relu6_4(x + 3.0) / 6.0; }
    case 8u: { return x * sigmoid4(gelu_tanh_2u4(x)); }
    default: { return x; }
  }
}
