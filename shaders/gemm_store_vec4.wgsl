// Output stage of gemm.wgsl when every vec4 of C is either fully inside or
// fully outside the matrix and one column group (N, col_group, the C offsets
// and strides multiples of 4):
// plain vec4 stores, no workgroup memory, no barrier.
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

fn store4(z: u32, m: u32, n: u32, acc: vec4f) {
  if (m < p.m && n < p.n) {
    let i = c_index(z, m, n) / 4u;
    var y = p.alpha * acc + bias4(m, n);
    if (HAS_RES) { y += res[i]; }
    c[i] = activate4(y);
  }
}

// Row m of the lane's tile: columns n0 .. n0 + 3 and n0 + 32 .. n0 + 35.
fn store_row(z: u32, m: u32, n0: u32, v0: vec4f, v1: vec4f) {
  store4(z, m, n0, v0);
  store4(z, m, n0 + LANES * 4u, v1);
}

fn finish_tile(z: u32, m0: u32, panel: u32, lane: u32) {}
