// Global response normalization (ConvNeXt V2) on channels-last tokens
// x [B, T, C] (T = H * W), as Hugging Face ConvNextV2GRNLayer / timm
// GlobalResponseNorm compute it:
//   Gx[b, c] = sqrt(sum_t x[b, t, c]^2)
//   Nx[b, c] = Gx[b, c] / (mean_c Gx[b, c] + eps)
//   y[b, t, c] = gamma[c] * (x[b, t, c] * Nx[b, c]) + beta[c] + x[b, t, c]
// Two passes: `sumsq` writes Gx (an invocation per image and channel, a
// plain loop over the tokens; consecutive lanes read consecutive channels),
// then `apply` (a workgroup per image and block of tokens) reduces Gx over
// the channels with workgroupSum (shaders/workgroup_reduce.wgsl, prepended
// by the op) and writes y.

struct Params {
  batch: u32,
  t: u32,           // tokens per image
  c: u32,           // channels
  eps: f32,
  tok_block: u32,   // tokens per `apply` workgroup
  blocks: u32,      // ceil(t / tok_block)
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>; // [B, C]

@compute @workgroup_size(WG)
fn sumsq(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid; // b * C + c
  if (i >= p.batch * p.c) { return; }
  let b = i / p.c;
  let c = i % p.c;
  var base = b * p.t * p.c + c;
  // Four interleaved partial sums: shorter f32 rounding chains.
  var s0 = 0.0; var s1 = 0.0; var s2 = 0.0; var s3 = 0.0;
  let t4 = p.t / 4u;
  for (var k = 0u; k < t4; k++) {
    let v0 = x[base];
    let v1 = x[base + p.c];
    let v2 = x[base + 2u * p.c];
    let v3 = x[base + 3u * p.c];
    s0 = fma(v0, v0, s0);
    s1 = fma(v1, v1, s1);
    s2 = fma(v2, v2, s2);
    s3 = fma(v3, v3, s3);
    base += 4u * p.c;
  }
  for (var k = t4 * 4u; k < p.t; k++) {
    let v = x[base];
    s0 = fma(v, v, s0);
    base += p.c;
  }
  gx[i] = sqrt((s0 + s1) + (s2 + s3));
}

@group(0) @binding(3) var<storage, read> gamma: array<f32>;
@group(0) @binding(4) var<storage, read> beta: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn apply(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
         @builtin(local_invocation_index) lid: u32) {
  let g = wid.x + wid.y * nwg.x; // b * blocks + block
  if (g >= p.batch * p.blocks) { return; } // the whole workgroup: barriers stay uniform
  let b = g / p.blocks;
  let t0 = (g % p.blocks) * p.tok_block;
  var s = 0.0;
  for (var c = lid; c < p.c; c += WG) { s += gx[b * p.c + c]; }
  let denom = workgroupSum(s, lid) / f32(p.c) + p.eps;
  let t1 = min(t0 + p.tok_block, p.t);
  for (var c = lid; c < p.c; c += WG) {
    let nx = gx[b * p.c + c] / denom;
    let gam = gamma[c];
    let bet = beta[c];
    for (var t = t0; t < t1; t++) {
      let i = (b * p.t + t) * p.c + c;
      let v = x[i];
      y[i] = fma(gam, v * nx, bet) + v;
    }
  }
}
