// Channels-last plumbing for ConvNeXt-style models:
// - `patches`: out[b, i, j, (u * k + v) * C + c] = x(b, c, i * k + u, j * k + v)
//   where x is addressed through strides, so one entry serves NHWC inputs
//   (space-to-depth before a k x k stride-k conv run as a GEMM) and NCHW
//   pixels (the stem). One output element per invocation; consecutive
//   invocations write consecutive channels.
// - `mean_tokens`: y[b, c] = mean over t of x[b, t, c] (global average pool
//   of a channels-last map). An invocation per image and channel, a plain
//   loop over the tokens (consecutive lanes read consecutive channels).

struct Params {
  n: u32,              // output elements (patches) / outputs B * C (mean_tokens)
  c: u32,              // channels
  k: u32,              // patch size (patches) / tokens T (mean_tokens)
  ho: u32, wo: u32,    // output grid (patches)
  sb: u32, sc: u32, sy: u32, sx: u32, // input strides of image, channel, row, column (patches)
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn patches(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
           @builtin(local_invocation_index) lid: u32) {
  let o = (wid.x + wid.y * nwg.x) * WG + lid;
  if (o >= p.n) { return; }
  let depth = p.k * p.k * p.c;
  let q = o % depth; // (u * k + v) * C + c
  let pix = o / depth; // (b * ho + i) * wo + j
  let c = q % p.c;
  let uv = q / p.c;
  let u = uv / p.k;
  let v = uv % p.k;
  let j = pix % p.wo;
  let bi = pix / p.wo;
  let i = bi % p.ho;
  let b = bi / p.ho;
  y[o] = x[b * p.sb + c * p.sc + (i * p.k + u) * p.sy + (j * p.k + v) * p.sx];
}

@compute @workgroup_size(WG)
fn mean_tokens(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let o = (wid.x + wid.y * nwg.x) * WG + lid; // b * C + c
  if (o >= p.n) { return; }
  let b = o / p.c;
  let c = o % p.c;
  var base = b * p.k * p.c + c;
  // Four interleaved partial sums: shorter f32 rounding chains.
  var s0 = 0.0; var s1 = 0.0; var s2 = 0.0; var s3 = 0.0;
  let t4 = p.k / 4u;
  for (var t = 0u; t < t4; t++) {
    s0 += x[base];
    s1 += x[base + p.c];
    s2 += x[base + 2u * p.c];
    s3 += x[base + 3u * p.c];
    base += 4u * p.c;
  }
  for (var t = t4 * 4u; t < p.k; t++) {
    s0 += x[base];
    base += p.c;
  }
  y[o] = ((s0 + s1) + (s2 + s3)) / f32(p.k);
}
