// Global Response Normalization (ConvNeXt V2) on channels-last tokens x [B, T, C]:
//   G[b, c] = sqrt(sum_t x[b, t, c]^2)            (entry `norms`, one invocation per (b, c))
//   M[b]    = mean_c G[b, c]                      (entry `means`, one invocation per b)
//   y[b, t, c] = gamma[c] * x * G[b, c] / (M[b] + eps) + beta[c] + x   (entry `apply`)
// Sums run in f32 in token order; the grid may be split over x and y (src/gpu/kernel.ts).

struct Params {
  batch: u32,
  tokens: u32,
  channels: u32,
  eps: f32,
}

override WG: u32 = 64u;

// Each entry declares its own bindings (numbered from 1, as src/ops/grn.ts binds them).
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> nx: array<f32>;               // x [B, T, C]
@group(0) @binding(2) var<storage, read_write> ng: array<f32>;         // G [B, C]

@group(0) @binding(1) var<storage, read_write> mg: array<f32>;         // G [B, C], then M [B]

@group(0) @binding(1) var<storage, read> ax: array<f32>;               // x
@group(0) @binding(2) var<storage, read> gamma: array<f32>;            // [C]
@group(0) @binding(3) var<storage, read> beta: array<f32>;             // [C]
@group(0) @binding(4) var<storage, read> ag: array<f32>;               // G then M
@group(0) @binding(5) var<storage, read_write> y: array<f32>;          // [B, T, C]

fn flat(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn norms(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= p.batch * p.channels) { return; }
  let b = i / p.channels;
  let c = i - b * p.channels;
  var s = 0.0;
  var at = b * p.tokens * p.channels + c;
  for (var t = 0u; t < p.tokens; t++) {
    let v = nx[at];
    s += v * v;
    at += p.channels;
  }
  ng[i] = sqrt(s);
}

@compute @workgroup_size(WG)
fn means(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) lid: u32) {
  let b = flat(wid, nwg, lid);
  if (b >= p.batch) { return; }
  var s = 0.0;
  for (var c = 0u; c < p.channels; c++) { s += mg[b * p.channels + c]; }
  mg[p.batch * p.channels + b] = s / f32(p.channels);
}

@compute @workgroup_size(WG)
fn apply(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) lid: u32) {
  let i = flat(wid, nwg, lid);
  if (i >= p.batch * p.tokens * p.channels) { return; }
  let c = i % p.channels;
  let b = i / (p.tokens * p.channels);
  let n = ag[b * p.channels + c] / (ag[p.batch * p.channels + b] + p.eps);
  let v = ax[i];
  y[i] = gamma[c] * (v * n) + beta[c] + v;
}
