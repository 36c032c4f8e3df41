// Head-mean attention probabilities of one layer, for attention rollout:
//   A[b, i, j] = 1/H * sum_h exp(s_h(i, j) - m_h(i)) / l_h(i),
//   s_h(i, j) = (q_h(i) / sqrt(d)) . k_h(j)
// where (m, l) are the row maximum and exp-sum that shaders/attention.wgsl
// (entry main_stats) found for the same rows, so these are exactly the
// probabilities that weighted V (the dot product is summed in the same
// order). Written into out [B, L, T, T] at `layer`. vec4 form (d multiple
// of 4); shaders/attention_probs_scalar.wgsl is the scalar one.
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
@group(0) @binding(1) var<storage, read> qkv: array<vec4f>;     // [B, T, 3D]
@group(0) @binding(2) var<storage, read> stats: array<vec2f>;   // [B, H, T]
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // [B, L, T, T]
@group(0) @binding(4) var<storage, read> bias: array<f32>;      // [G, H, T, T] (dummy when G = 0)

fn scoreBias(b: u32, h: u32, i: u32, j: u32) -> f32 {
  if (p.biasGroups == 0u) { return 0.0; }
  return bias[(((b % p.biasGroups) * p.H + h) * p.T + i) * p.T + j];
}

var<workgroup> qRow: array<vec4f, MODEL_DIM / 4u>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= p.rows) { return; }
  let b = row / p.T;
  let i = row % p.T;
  let W4 = p.D / 4u;
  let D4 = HEAD_DIM / 4u;
  let rowStride = 3u * W4;
  let imageBase = b * p.T * rowStride;

  for (var c = lid; c < W4; c += WG) { qRow[c] = qkv[imageBase + i * rowStride + c] * p.scale; }
  workgroupBarrier();

  let invH = 1.0 / f32(p.H);
  for (var j = lid; j < p.T; j += WG) {
    let kBase = imageBase + j * rowStride + W4;
    var sum = 0.0;
    for (var h = 0u; h < p.H; h++) {
      var dot4 = vec4f(0.0);
      for (var c = 0u; c < D4; c++) {
        dot4 = fma(qRow[h * D4 + c], qkv[kBase + h * D4 + c], dot4);
      }
      let dot = (dot4.x + dot4.y) + (dot4.z + dot4.w);
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
  let W4 = p.D / 4u;
  let D4 = HEAD_DIM / 4u;
  let rowStride = 3u * W4;
  let imageBase = b * p.T * rowStride;

  for (var c = lid; c < W4; c += WG) { qRow[c] = qkv[imageBase + c] * p.scale; }
  workgroupBarrier();

  for (var j = lid; j < p.T; j += WG) {
    let kBase = imageBase + j * rowStride + W4;
    for (var h = 0u; h < p.H; h++) {
      var dot4 = vec4f(0.0);
      for (var c = 0u; c < D4; c++) {
        dot4 = fma(qRow[h * D4 + c], qkv[kBase + h * D4 + c], dot4);
      }
      let dot = (dot4.x + dot4.y) + (dot4.z + dot4.w);
      let ml = stats[(b * p.H + h) * p.T];
      out[(b * p.H + h) * p.T + j] = exp(dot + scoreBias(b, h, 0u, j) - ml.x) / ml.y;
    }
  }
}
