// Top-k classes of each row of [rows, C] logits (or probabilities), k <= 10,
// with their softmax probabilities at temperature T. Order: value
// descending, ties towards the lower class index (the same rule as argmax).
// One workgroup per row (grid may be split over x and y). Round r picks the
// best element strictly after the previous pick in that order, so no
// "already taken" list is needed and ties are handled exactly.

struct Params {
  rows: u32,
  C: u32,
  k: u32,
  invT: f32,
  isLogits: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> indices: array<i32>;
@group(0) @binding(3) var<storage, read_write> values: array<f32>;

var<workgroup> bestV: array<f32, WG>;
var<workgroup> bestI: array<u32, WG>;
var<workgroup> total: array<f32, WG>;

const NONE: u32 = 0xffffffffu;

// True if (va, ia) comes before (vb, ib): larger value, then lower index.
fn before(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  if (ia == NONE) { return false; }
  if (ib == NONE) { return true; }
  return va > vb || (va == vb && ia < ib);
}

// Workgroup-wide first element (in the order above) among the candidates.
fn reduceBest(v: f32, i: u32, lid: u32) {
  bestV[lid] = v;
  bestI[lid] = i;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s && before(bestV[lid + s], bestI[lid + s], bestV[lid], bestI[lid])) {
      bestV[lid] = bestV[lid + s];
      bestI[lid] = bestI[lid + s];
    }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let base = row * p.C;

  var prevV = 0.0;
  var prevI = NONE;
  var m = 0.0;
  var denom = 1.0;
  for (var r = 0u; r < p.k; r = r + 1u) {
    var v = 0.0;
    var i = NONE;
    for (var c = lid; c < p.C; c = c + WG) {
      let xc = x[base + c];
      let after = prevI == NONE || xc < prevV || (xc == prevV && c > prevI);
      if (after && before(xc, c, v, i)) { v = xc; i = c; }
    }
    reduceBest(v, i, lid);
    prevV = bestV[0];
    prevI = bestI[0];
    workgroupBarrier();
    if (r == 0u && p.isLogits == 1u) {
      // The first pick is the row maximum: now the softmax denominator.
      m = prevV;
      var part = 0.0;
      for (var c = lid; c < p.C; c = c + WG) { part = part + exp((x[base + c] - m) * p.invT); }
      total[lid] = part;
      workgroupBarrier();
      for (var s = WG / 2u; s > 0u; s = s / 2u) {
        if (lid < s) { total[lid] = total[lid] + total[lid + s]; }
        workgroupBarrier();
      }
      denom = total[0];
      workgroupBarrier();
    }
    if (lid == 0u) {
      var prob = prevV;
      if (p.isLogits == 1u) { prob = exp((prevV - m) * p.invT) / denom; }
      indices[row * p.k + r] = i32(prevI);
      values[row * p.k + r] = prob;
    }
  }
}
