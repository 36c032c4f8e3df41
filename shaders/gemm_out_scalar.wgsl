// Epilogue of both GEMM kernels for any N and C layout, one float at a
// time: alpha, bias, residual, activation.
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> res: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;

// C[z, m, n] from the accumulated product; the caller keeps (m, n) inside C
// (and, on software adapters, loads `acc` only there: see gemm_store_scalar).
fn store1_inside(z: u32, m: u32, n: u32, acc: f32) {
  let idx = c_index(z, m, n);
  var y = p.alpha * acc;
  if (HAS_BIAS) { y += bias[p.bias_off + select(n, m, BIAS_PER_ROW)]; }
  if (HAS_RES) { y += res[idx]; }
  c[idx] = activate(y);
}

// C[z, m, n] from the accumulated product; nothing outside C.
fn store1(z: u32, m: u32, n: u32, acc: f32) {
  if (m < p.m && n < p.n) { store1_inside(z, m, n, acc); }
}

// C[z, m, n .. n + 3], each element stored where it is inside C.
fn store4(z: u32, m: u32, n: u32, acc: vec4f) {
  for (var j = 0u; j < 4u; j++) { store1(z, m, n + j, acc[j]); }
}
