// PCA building blocks on an [N, D] row-major feature matrix X.
//
//   column_mean   mean[d] = sum_n X[n,d] / N                 (one thread per column)
//   covariance    C[i,j]  = sum_n (X[n,i]-mean[i]) (X[n,j]-mean[j]) / (N - 1)
//                 64x64 output tiles, 256 threads each owning a 4x4 block; the
//                 rows are streamed through workgroup memory 16 at a time and
//                 centered as they are loaded (better conditioned than
//                 E[x x^T] - mean mean^T). C is symmetric, so only tiles on or
//                 above the diagonal are computed; the host mirrors them.
//   project       Z[n,c]  = sum_d (X[n,d]-mean[d]) V[c,d]     (one thread per (n, c))

struct Params {
  rows: u32, // N
  dims: u32, // D
  comps: u32, // number of components (project)
  tiles: u32, // ceil(D / 64) (covariance)
}

const TILE: u32 = 64u;
const STEP: u32 = 16u;

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

@group(0) @binding(0) var<uniform> cp: Params;
@group(0) @binding(1) var<storage, read> cx: array<f32>; // [N, D]
@group(0) @binding(2) var<storage, read> cmean: array<f32>; // [D]
@group(0) @binding(3) var<storage, read_write> cov: array<f32>; // [D, D]

var<workgroup> rows_i: array<array<f32, TILE>, STEP>;
var<workgroup> rows_j: array<array<f32, TILE>, STEP>;

@compute @workgroup_size(16, 16)
fn covariance(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u,
              @builtin(local_invocation_index) li: u32) {
  let ti = wid.y;
  let tj = wid.x;
  if (ti > tj) { return; } // below the diagonal: the mirror of (tj, ti)
  let i0 = ti * TILE;
  let j0 = tj * TILE;
  var acc: array<array<f32, 4>, 4>;
  for (var n0 = 0u; n0 < cp.rows; n0 += STEP) {
    // 256 threads load 16 rows x 64 columns of each side: 4 values each.
    for (var e = li; e < STEP * TILE; e += 256u) {
      let r = e / TILE;
      let c = e % TILE;
      let n = n0 + r;
      var vi = 0.0;
      var vj = 0.0;
      if (n < cp.rows) {
        if (i0 + c < cp.dims) { vi = cx[n * cp.dims + i0 + c] - cmean[i0 + c]; }
        if (j0 + c < cp.dims) { vj = cx[n * cp.dims + j0 + c] - cmean[j0 + c]; }
      }
      rows_i[r][c] = vi;
      rows_j[r][c] = vj;
    }
    workgroupBarrier();
    for (var r = 0u; r < STEP; r++) {
      var a: array<f32, 4>;
      var b: array<f32, 4>;
      for (var u = 0u; u < 4u; u++) {
        a[u] = rows_i[r][lid.y * 4u + u];
        b[u] = rows_j[r][lid.x * 4u + u];
      }
      for (var u = 0u; u < 4u; u++) {
        for (var v = 0u; v < 4u; v++) { acc[u][v] += a[u] * b[v]; }
      }
    }
    workgroupBarrier();
  }
  let scale = 1.0 / f32(max(cp.rows, 2u) - 1u);
  for (var u = 0u; u < 4u; u++) {
    let i = i0 + lid.y * 4u + u;
    for (var v = 0u; v < 4u; v++) {
      let j = j0 + lid.x * 4u + v;
      if (i < cp.dims && j < cp.dims) { cov[i * cp.dims + j] = acc[u][v] * scale; }
    }
  }
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
