// Token plumbing of a Vision Transformer. Three entry points:
//
// patchify:  pixels [B, C, H, W] -> patches [B, gh * gw, C * ph * pw]
//   patches[b, y * gw + x, (c * ph + i) * pw + j] = pixels[b, c, y * ph + i, x * pw + j]
//   so that the patch-embedding conv (weight [D, C, ph, pw], stride = kernel)
//   becomes one GEMM with the weight viewed as [D, C * ph * pw]. Rows and
//   columns past the last whole patch are dropped, as the strided conv does.
//
// assemble_tokens:  x[b, t, :] = (t < P ? prefix[t, :] : emb[b, t - P, :]) + pos[t, :]
//   (class / distillation tokens first, then the embedded patches, plus the
//   position embedding already resized to this grid).
//
// take_tokens:  out[b, t, :] = x[b, first + t, :] for t < count
//   (the prefix tokens the classifier heads read).
//
// One invocation per output element; the grid may be split over x and y.

struct PatchifyParams {
  total: u32,
  C: u32,
  H: u32,
  W: u32,
  ph: u32,
  pw: u32,
  gh: u32,
  gw: u32,
}

struct AssembleParams {
  total: u32,
  T: u32,
  D: u32,
  P: u32,   // prefix tokens
}

struct TakeParams {
  total: u32,
  T: u32,      // tokens in x
  D: u32,
  first: u32,
  count: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> pp: PatchifyParams;
@group(0) @binding(1) var<storage, read> pixels: array<f32>;
@group(0) @binding(2) var<storage, read_write> patches: array<f32>;

@compute @workgroup_size(WG)
fn patchify(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * WG + lid;
  if (e >= pp.total) { return; }
  let K = pp.C * pp.ph * pp.pw;
  let k = e % K;
  let token = (e / K) % (pp.gh * pp.gw);
  let b = e / (K * pp.gh * pp.gw);
  let j = k % pp.pw;
  let i = (k / pp.pw) % pp.ph;
  let c = k / (pp.pw * pp.ph);
  let y = (token / pp.gw) * pp.ph + i;
  let x = (token % pp.gw) * pp.pw + j;
  patches[e] = pixels[((b * pp.C + c) * pp.H + y) * pp.W + x];
}

@group(0) @binding(0) var<uniform> ap: AssembleParams;
@group(0) @binding(1) var<storage, read> emb: array<f32>;
@group(0) @binding(2) var<storage, read> prefix: array<f32>;
@group(0) @binding(3) var<storage, read> pos: array<f32>;
@group(0) @binding(4) var<storage, read_write> tokens: array<f32>;

@compute @workgroup_size(WG)
fn assemble_tokens(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                   @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * WG + lid;
  if (e >= ap.total) { return; }
  let d = e % ap.D;
  let t = (e / ap.D) % ap.T;
  let b = e / (ap.D * ap.T);
  var v: f32;
  if (t < ap.P) {
    v = prefix[t * ap.D + d];
  } else {
    v = emb[(b * (ap.T - ap.P) + t - ap.P) * ap.D + d];
  }
  tokens[e] = v + pos[t * ap.D + d];
}

@group(0) @binding(0) var<uniform> tp: TakeParams;
@group(0) @binding(1) var<storage, read> seq: array<f32>;
@group(0) @binding(2) var<storage, read_write> taken: array<f32>;

@compute @workgroup_size(WG)
fn take_tokens(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * WG + lid;
  if (e >= tp.total) { return; }
  let d = e % tp.D;
  let t = (e / tp.D) % tp.count;
  let b = e / (tp.D * tp.count);
  taken[e] = seq[(b * tp.T + tp.first + t) * tp.D + d];
}
