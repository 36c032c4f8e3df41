// Output stage of gemm.wgsl where gemm_out_vec4.wgsl applies: plain vec4
// stores, no workgroup memory, no barrier.

// Row m of the lane's tile: columns n0 .. n0 + 3 and n0 + 32 .. n0 + 35.
fn store_row(z: u32, m: u32, n0: u32, v0: vec4f, v1: vec4f) {
  store4(z, m, n0, v0);
  store4(z, m, n0 + LANES * 4u, v1);
}

fn finish_tile(z: u32, m0: u32, panel: u32, lane: u32) {}
