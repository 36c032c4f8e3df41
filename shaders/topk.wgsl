// Row-wise top-k with softmax probabilities: for each row r of x [rows, cols],
// idx[r, j] / prob[r, j] (j < k) are the j-th largest entries (ties: the lower
// column first) and their softmax(x / T) probabilities.
// One workgroup per row: each invocation scans a strided slice keeping its own
// sorted top-k and an online (max, sum-exp) pair; invocation 0 merges them.

struct Params {
  rows: u32,
  cols: u32,
  k: u32,
  inv_temperature: f32,
}

const KMAX: u32 = 10u;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> prob: array<f32>;

var<workgroup> part_max: array<f32, WG>;
var<workgroup> part_sum: array<f32, WG>;
var<workgroup> part_val: array<f32, WG * KMAX>;
var<workgroup> part_idx: array<u32, WG * KMAX>;
var<workgroup> heads: array<u32, WG>; // merge cursor per invocation list (used by invocation 0)

// a ranks before b: larger value, or equal value and lower index.
fn before(va: f32, ia: u32, vb: f32, ib: u32) -> bool {
  return va > vb || (va == vb && ia < ib);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; } // uniform per workgroup: no barrier divergence
  let base = row * p.cols;
  let neg_inf = -3.4e38;

  var vals: array<f32, KMAX>;
  var ids: array<u32, KMAX>;
  for (var j = 0u; j < KMAX; j++) { vals[j] = neg_inf; ids[j] = 0xffffffffu; }
  var m = neg_inf;
  var s = 0.0;
  for (var c = lid; c < p.cols; c += WG) {
    let v = x[base + c] * p.inv_temperature;
    if (v > m) { s = s * exp(m - v) + 1.0; m = v; } else { s += exp(v - m); }
    if (before(v, c, vals[p.k - 1u], ids[p.k - 1u])) {
      // insertion into the sorted local list
      var j = p.k - 1u;
      while (j > 0u && before(v, c, vals[j - 1u], ids[j - 1u])) {
        vals[j] = vals[j - 1u];
        ids[j] = ids[j - 1u];
        j--;
      }
      vals[j] = v;
      ids[j] = c;
    }
  }
  part_max[lid] = m;
  part_sum[lid] = s;
  for (var j = 0u; j < KMAX; j++) {
    part_val[lid * KMAX + j] = vals[j];
    part_idx[lid * KMAX + j] = ids[j];
  }
  workgroupBarrier();
  if (lid != 0u) { return; }

  var gm = neg_inf;
  for (var t = 0u; t < WG; t++) { gm = max(gm, part_max[t]); }
  var gs = 0.0;
  for (var t = 0u; t < WG; t++) {
    if (part_sum[t] > 0.0) { gs += part_sum[t] * exp(part_max[t] - gm); }
  }
  // k-way selection over the per-invocation sorted lists (heads advance).
  for (var t = 0u; t < WG; t++) { heads[t] = 0u; }
  for (var j = 0u; j < p.k; j++) {
    var best_t = 0u;
    var bv = neg_inf;
    var bi = 0xffffffffu;
    for (var t = 0u; t < WG; t++) {
      if (heads[t] >= p.k) { continue; }
      let v = part_val[t * KMAX + heads[t]];
      let i = part_idx[t * KMAX + heads[t]];
      if (i != 0xffffffffu && before(v, i, bv, bi)) { bv = v; bi = i; best_t = t; }
    }
    heads[best_t] += 1u;
    idx[row * p.k + j] = bi;
    prob[row * p.k + j] = select(0.0, exp(bv - gm) / gs, bi != 0xffffffffu);
  }
}
