// Epilogue of both GEMM kernels when every vec4 of C is either fully inside
// or fully outside the matrix and one column group (N, col_group, the C
// offsets and strides multiples of 4): alpha, bias, residual, activation and
// a plain vec4 store.
@group(0) @binding(2) var<storage, read> bias: array<vec4f>;
@group(0) @binding(3) var<storage, read> res: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> c: array<vec4f>;

fn bias4(m: u32, n: u32) -> vec4f {
  if (!HAS_BIAS) { return vec4f(0.0); }
  if (BIAS_PER_ROW) {
    let i = p.bias_off + m;
    return vec4f(bias[i / 4u][i % 4u]);
  }
  return bias[(p.bias_off + n) / 4u];
}

// C[z, m, n .. n + 3] from the accumulated products; nothing outside C.
fn store4(z: u32, m: u32, n: u32, acc: vec4f) {
  if (m < p.m && n < p.n) {
    let i = c_index(z, m, n) / 4u;
    var y = p.alpha * acc + bias4(m, n);
    if (HAS_RES) { y += res[i]; }
    c[i] = activate4(y);
  }
}
