// Grad-CAM and Grad-CAM++ for a network whose head is global-average-pool +
// linear (ResNets). For such a head the gradient of the class score is known
// in closed form:
//
//   logit_c = sum_k W[c,k] * mean_ij A[k,i,j] + bias_c
//   G[k,i,j] = d logit_c / d A[k,i,j] = W[c,k] / (h*w)      (constant over i,j)
//
// so no backward pass is needed:
//   Grad-CAM    w_k = mean_ij G = W[c,k] / (h*w)
//   Grad-CAM++  alpha_k = g^2 / (2 g^2 + S_k g^3 [+ eps]),  S_k = sum_ij A[k,i,j],
//               (alpha = 0 where the denominator is 0, and with eps where g = 0)
//               w_k = sum_ij alpha * relu(g) = h*w * alpha_k * relu(g)
//   map[i,j]    = relu(sum_k w_k A[k,i,j])
//
// Entry points (one dispatch each, recorded back to back):
//   argmax_rows   class[b] = argmax_c logits[b,c] (ties to the lower index)
//   weights       w[b,k] for every (b, k)
//   cam           map[b,p] for every (b, p), p = i*w + j

struct Params {
  batch: u32,
  channels: u32, // K, feature channels (= classifier input size D)
  pixels: u32, // h*w
  classes: u32, // C, classifier rows
  plus_plus: u32, // 0 = Grad-CAM, 1 = Grad-CAM++
  eps: f32, // Grad-CAM++ denominator epsilon (0 = exact definition)
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> feature_map: array<f32>; // [B, K, h*w]
@group(0) @binding(2) var<storage, read> classifier: array<f32>; // [C, K]
@group(0) @binding(3) var<storage, read> target_class: array<u32>; // [B]
@group(0) @binding(4) var<storage, read_write> out: array<f32>; // weights [B, K] or maps [B, h*w]

fn linear_id(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn weights(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let idx = linear_id(wid, nwg, lid);
  if (idx >= p.batch * p.channels) { return; }
  let b = idx / p.channels;
  let k = idx % p.channels;
  let hw = f32(p.pixels);
  let g = classifier[target_class[b] * p.channels + k] / hw;
  if (p.plus_plus == 0u) {
    out[idx] = g; // spatial mean of a constant gradient
    return;
  }
  var s = 0.0;
  let base = (b * p.channels + k) * p.pixels;
  for (var i = 0u; i < p.pixels; i++) { s += feature_map[base + i]; }
  let g2 = g * g;
  let g3 = g2 * g;
  let denom = 2.0 * g2 + s * g3 + p.eps;
  var alpha = 0.0;
  if (denom != 0.0 && !(p.eps != 0.0 && g == 0.0)) { alpha = g2 / denom; }
  out[idx] = hw * alpha * max(g, 0.0);
}

@group(0) @binding(0) var<uniform> q: Params;
@group(0) @binding(1) var<storage, read> cam_features: array<f32>; // [B, K, h*w]
@group(0) @binding(2) var<storage, read> cam_weights: array<f32>; // [B, K]
@group(0) @binding(3) var<storage, read_write> cam_out: array<f32>; // [B, h*w]

@compute @workgroup_size(WG)
fn cam(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
       @builtin(local_invocation_index) lid: u32) {
  let idx = linear_id(wid, nwg, lid);
  if (idx >= q.batch * q.pixels) { return; }
  let b = idx / q.pixels;
  let px = idx % q.pixels;
  var acc = 0.0;
  let base = b * q.channels * q.pixels + px;
  for (var k = 0u; k < q.channels; k++) {
    acc += cam_weights[b * q.channels + k] * cam_features[base + k * q.pixels];
  }
  cam_out[idx] = max(acc, 0.0);
}

@group(0) @binding(0) var<uniform> r: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>; // [B, C]
@group(0) @binding(2) var<storage, read_write> argmax_out: array<u32>; // [B]

@compute @workgroup_size(WG)
fn argmax_rows(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let b = linear_id(wid, nwg, lid);
  if (b >= r.batch) { return; }
  var best = 0u;
  var best_v = logits[b * r.classes];
  for (var c = 1u; c < r.classes; c++) {
    let v = logits[b * r.classes + c];
    if (v > best_v) { best_v = v; best = c; }
  }
  argmax_out[b] = best;
}
