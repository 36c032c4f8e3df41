// Output stage of gemm.wgsl for any N (with gemm_out_scalar.wgsl): the tile
// goes through workgroup memory so that the per-element bias / residual /
// activation code is a loop with a run-time trip count (unrolled over a
// lane's 64 outputs it took llvmpipe seconds to compile), and lanes store
// consecutive columns. Costs one barrier per workgroup (about 10% on
// llvmpipe: only used where gemm_store_vec4 cannot be).

var<workgroup> tile: array<vec4f, RM * PANEL4>; // the workgroup's outputs

fn store_row(z: u32, m: u32, n0: u32, v0: vec4f, v1: vec4f) {
  let lane = (n0 / 4u) % LANES;
  tile[(m % RM) * PANEL4 + lane] = v0;
  tile[(m % RM) * PANEL4 + LANES + lane] = v1;
}

fn finish_tile(z: u32, m0: u32, panel: u32, lane: u32) {
  workgroupBarrier();
  let rows = min(RM, p.m - m0);
  let col0 = panel * PANEL4 * 4u;
  for (var t = lane; t < rows * PANEL4 * 4u; t += LANES) {
    let q = t % (PANEL4 * 4u);
    let n = col0 + q;
    // The tile is read inside the branch: on llvmpipe, calling store1 with
    // the read outside (and its extra row check) made ResNet-50's 7x7
    // stage-4 convolutions 1.5x slower (bench/RESULTS.md, kernel paths).
    if (n < p.n) { store1_inside(z, m0 + t / (PANEL4 * 4u), n, tile[t / 4u][q % 4u]); }
  }
}
