// Copies conv weights [O, K] into [O, Kp] (Kp = K rounded up to 4, zeros
// after K) so the GEMM can read them as vec4 along k.

struct Params { o: u32, k: u32, kp: u32 }

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<f32>;
@group(0) @binding(2) var<storage, read_write> wp: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.o * p.kp) { return; }
  let k = i % p.kp;
  wp[i] = select(0.0, w[(i / p.kp) * p.k + min(k, p.k - 1u)], k < p.k);
}
