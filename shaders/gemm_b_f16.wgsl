enable f16;
// Packed B operand of gemm.wgsl / gemm_tiled.wgsl stored as f16 (linear
// weights with `--weights f16`): the layout of gemm_b_buffer.wgsl,
// Bp[z][panel][k][16 vec4<f16>], in half the bytes. Each value is widened to
// f32 on load, so products and sums stay f32. The `enable` directive must
// open the module: gemm.ts puts the B snippet first.
@group(0) @binding(1) var<storage, read> bp: array<vec4<f16>>;

const B_KSTEP = PANEL4; // cursor step from one k-row to the next

fn b_cursor(z: u32, panel: u32) -> u32 {
  return z * p.bp_batch + panel * p.k * PANEL4;
}

fn load_b(cursor: u32, column4: u32) -> vec4f {
  return vec4f(bp[cursor + column4]);
}
