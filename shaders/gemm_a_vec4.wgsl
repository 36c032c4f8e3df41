// A operand of gemm.wgsl read as vec4 along k (row stride and K multiples of 4).
@group(0) @binding(5) var<storage, read> a4: array<vec4f>;

fn load_a4(row: u32, kq: u32) -> vec4f {
  return a4[row / 4u + kq];
}

fn load_a1(row: u32, k: u32) -> f32 {
  return a4[(row + k) / 4u][(row + k) % 4u];
}
