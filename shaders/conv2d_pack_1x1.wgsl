// conv2d_pack.wgsl for pointwise convolutions (1x1 kernel, stride 1, no
// padding, H * W a multiple of 4): a patch is one input pixel, so a packed
// panel row is a vec4 copy of the channel's planes:
//   Bp[panel][k][64 columns] = x[image, c_off + k, pixel],
//   column = image * H * W + pixel = col0 + 64 panel + j, zero from col_end on.
// Written through store_panel (see conv2d_pack.wgsl).
// `main` (software path): one invocation copies one panel row (16 vec4s);
// the divisions that locate it happen once per row. `per_texel` (GPU path):
// one vec4 per invocation, below.

struct Params {
  c: u32, hw4: u32, k: u32, rows: u32, // hw4 = H * W / 4; rows = panels * k
  c_off: u32, col0: u32, col_end: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = (wid.x + wid.y * nwg.x) * WG + lid; // panel row: panel * k + k
  if (r >= p.rows) { return; }
  let k = r % p.k;
  let panel = r / p.k;
  var col4 = p.col0 / 4u + panel * 16u; // vec4 of columns
  var img = col4 / p.hw4;
  var q = col4 - img * p.hw4; // vec4 of pixels within the image
  for (var j = 0u; j < 16u; j++) {
    var v = vec4f(0.0);
    if (col4 < p.col_end / 4u) { v = x[(img * p.c + p.c_off + k) * p.hw4 + q]; }
    store_panel(panel, k, j, v);
    col4 += 1u;
    q += 1u;
    if (q == p.hw4) { q = 0u; img += 1u; }
  }
}

// The GPU path's entry: one invocation per texel, so neighbouring
// invocations copy neighbouring vec4s (coalesced). Dispatched over
// rows x 16 invocations.
@compute @workgroup_size(WG)
fn per_texel(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  let r = t / 16u; // panel row
  let j = t % 16u; // texel within it
  if (r >= p.rows) { return; }
  let k = r % p.k;
  let panel = r / p.k;
  let col4 = p.col0 / 4u + panel * 16u + j;
  var v = vec4f(0.0);
  if (col4 < p.col_end / 4u) {
    let img = col4 / p.hw4;
    v = x[(img * p.c + p.c_off + k) * p.hw4 + (col4 - img * p.hw4)];
  }
  store_panel(panel, k, j, v);
}
