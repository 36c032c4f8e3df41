// Exact (erf-based) GELU for WGSL, which has no erf builtin. Prepend this
// snippet to a shader that calls gelu(x) (src/ops/gelu.ts exports it).
//
// erfc(z) for z >= 0 uses Abramowitz & Stegun 7.1.26:
//   erfc(z) ~= t * (a1 + t * (a2 + t * (a3 + t * (a4 + t * a5)))) * exp(-z * z),
//   t = 1 / (1 + p z), |error| <= 1.5e-7.
// gelu(x) = x * Phi(x) = 0.5 x erfc(-x / sqrt 2): for x < 0 we evaluate the
// small tail 0.5 x erfc(|x| / sqrt 2) directly (no cancellation), for x >= 0
// we use 0.5 x (2 - erfc(x / sqrt 2)).

fn erfc_nonneg(z: f32) -> f32 {
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 +
    t * (-1.453152027 + t * 1.061405429))));
  return poly * exp(-z * z);
}

fn erf_f32(x: f32) -> f32 {
  let e = 1.0 - erfc_nonneg(abs(x));
  return select(-e, e, x >= 0.0);
}

fn gelu(x: f32) -> f32 {
  let tail = erfc_nonneg(abs(x) * 0.70710678118654752);
  return select(0.5 * x * tail, x - 0.5 * x * tail, x >= 0.0);
}

fn gelu4(v: vec4f) -> vec4f {
  return vec4f(gelu(v.x), gelu(v.y), gelu(v.z), gelu(v.w));
}
