// Squeeze-and-excitation's excite step on channels-last maps x [B, T, C]
// (T = H * W) with per-image channel weights s [B, C]:
//   y[b, t, c] = x[b, t, c] * s[b, c]
// An invocation per 4 consecutive elements when C % 4 == 0 (VEC4 = 1: the
// four share the image and are channels c..c+3), else per element.
// The grid may be split over x and y (see src/gpu/kernel.ts splitGrid).

struct Params {
  n: u32,    // invocations: B * T * C / 4 (VEC4) or B * T * C
  c: u32,    // channels
  tc: u32,   // T * C: elements per image
}

override WG: u32 = 256u;
override VEC4: u32 = 0u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> s: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) { return; }
  if (VEC4 == 1u) {
    let e = i * 4u;
    let b = e / p.tc;
    let si = b * p.c + e % p.c;
    y[e] = x[e] * s[si];
    y[e + 1u] = x[e + 1u] * s[si + 1u];
    y[e + 2u] = x[e + 2u] * s[si + 2u];
    y[e + 3u] = x[e + 3u] * s[si + 3u];
  } else {
    y[i] = x[i] * s[(i / p.tc) * p.c + i % p.c];
  }
}
