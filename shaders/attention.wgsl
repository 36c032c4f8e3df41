// Fused multi-head self-attention, one head of one image per workgroup row
// block:   O = softmax(Q K^T / sqrt(d)) V
// Q, K and V are read straight from the fused projection qkv [B, T, 3 * D]
// (token t: q = qkv[t, h*d ..], k = qkv[t, D + h*d ..], v = qkv[t, 2D + h*d ..]),
// and O is written with heads merged back into [B, T, D], ready for the
// output projection. The T x T score matrix is never stored: every invocation
// owns two query rows (i and i + WG of its workgroup's block, so each key
// read from workgroup memory feeds two dot products) and streams the keys
// and values in tiles through
// workgroup memory, keeping a running maximum m, a running sum l of
// exp(s - m) and an accumulator of exp(s - m) * v (the "online softmax"):
// when a tile raises the maximum, the old sum and accumulator are rescaled
// by exp(m_old - m_new), so every exponent stays <= 0.
//
// This is the vec4 form (d and D multiples of 4): rows are read and
// accumulated four channels at a time; with two rows per invocation a
// SIMD-across-invocations compiler such as lavapipe's runs it 3-6x faster
// than the one-row scalar form (shaders/attention_scalar.wgsl, used for
// other head sizes).
//
// HEAD_DIM (d) and KEYS_PER_TILE are substituted by src/ops/attention.ts
// before compilation, because per-invocation arrays need constant sizes.
// An optional additive bias B[h, i, j] (BEiT's relative positions, Swin's
// window masks) joins the scores: softmax(Q K^T / sqrt(d) + B) V.
// The entry point `main_stats` also writes each row's final (m, l), from
// which shaders/attention_probs.wgsl rebuilds the probabilities for
// attention rollout; `main` does not, so it pays nothing for that option.

const HEAD_DIM: u32 = __HEAD_DIM__u;
const KEYS_PER_TILE: u32 = __KEYS_PER_TILE__u;
const D4: u32 = HEAD_DIM / 4u;   // vec4s per head row

struct Params {
  T: u32,        // tokens
  H: u32,        // heads
  D: u32,        // model width = H * HEAD_DIM
  qTiles: u32,   // ceil(T / (2 * WG)) query blocks per head
  blocks: u32,   // B * H * qTiles workgroups
  scale: f32,    // 1 / sqrt(HEAD_DIM)
  biasGroups: u32, // 0: no bias; else image b adds bias[b % biasGroups] [H, T, T] to its scores
}

override WG: u32 = 16u;   // invocations; a workgroup covers 2 * WG query rows

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;  // [G, H, T, T] (a dummy when G = 0)
@group(0) @binding(4) var<storage, read_write> stats: array<vec2f>;  // [B, H, T] (m, l)

var<workgroup> kTile: array<vec4f, KEYS_PER_TILE * D4>;
var<workgroup> vTile: array<vec4f, KEYS_PER_TILE * D4>;

/** The final (m, l) of the invocation's two rows, for `main_stats`. */
struct RowStats {
  index: vec2u,  // (b * H + h) * T + i of each row
  valid: vec2<bool>,
  m: vec2f,
  l: vec2f,
}

