// Squeeze-and-excitation's gate in one kernel, a workgroup per image, on
// channels-last maps x [B, T, C] (T = H * W):
//   m[c]    = mean over t of x[b, t, c]                       (squeeze)
//   h[j]    = act(b1[j] + sum_c w1[j, c] * m[c])              (reduce)
//   s[b, c] = gate(b2[c] + sum_j w2[c, j] * h[j])             (expand)
// Both weights are stored transposed (w1t [C, H], w2t [H, C]) so that the
// invocations of a step read consecutive addresses at every inner-loop step.
// m and h stay in workgroup memory, so the three steps are one dispatch
// instead of a pooling pass and two GEMMs of B rows. `act` is the ACT
// override of activation.wgsl (prepended); GATE picks the gate: 6 sigmoid,
// 7 hardsigmoid (the codes of activation.wgsl). MAX_C / MAX_H size the
// workgroup arrays for the layer (src/ops/se_gate.ts checks the limit).

struct Params {
  t: u32,      // tokens per image
  c: u32,      // channels
  hidden: u32, // reduced width
}

override WG: u32 = 64u;
override MAX_C: u32 = 1024u;
override MAX_H: u32 = 64u;
override GATE: u32 = 6u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w1t: array<f32>;
@group(0) @binding(3) var<storage, read> b1: array<f32>;
@group(0) @binding(4) var<storage, read> w2t: array<f32>;
@group(0) @binding(5) var<storage, read> b2: array<f32>;
@group(0) @binding(6) var<storage, read_write> s: array<f32>;

var<workgroup> squeezed: array<f32, MAX_C>;
var<workgroup> reduced: array<f32, MAX_H>;

fn gate(v: f32) -> f32 {
  if (GATE == 7u) { return relu6_f32(v + 3.0) / 6.0; }
  return sigmoid_f32(v);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let b = wid.x;
  // Squeeze: consecutive invocations read consecutive channels of a token.
  for (var c = lid; c < p.c; c += WG) {
    var base = b * p.t * p.c + c;
    // Four interleaved partial sums: shorter f32 rounding chains.
    var s0 = 0.0; var s1 = 0.0; var s2 = 0.0; var s3 = 0.0;
    let t4 = p.t / 4u;
    for (var t = 0u; t < t4; t++) {
      s0 += x[base];
      s1 += x[base + p.c];
      s2 += x[base + 2u * p.c];
      s3 += x[base + 3u * p.c];
      base += 4u * p.c;
    }
    for (var t = t4 * 4u; t < p.t; t++) {
      s0 += x[base];
      base += p.c;
    }
    squeezed[c] = ((s0 + s1) + (s2 + s3)) / f32(p.t);
  }
  workgroupBarrier();
  // Reduce.
  for (var j = lid; j < p.hidden; j += WG) {
    var acc = 0.0;
    for (var c = 0u; c < p.c; c++) { acc += w1t[c * p.hidden + j] * squeezed[c]; }
    reduced[j] = activate(acc + b1[j]);
  }
  workgroupBarrier();
  // Expand and gate.
  for (var c = lid; c < p.c; c += WG) {
    var acc = 0.0;
    for (var j = 0u; j < p.hidden; j++) { acc += w2t[j * p.c + c] * reduced[j]; }
    s[b * p.c + c] = gate(acc + b2[c]);
  }
}
