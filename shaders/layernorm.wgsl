// LayerNorm over the last dimension: for every row x of length D,
//   y = (x - mean(x)) / sqrt(var(x) + eps) * weight + bias
// with the biased variance (divide by D), as PyTorch computes it.
// Two entry points, same arithmetic (two passes over the row keep the
// variance exact for rows with a large mean):
// - `main`: one workgroup per row, the sums are tree reductions in
//   workgroup memory (GPUs: coalesced reads, many threads per row);
// - `per_invocation`: one invocation per row, plain loops. On CPU adapters
//   (lavapipe runs invocations as SIMD lanes and every barrier is a
//   context switch) this is about 4x faster for ViT widths.
// The grid may be split over x and y (src/gpu/kernel.ts splitGrid).

struct Params {
  rows: u32,
  D: u32,
  eps: f32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

// workgroupMax / workgroupSum: shaders/workgroup_reduce.wgsl (prepended by the op).

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.D;
  let n = f32(p.D);

  var s = 0.0;
  for (var i = lid; i < p.D; i = i + WG) { s = s + x[base + i]; }
  let mean = workgroupSum(s, lid) / n;

  var s2 = 0.0;
  for (var i = lid; i < p.D; i = i + WG) {
    let c = x[base + i] - mean;
    s2 = s2 + c * c;
  }
  let rstd = inverseSqrt(workgroupSum(s2, lid) / n + p.eps);

  for (var i = lid; i < p.D; i = i + WG) {
    y[base + i] = (x[base + i] - mean) * rstd * weight[i] + bias[i];
  }
}

@compute @workgroup_size(WG)
fn per_invocation(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                  @builtin(local_invocation_index) lid: u32) {
  let row = (wid.x + wid.y * nwg.x) * WG + lid;
  if (row >= p.rows) { return; }
  let base = row * p.D;
  let n = f32(p.D);
  // Sum relative to the first element: a serial float32 sum of values with a
  // large common offset would lose the digits the variance needs.
  let shift = x[base];
  var s = 0.0;
  for (var i = 0u; i < p.D; i++) { s += x[base + i] - shift; }
  let mean = shift + s / n;
  var s2 = 0.0;
  for (var i = 0u; i < p.D; i++) {
    let c = x[base + i] - mean;
    s2 += c * c;
  }
  let rstd = inverseSqrt(s2 / n + p.eps);
  for (var i = 0u; i < p.D; i++) {
    y[base + i] = (x[base + i] - mean) * rstd * weight[i] + bias[i];
  }
}
