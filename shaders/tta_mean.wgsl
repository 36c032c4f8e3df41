// Weighted sum over the views of each image: out[b, c] (+)= sum_v w_v * x[b * V + v, c].
// Views with weight 0 are skipped, so a one-hot weight copies one view exactly.
// With `finish_log` set the result is replaced by log(max(out, tiny)): the log
// of averaged probabilities, which the metric state and top-k treat as logits
// (softmax(log p) = p).

struct Params {
  images: u32,      // B
  views: u32,       // V
  classes: u32,     // C
  accumulate: u32,  // 1: add to out; 0: overwrite it
  finish_log: u32,  // 1: out = log(max(out, tiny)) after the sum
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> weight: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= p.images * p.classes) { return; }
  let b = i / p.classes;
  let c = i % p.classes;
  var s = select(0.0, out[i], p.accumulate == 1u);
  for (var v = 0u; v < p.views; v++) {
    let w = weight[v];
    if (w != 0.0) { s += w * x[(b * p.views + v) * p.classes + c]; }
  }
  if (p.finish_log == 1u) { s = log(max(s, 1.17549435e-38)); }
  out[i] = s;
}
