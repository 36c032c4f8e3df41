// Destination of gemm_pack.wgsl: packed panels of f32 (gemm_b_buffer.wgsl).
@group(0) @binding(2) var<storage, read_write> bp: array<vec4f>;

fn store_packed(i: u32, v: vec4f) {
  bp[i] = v;
}
