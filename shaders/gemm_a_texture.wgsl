// A operand of gemm.wgsl in an rgba32float texture: row m is texture row m,
// texel kq holds k = 4 kq .. 4 kq + 3 (K padded with zeros to a multiple of
// 4). gemm.ts passes the row stride as 1 and the offsets in rows, so
// a_row_offset() yields a texture row.
@group(0) @binding(5) var at: texture_2d<f32>;

fn load_a4(row: u32, kq: u32) -> vec4f {
  return textureLoad(at, vec2u(kq, row), 0);
}

fn load_a1(row: u32, k: u32) -> f32 {
  return textureLoad(at, vec2u(k / 4u, row), 0)[k % 4u];
}
