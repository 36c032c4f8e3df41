// Packs B for gemm.wgsl: Bp[z][panel][k][64 columns] (as vec4s), columns past
// N are zero. B element (z, k, n) is read at z * b_batch + k * b_k + n * b_n,
// so B may be [K, N] row-major or a PyTorch [N, K] weight (b_k = 1, b_n = K).
// One packed vec4 per invocation; store_packed (binding 2) comes from
// gemm_pack_f32.wgsl or gemm_pack_f16.wgsl (the weight storage).

struct Params {
  k: u32, n: u32, panels: u32, total: u32, // total = panels * k * 16 per batch
  b_batch: u32, b_k: u32, b_n: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> b: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) { return; }
  let z = wid.z;
  let q = i % 16u;            // vec4 column within the panel
  let k = (i / 16u) % p.k;
  let panel = i / (16u * p.k);
  let n0 = panel * 64u + q * 4u;
  var v = vec4f(0.0);
  for (var j = 0u; j < 4u; j++) {
    let n = n0 + j;
    if (n < p.n) { v[j] = b[z * p.b_batch + k * p.b_k + n * p.b_n]; }
  }
  store_packed(z * p.total + i, v);
}
