// Where conv2d_pack*.wgsl write: gemm.wgsl's packed panels in an rgba32float
// texture array, layer = panel, texel (column4, k) (see gemm_b_texture.wgsl).
@group(0) @binding(2) var bt: texture_storage_2d_array<rgba32float, write>;

fn store_panel(panel: u32, k: u32, column4: u32, v: vec4f) {
  textureStore(bt, vec2u(column4, k), panel, v);
}
