// Where conv2d_pack*.wgsl write: gemm.wgsl's packed panels in a storage
// buffer, Bp[panel][k][16 vec4].
@group(0) @binding(2) var<storage, read_write> bp: array<vec4f>;

fn store_panel(panel: u32, k: u32, column4: u32, v: vec4f) {
  bp[(panel * p.k + k) * 16u + column4] = v;
}
