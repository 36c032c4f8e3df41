// Numerically stable softmax over each row of a [rows, C] matrix, with a
// temperature: y_j = exp((x_j - max(x)) / T) / sum_k exp((x_k - max(x)) / T).
// Subtracting the row maximum keeps every exponent <= 0, so nothing overflows.
// One workgroup per row; the grid may be split over x and y.

struct Params {
  rows: u32,
  C: u32,
  invTemperature: f32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

// workgroupMax / workgroupSum: shaders/workgroup_reduce.wgsl (prepended by the op).

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.C;

  var m = -3.4028235e38;
  for (var j = lid; j < p.C; j = j + WG) { m = max(m, x[base + j]); }
  let rowMax = workgroupMax(m, lid);

  var s = 0.0;
  for (var j = lid; j < p.C; j = j + WG) {
    s = s + exp((x[base + j] - rowMax) * p.invTemperature);
  }
  let invSum = 1.0 / workgroupSum(s, lid);

  for (var j = lid; j < p.C; j = j + WG) {
    y[base + j] = exp((x[base + j] - rowMax) * p.invTemperature) * invSum;
  }
}
