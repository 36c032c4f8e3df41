// Fused multi-head self-attention, one head of one image per workgroup row
// block:   O = softmax(Q K^T / sqrt(d)) V
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
// This is the vec4 form (d and D multiples of 4): rows are read and
// accumulated four channels at a time, which a SIMD-across-invocations
// compiler such as lavapipe's runs 2-4x faster than the scalar form
// (shaders/attention_scalar.wgsl, used for other head sizes).
//
// HEAD_DIM (d) and KEYS_PER_TILE are substituted by src/ops/attention.ts
// before compilation, because per-invocation arrays need constant sizes.
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
  qTiles: u32,   // ceil(T / WG)
  blocks: u32,   // B * H * qTiles workgroups
  scale: f32,    // 1 / sqrt(HEAD_DIM)
}

override WG: u32 = 32u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> stats: array<vec2f>;  // [B, H, T] (m, l)

var<workgroup> kTile: array<vec4f, KEYS_PER_TILE * D4>;
var<workgroup> vTile: array<vec4f, KEYS_PER_TILE * D4>;

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
  // Offsets in vec4 units.
  let W4 = p.D / 4u;               // one of q / k / v of a token
  let rowStride = 3u * W4;
  let imageBase = b * p.T * rowStride;
  let headOffset = h * D4;

  // This invocation's query, pre-multiplied by 1/sqrt(d).
  var q: array<vec4f, D4>;
  if (valid) {
    let qBase = imageBase + i * rowStride + headOffset;
    for (var c = 0u; c < D4; c++) { q[c] = qkv[qBase + c] * p.scale; }
  }

  var m = -3.4028235e38;
  var l = 0.0;
  var acc: array<vec4f, D4>;

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

    let n = min(KEYS_PER_TILE, p.T - k0);
    var s: array<f32, KEYS_PER_TILE>;
    var tileMax = m;
    for (var jj = 0u; jj < n; jj++) {
      var dot4 = vec4f(0.0);
      for (var c = 0u; c < D4; c++) { dot4 = fma(q[c], kTile[jj * D4 + c], dot4); }
      let dot = (dot4.x + dot4.y) + (dot4.z + dot4.w);
      s[jj] = dot;
      tileMax = max(tileMax, dot);
    }
    let rescale = exp(m - tileMax);
    l = l * rescale;
    for (var c = 0u; c < D4; c++) { acc[c] = acc[c] * rescale; }
    for (var jj = 0u; jj < n; jj++) {
      let pj = exp(s[jj] - tileMax);
      l += pj;
      for (var c = 0u; c < D4; c++) { acc[c] = fma(vec4f(pj), vTile[jj * D4 + c], acc[c]); }
    }
    m = tileMax;
    workgroupBarrier();
  }

  if (valid) {
    let invL = 1.0 / l;
    let oBase = (b * p.T + i) * W4 + headOffset;
    for (var c = 0u; c < D4; c++) { out[oBase + c] = acc[c] * invL; }
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
