// Packed B operand of gemm.wgsl in a storage buffer: Bp[z][panel][k][16 vec4].
// A cursor is the vec4 index of a panel's k-row.
@group(0) @binding(1) var<storage, read> bp: array<vec4f>;

const B_KSTEP = PANEL4; // cursor step from one k-row to the next

fn b_cursor(z: u32, panel: u32) -> u32 {
  return z * p.bp_batch + panel * p.k * PANEL4;
}

fn load_b(cursor: u32, column4: u32) -> vec4f {
  return bp[cursor + column4];
}
