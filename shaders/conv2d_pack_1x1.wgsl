// conv2d_pack.wgsl for pointwise convolutions (1x1 kernel, stride 1, no
// padding) with H * W a multiple of 4: a patch is one input pixel, so the
// packed panel row of channel k is a plain vec4 copy of its plane:
//   Bp[z][panel][k][64 pixels] = x[img0 + z, c_off + k, pixels].

struct Params {
  c: u32, hw4: u32, k: u32, total: u32, // hw4 = H * W / 4
  c_off: u32, img0: u32,
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
  let z = wid.z;
  let k = (i / 16u) % p.k;
  let q = (i / (16u * p.k)) * 16u + i % 16u; // vec4 of pixels within the plane
  var v = vec4f(0.0);
  if (q < p.hw4) { v = x[((p.img0 + z) * p.c + p.c_off + k) * p.hw4 + q]; }
  bp[z * p.total + i] = v;
}
