// Conv weights [O, K] (K = C/groups x kh x kw, row-major OIHW) into the A
// texture of gemm.wgsl: texel (kq, o) = w[o, 4 kq .. 4 kq + 3], zeros past K.

struct Params { o: u32, k: u32, k4: u32 } // k4 = ceil(K / 4) texels per row

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var at: texture_storage_2d<rgba32float, write>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.o * p.k4) { return; }
  let o = i / p.k4;
  let kq = i % p.k4;
  var v = vec4f(0.0);
  for (var j = 0u; j < 4u; j++) {
    let k = kq * 4u + j;
    if (k < p.k) { v[j] = w[o * p.k + k]; }
  }
  textureStore(at, vec2u(kq, o), v);
}
