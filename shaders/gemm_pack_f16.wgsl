enable f16;
// Destination of gemm_pack.wgsl: packed panels of f16 (gemm_b_f16.wgsl).
// The conversion rounds to a neighbouring f16 (WGSL leaves which one to the
// implementation); gemm.ts puts this snippet first for the `enable`.
@group(0) @binding(2) var<storage, read_write> bp: array<vec4<f16>>;

fn store_packed(i: u32, v: vec4f) {
  bp[i] = vec4<f16>(v);
}
