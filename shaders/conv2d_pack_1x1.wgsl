// conv2d_pack.wgsl for pointwise convolutions (1x1 kernel, stride 1, no
// padding, H * W a multiple of 4): a patch is one input pixel, so a packed
// panel row is a vec4 copy of the channel's planes:
//   Bp[panel][k][64 columns] = x[img0 + image, c_off + k, pixel],
//   column = image * H * W + pixel. One vec4 per invocation.

struct Params {
  c: u32, hw4: u32, k: u32, total: u32, // hw4 = H * W / 4; total = panels * k * 16
  c_off: u32, img0: u32, count: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> bp: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) { return; }
  let k = (i / 16u) % p.k;
  let col4 = (i / (16u * p.k)) * 16u + i % 16u; // vec4 of columns
  let img = col4 / p.hw4;
  var v = vec4f(0.0);
  if (img < p.count) {
    v = x[((p.img0 + img) * p.c + p.c_off + k) * p.hw4 + col4 - img * p.hw4];
  }
  bp[i] = v;
}