fn attendRows(wid: vec3u, nwg: vec3u, lid: u32) -> RowStats {
  var result: RowStats;
  let block = wid.x + wid.y * nwg.x;
  if (block >= p.blocks) { return result; }
  let qt = block % p.qTiles;
  let bh = block / p.qTiles;
  let h = bh % p.H;
  let b = bh / p.H;
  let i0 = qt * 2u * WG + lid;
  let i1 = i0 + WG;
  // Offsets in vec4 units.
  let W4 = p.D / 4u;               // one of q / k / v of a token
  let rowStride = 3u * W4;
  let imageBase = b * p.T * rowStride;
  let headOffset = h * D4;

  // The two queries, pre-multiplied by 1/sqrt(d) (zeros past the end). They
  // are `var`s: a dynamically indexed `let` array is copied on every access.
  var q0: array<vec4f, D4>;
  var q1: array<vec4f, D4>;
  let qBase = imageBase + headOffset;
  for (var c = 0u; c < D4; c++) {
    if (i0 < p.T) { q0[c] = qkv[qBase + i0 * rowStride + c] * p.scale; }
    if (i1 < p.T) { q1[c] = qkv[qBase + i1 * rowStride + c] * p.scale; }
  }
  var m0 = -3.4028235e38;
  var m1 = -3.4028235e38;
  var l0 = 0.0;
  var l1 = 0.0;
  var acc0: array<vec4f, D4>;
  var acc1: array<vec4f, D4>;

  for (var k0 = 0u; k0 < p.T; k0 += KEYS_PER_TILE) {
    // Stage K and V of keys k0 .. k0 + KEYS_PER_TILE.
    for (var e = lid; e < KEYS_PER_TILE * D4; e += WG) {
      let j = k0 + e / D4;
      if (j < p.T) {
        let kBase = imageBase + j * rowStride + W4 + headOffset + e % D4;
        kTile[e] = qkv[kBase];
        vTile[e] = qkv[kBase + W4];
      }
    }
    workgroupBarrier();

    // Scores of this tile and their maximum, per row.
    let n = min(KEYS_PER_TILE, p.T - k0);
    var s0: array<f32, KEYS_PER_TILE>;
    var s1: array<f32, KEYS_PER_TILE>;
    var max0 = m0;
    var max1 = m1;
    for (var jj = 0u; jj < n; jj++) {
      var dot0 = vec4f(0.0);
      var dot1 = vec4f(0.0);
      for (var c = 0u; c < D4; c++) {
        let k = kTile[jj * D4 + c];
        dot0 = fma(q0[c], k, dot0);
        dot1 = fma(q1[c], k, dot1);
      }
      var x0 = (dot0.x + dot0.y) + (dot0.z + dot0.w);
      var x1 = (dot1.x + dot1.y) + (dot1.z + dot1.w);
      if (p.biasGroups > 0u) {
        // Additive score bias (relative positions, window masks); rows past T read row T - 1.
        let g = ((b % p.biasGroups) * p.H + h) * p.T;
        x0 += bias[(g + min(i0, p.T - 1u)) * p.T + k0 + jj];
        x1 += bias[(g + min(i1, p.T - 1u)) * p.T + k0 + jj];
      }
      s0[jj] = x0;
      s1[jj] = x1;
      max0 = max(max0, x0);
      max1 = max(max1, x1);
    }

    // Rescale what was accumulated under the old maxima, then add this tile.
    let rescale0 = exp(m0 - max0);
    let rescale1 = exp(m1 - max1);
    l0 *= rescale0;
    l1 *= rescale1;
    for (var c = 0u; c < D4; c++) {
      acc0[c] *= rescale0;
      acc1[c] *= rescale1;
    }
    for (var jj = 0u; jj < n; jj++) {
      let p0 = exp(s0[jj] - max0);
      let p1 = exp(s1[jj] - max1);
      l0 += p0;
      l1 += p1;
      for (var c = 0u; c < D4; c++) {
        let v = vTile[jj * D4 + c];
        acc0[c] = fma(vec4f(p0), v, acc0[c]);
        acc1[c] = fma(vec4f(p1), v, acc1[c]);
      }
    }
    m0 = max0;
    m1 = max1;
    workgroupBarrier();
  }

  if (i0 < p.T) {
    let o = (b * p.T + i0) * W4 + headOffset;
    for (var c = 0u; c < D4; c++) { out[o + c] = acc0[c] * (1.0 / l0); }
  }
  if (i1 < p.T) {
    let o = (b * p.T + i1) * W4 + headOffset;
    for (var c = 0u; c < D4; c++) { out[o + c] = acc1[c] * (1.0 / l1); }
  }
  let rowBase = (b * p.H + h) * p.T;
  return RowStats(
    vec2u(rowBase + i0, rowBase + i1),
    vec2<bool>(i0 < p.T, i1 < p.T),
    vec2f(m0, m1),
    vec2f(l0, l1),
  );
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
  if (r.valid.x) { stats[r.index.x] = vec2f(r.m.x, r.l.x); }
  if (r.valid.y) { stats[r.index.y] = vec2f(r.m.y, r.l.y); }
}
