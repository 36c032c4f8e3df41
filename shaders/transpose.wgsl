// Axis permutation of a tensor of up to 4 dimensions (padded with leading
// 1s): out[o0, o1, o2, o3] = x[i] where i = sum_d o_d * in_stride[perm[d]].
// One output element per invocation.

struct Params {
  n: u32,
  d1: u32, d2: u32, d3: u32,     // output dims 1..3 (dim 0 is implied by n)
  s0: u32, s1: u32, s2: u32, s3: u32, // input strides of the output axes
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) { return; }
  let o3 = i % p.d3;
  let r = i / p.d3;
  let o2 = r % p.d2;
  let r2 = r / p.d2;
  let o1 = r2 % p.d1;
  let o0 = r2 / p.d1;
  y[i] = x[o0 * p.s0 + o1 * p.s1 + o2 * p.s2 + o3 * p.s3];
}
