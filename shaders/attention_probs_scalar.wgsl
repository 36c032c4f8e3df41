// Head-mean attention probabilities of one layer, for attention rollout
// (scalar form, paired with shaders/attention_scalar.wgsl; the vec4 form is
// shaders/attention_probs.wgsl):
//   A[b, i, j] = 1/H * sum_h exp(s_h(i, j) - m_h(i)) / l_h(i),
//   s_h(i, j) = (q_h(i) / sqrt(d)) . k_h(j)
// where (m, l) are the row maximum and exp-sum that shaders/attention.wgsl
// (entry main_stats; scalar form) found for the same rows, so these are exactly the
// probabilities that weighted V. Written into out [B, L, T, T] at `layer`.
// One workgroup per (image, query row); invocations stride over the keys.
// Entry cls_heads writes instead, for the class-token row i = 0 only, each
// head's probabilities P_h[b, j] = exp(s_h(0, j) - m_h(0)) / l_h(0) into
// out [B, H, T] (one workgroup per image, same dot-product order).

struct Params {
  T: u32,
  H: u32,
  D: u32,
  L: u32,
  layer: u32,
  rows: u32,     // B * T (main) or B (cls_heads)
  scale: f32,
  biasGroups: u32, // as in the attention kernel: bias[b % biasGroups] [H, T, T] joins the scores
}

override WG: u32 = 64u;
override HEAD_DIM: u32 = 64u;
override MODEL_DIM: u32 = 192u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> qkv: array<f32>;     // [B, T, 3D]
@group(0) @binding(2) var<storage, read> stats: array<vec2f>; // [B, H, T]
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // [B, L, T, T]
@group(0) @binding(4) var<storage, read> bias: array<f32>;      // [G, H, T, T] (dummy when G = 0)

fn scoreBias(b: u32, h: u32, i: u32, j: u32) -> f32 {
  if (p.biasGroups == 0u) { return 0.0; }
  return bias[(((b % p.biasGroups) * p.H + h) * p.T + i) * p.T + j];
}

var<workgroup> qRow: array<f32, MODEL_DIM>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let b = row / p.T;
  let i = row % p.T;
  let rowStride = 3u * p.D;
  let imageBase = b * p.T * rowStride;

  for (var c = lid; c < p.D; c += WG) { qRow[c] = qkv[imageBase + i * rowStride + c] * p.scale; }
  workgroupBarrier();

  let invH = 1.0 / f32(p.H);
  for (var j = lid; j < p.T; j += WG) {
    let kBase = imageBase + j * rowStride + p.D;
    var sum = 0.0;
    for (var h = 0u; h < p.H; h++) {
      var dot = 0.0;
      for (var c = 0u; c < HEAD_DIM; c++) {
        dot = fma(qRow[h * HEAD_DIM + c], qkv[kBase + h * HEAD_DIM + c], dot);
      }
      let ml = stats[(b * p.H + h) * p.T + i];
      sum += exp(dot + scoreBias(b, h, i, j) - ml.x) / ml.y;
    }
    out[((b * p.L + p.layer) * p.T + i) * p.T + j] = sum * invH;
  }
}

@compute @workgroup_size(WG)
fn cls_heads(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let b = wid.x + wid.y * nwg.x;
  if (b >= p.rows) { return; }
  let rowStride = 3u * p.D;
  let imageBase = b * p.T * rowStride;

  for (var c = lid; c < p.D; c += WG) { qRow[c] = qkv[imageBase + c] * p.scale; }
  workgroupBarrier();

  for (var j = lid; j < p.T; j += WG) {
    let kBase = imageBase + j * rowStride + p.D;
    for (var h = 0u; h < p.H; h++) {
      var dot = 0.0;
      for (var c = 0u; c < HEAD_DIM; c++) {
        dot = fma(qRow[h * HEAD_DIM + c], qkv[kBase + h * HEAD_DIM + c], dot);
      }
      let ml = stats[(b * p.H + h) * p.T];
      out[(b * p.H + h) * p.T + j] = exp(dot + scoreBias(b, h, 0u, j) - ml.x) / ml.y;
    }
  }
}
