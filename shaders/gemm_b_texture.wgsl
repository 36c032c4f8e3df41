// Packed B operand of gemm.wgsl in an rgba32float texture array: layer
// z * panels + panel, texel (column4, k). A cursor is the k-row; the layer
// is the same for the whole invocation.
@group(0) @binding(1) var bt: texture_2d_array<f32>;

const B_KSTEP = 1u;

var<private> b_layer: u32;

fn b_cursor(z: u32, panel: u32) -> u32 {
  b_layer = z * p.panels + panel;
  return 0u;
}

fn load_b(cursor: u32, column4: u32) -> vec4f {
  return textureLoad(bt, vec2u(column4, cursor), b_layer, 0);
}
