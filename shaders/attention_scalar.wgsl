// Fused multi-head self-attention, scalar form for head sizes that are not a
// multiple of 4 (shaders/attention.wgsl is the vec4 form used otherwise; the
// two compute the same thing in the same order). One head of one image per
// workgroup row block:   O = softmax(Q K^T / sqrt(d)) V
// Q, K and V are read straight from the fused projection qkv [B, T, 3 * D]
// (token t: q = qkv[t, h*d ..], k = qkv[t, D + h*d ..], v = qkv[t, 2D + h*d ..]),
// and O is written with heads merged back into [B, T, D], ready for the
// output projection. The T x T score matrix is never stored: every invocation
// owns one query row and streams the keys and values in tiles through
// workgroup memory, keeping a running maximum m, a running sum l of
// exp(s - m) and an accumulator of exp(s - m) * v (the "online softmax"):
// when a tile raises the maximum, the old sum and accumulator are rescaled
// by exp(m_old - m_new), so every exponent stays <= 0.
//
// HEAD_DIM (d) and KEYS_PER_TILE are substituted by src/ops/attention.ts
// before compilation, because per-invocation arrays need constant sizes.
// The entry point `main_stats` also writes each row's final (m, l), from
// which shaders/attention_probs.wgsl rebuilds the probabilities for
// attention rollout; `main` does not, so it pays nothing for that option.

const HEAD_DIM: u32 = __HEAD_DIM__u;
const KEYS_PER_TILE: u32 = __KEYS_PER_TILE__u;

struct Params {
  T: u32,        // tokens
  H: u32,        // heads
  D: u32,        // model width = H * HEAD_DIM
  qTiles: u32,   // ceil(T / WG)
  blocks: u32,   // B * H * qTiles workgroups
  scale: f32,    // 1 / sqrt(HEAD_DIM)
  biasGroups: u32, // 0: no bias; else image b adds bias[b % biasGroups] [H, T, T] to its scores
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;  // [G, H, T, T] (a dummy when G = 0)
@group(0) @binding(4) var<storage, read_write> stats: array<vec2f>;  // [B, H, T] (m, l)

var<workgroup> kTile: array<f32, KEYS_PER_TILE * HEAD_DIM>;
var<workgroup> vTile: array<f32, KEYS_PER_TILE * HEAD_DIM>;

struct RowStats {
  valid: bool,
  index: u32,    // (b * H + h) * T + i
  m: f32,
  l: f32,
}

fn attendRows(wid: vec3u, nwg: vec3u, lid: u32) -> RowStats {
  var result = RowStats(false, 0u, 0.0, 0.0);
  let block = wid.x + wid.y * nwg.x;
  if (block >= p.blocks) { return result; }
  let qt = block % p.qTiles;
  let bh = block / p.qTiles;
  let h = bh % p.H;
  let b = bh / p.H;
  let i = qt * WG + lid;
  let valid = i < p.T;
  let rowStride = 3u * p.D;
  let imageBase = b * p.T * rowStride;

  // This invocation's query, pre-multiplied by 1/sqrt(d).
  var q: array<f32, HEAD_DIM>;
  if (valid) {
    let qBase = imageBase + i * rowStride + h * HEAD_DIM;
    for (var c = 0u; c < HEAD_DIM; c++) { q[c] = qkv[qBase + c] * p.scale; }
  }

  var m = -3.4028235e38;
  var l = 0.0;
  var acc: array<f32, HEAD_DIM>;
  for (var c = 0u; c < HEAD_DIM; c++) { acc[c] = 0.0; }

  for (var k0 = 0u; k0 < p.T; k0 += KEYS_PER_TILE) {
    // Stage K and V of keys k0 .. k0 + KEYS_PER_TILE (contiguous d per key).
    for (var e = lid; e < KEYS_PER_TILE * HEAD_DIM; e += WG) {
      let j = k0 + e / HEAD_DIM;
      let c = e % HEAD_DIM;
      if (j < p.T) {
        let kvBase = imageBase + j * rowStride + h * HEAD_DIM + c;
        kTile[e] = qkv[kvBase + p.D];
        vTile[e] = qkv[kvBase + 2u * p.D];
      }
    }
    workgroupBarrier();

    let n = min(KEYS_PER_TILE, p.T - k0);
    var s: array<f32, KEYS_PER_TILE>;
    var tileMax = m;
    for (var jj = 0u; jj < n; jj++) {
      var dot = 0.0;
      for (var c = 0u; c < HEAD_DIM; c++) { dot = fma(q[c], kTile[jj * HEAD_DIM + c], dot); }
      if (p.biasGroups > 0u) {
        dot += bias[(((b % p.biasGroups) * p.H + h) * p.T + min(i, p.T - 1u)) * p.T + k0 + jj];
      }
      s[jj] = dot;
      tileMax = max(tileMax, dot);
    }
    let rescale = exp(m - tileMax);
    l = l * rescale;
    for (var c = 0u; c < HEAD_DIM; c++) { acc[c] = acc[c] * rescale; }
    for (var jj = 0u; jj < n; jj++) {
      let pj = exp(s[jj] - tileMax);
      l += pj;
      for (var c = 0u; c < HEAD_DIM; c++) { acc[c] = fma(pj, vTile[jj * HEAD_DIM + c], acc[c]); }
    }
    m = tileMax;
    workgroupBarrier();
  }

  if (valid) {
    let invL = 1.0 / l;
    let oBase = (b * p.T + i) * p.D + h * HEAD_DIM;
    for (var c = 0u; c < HEAD_DIM; c++) { out[oBase + c] = acc[c] * invL; }
    result = RowStats(true, (b * p.H + h) * p.T + i, m, l);
  }
  return result;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  _ = attendRows(wid, nwg, lid);
}

@compute @workgroup_size(WG)
fn main_stats(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let r = attendRows(wid, nwg, lid);
  if (r.valid) { stats[r.index] = vec2f(r.m, r.l); }
}
