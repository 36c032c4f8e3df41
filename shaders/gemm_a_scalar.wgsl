// A operand of gemm.wgsl read one float at a time (any row stride and K).
@group(0) @binding(5) var<storage, read> a1: array<f32>;

fn load_a4(row: u32, kq: u32) -> vec4f {
  let i = row + kq * 4u;
  return vec4f(a1[i], a1[i + 1u], a1[i + 2u], a1[i + 3u]);
}

fn load_a1(row: u32, k: u32) -> f32 {
  return a1[row + k];
}
