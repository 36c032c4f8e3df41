// PCA building blocks on an [N, D] row-major feature matrix X.
//
//   column_mean   mean[d] = sum_n X[n,d] / N                 (one thread per column)
//   center_transpose  Xt[d,n] = X[row0+n, d] - mean[d] for a chunk of rows, so that
//                 the covariance X_c^T X_c / (N-1) is one GEMM per chunk
//                 (ops/gemm.ts, Xt Xt^T), centered before the products (better
//                 conditioned than E[x x^T] - mean mean^T)
//   project       Z[n,c]  = sum_d (X[n,d]-mean[d]) V[c,d]     (one thread per (n, c))

struct Params {
  rows: u32, // N (center_transpose: rows in this chunk)
  dims: u32, // D
  comps: u32, // number of components (project)
  row0: u32, // first row of the chunk (center_transpose)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>; // [N, D]
@group(0) @binding(2) var<storage, read_write> mean_out: array<f32>; // [D]

@compute @workgroup_size(64)
fn column_mean(@builtin(global_invocation_id) gid: vec3u) {
  let d = gid.x;
  if (d >= p.dims) { return; }
  var s = 0.0;
  for (var n = 0u; n < p.rows; n++) { s += x[n * p.dims + d]; }
  mean_out[d] = s / f32(p.rows);
}

@group(0) @binding(0) var<uniform> pp: Params;
@group(0) @binding(1) var<storage, read> px: array<f32>; // [N, D]
@group(0) @binding(2) var<storage, read> pmean: array<f32>; // [D]
@group(0) @binding(3) var<storage, read> components: array<f32>; // [comps, D]
@group(0) @binding(4) var<storage, read_write> z: array<f32>; // [N, comps]

@compute @workgroup_size(64)
fn project(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) li: u32) {
  let idx = (wid.x + wid.y * nwg.x) * 64u + li;
  if (idx >= pp.rows * pp.comps) { return; }
  let n = idx / pp.comps;
  let c = idx % pp.comps;
  var s = 0.0;
  for (var d = 0u; d < pp.dims; d++) {
    s += (px[n * pp.dims + d] - pmean[d]) * components[c * pp.dims + d];
  }
  z[idx] = s;
}

@group(0) @binding(0) var<uniform> tp: Params;
@group(0) @binding(1) var<storage, read> tx: array<f32>; // [N, D]
@group(0) @binding(2) var<storage, read> tmean: array<f32>; // [D]
@group(0) @binding(3) var<storage, read_write> xt: array<f32>; // [D, N]

var<workgroup> tile: array<array<f32, 17>, 16>; // padded against bank conflicts

// 16x16 tiles: read rows of X coalesced, write rows of Xt coalesced.
@compute @workgroup_size(16, 16)
fn center_transpose(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let n0 = wid.y * 16u;
  let d0 = wid.x * 16u;
  let n = n0 + lid.y;
  let d = d0 + lid.x;
  if (n < tp.rows && d < tp.dims) { tile[lid.y][lid.x] = tx[(tp.row0 + n) * tp.dims + d] - tmean[d]; }
  workgroupBarrier();
  let on = n0 + lid.x;
  let od = d0 + lid.y;
  if (on < tp.rows && od < tp.dims) { xt[od * tp.rows + on] = tile[lid.x][lid.y]; }
}
