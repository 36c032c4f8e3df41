// Target of random_fill_texture.wgsl: a 2-D array rgba32float texture.
@group(0) @binding(1) var target_texture: texture_storage_2d_array<rgba32float, write>;

fn store_texel(x: u32, y: u32, layer: u32, v: vec4f) {
  textureStore(target_texture, vec2u(x, y), layer, v);
}
