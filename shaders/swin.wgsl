// Swin Transformer plumbing on channels-last token maps x [B, H, W, C]:
// - `window_partition`: the map padded with zeros to whole windows (pH x pW),
//   rolled by (-sh, -sw) (torch.roll), cut into ws0 x ws1 windows:
//   out[b * nW + wy * nWw + wx, ty * ws1 + tx, c] = padded[b, (py + sh) % pH, (px + sw) % pW, c]
//   with py = wy * ws0 + ty, px = wx * ws1 + tx; rows / columns past H / W read zero.
// - `window_merge_add`: the inverse for the H x W positions only, plus a
//   residual: out[b, y, x, c] = res[b, y, x, c] + win[window and token of (y, x), c].
// - `patch_merge`: out[b, i, j, q * C + c] = x[b, 2i + dh, 2j + dw, c], zero past the
//   edge (odd H / W), with the 2x2 neighbours in the order every Swin library
//   concatenates them: q = 0 (0,0), 1 (1,0), 2 (0,1), 3 (1,1) as (dh, dw).
// - `cosine_qk`: Swin V2's scaled cosine attention as plain scaled dot-product
//   attention: in qkv [R, 3D] (heads of width d), each query head becomes
//   q / max(|q|, 1e-12) * tau_h * sqrt(d) and each key head k / max(|k|, 1e-12), so
//   that softmax(q' k'^T / sqrt(d)) = softmax(cos(q, k) * tau_h). In place.
// - `pad_pixels`: NCHW pixels zero-padded on the bottom / right to Hp x Wp.
// One output element per invocation (rows of heads for `cosine_qk`).

struct Params {
  n: u32,         // output elements (rows * heads * 2 for cosine_qk)
  c: u32,         // channels (head width d for cosine_qk)
  h: u32, w: u32, // map size H x W (input size for patch_merge / pad_pixels)
  ws0: u32, ws1: u32, // window
  nww: u32,       // windows per row of windows
  sh: u32, sw: u32, // roll
  ph: u32, pw: u32, // padded size (output size for patch_merge / pad_pixels)
  nw: u32,        // windows per image
  heads: u32,     // cosine_qk
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;
@group(0) @binding(3) var<storage, read> r: array<f32>;

fn flat_id(wid: vec3u, nwg: vec3u, lid: u32) -> u32 {
  return (wid.x + wid.y * nwg.x) * WG + lid;
}

@compute @workgroup_size(WG)
fn window_partition(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_index) lid: u32) {
  let o = flat_id(wid, nwg, lid);
  if (o >= p.n) { return; }
  let c = o % p.c;
  let row = o / p.c; // (b * nW + window) * N + token
  let n = p.ws0 * p.ws1;
  let t = row % n;
  let bw = row / n;
  let win = bw % p.nw;
  let b = bw / p.nw;
  let py = (win / p.nww) * p.ws0 + t / p.ws1;
  let px = (win % p.nww) * p.ws1 + t % p.ws1;
  let sy = (py + p.sh) % p.ph;
  let sx = (px + p.sw) % p.pw;
  if (sy >= p.h || sx >= p.w) {
    y[o] = 0.0;
    return;
  }
  y[o] = x[((b * p.h + sy) * p.w + sx) * p.c + c];
}

@compute @workgroup_size(WG)
fn window_merge_add(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                    @builtin(local_invocation_index) lid: u32) {
  let o = flat_id(wid, nwg, lid);
  if (o >= p.n) { return; }
  let c = o % p.c;
  let pix = o / p.c; // (b * H + y) * W + x
  let sx = pix % p.w;
  let by = pix / p.w;
  let sy = by % p.h;
  let b = by / p.h;
  let py = (sy + p.ph - p.sh) % p.ph;
  let px = (sx + p.pw - p.sw) % p.pw;
  let win = (py / p.ws0) * p.nww + px / p.ws1;
  let t = (py % p.ws0) * p.ws1 + px % p.ws1;
  y[o] = r[o] + x[((b * p.nw + win) * p.ws0 * p.ws1 + t) * p.c + c];
}

@compute @workgroup_size(WG)
fn patch_merge(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_index) lid: u32) {
  let o = flat_id(wid, nwg, lid);
  if (o >= p.n) { return; }
  let c4 = 4u * p.c;
  let qc = o % c4;
  let c = qc % p.c;
  let q = qc / p.c;
  let pix = o / c4; // (b * ph + i) * pw + j
  let j = pix % p.pw;
  let bi = pix / p.pw;
  let i = bi % p.ph;
  let b = bi / p.ph;
  let sy = 2u * i + q % 2u;
  let sx = 2u * j + q / 2u;
  if (sy >= p.h || sx >= p.w) {
    y[o] = 0.0;
    return;
  }
  y[o] = x[((b * p.h + sy) * p.w + sx) * p.c + c];
}

// x: the per-head scale tau_h * sqrt(d) [heads]; y: qkv [R, 3D], rewritten in place.
@compute @workgroup_size(WG)
fn cosine_qk(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let o = flat_id(wid, nwg, lid);
  if (o >= p.n) { return; }
  let d = p.c;
  let head = o % p.heads;
  let which = (o / p.heads) % 2u; // 0: query, 1: key
  let rowi = o / (2u * p.heads);
  let dim = p.heads * d;
  let base = rowi * 3u * dim + which * dim + head * d;
  var ss = 0.0;
  for (var i = 0u; i < d; i++) {
    let v = y[base + i];
    ss += v * v;
  }
  var s = 1.0 / max(sqrt(ss), 1e-12);
  if (which == 0u) { s *= x[head]; }
  for (var i = 0u; i < d; i++) {
    y[base + i] *= s;
  }
}

@compute @workgroup_size(WG)
fn pad_pixels(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_index) lid: u32) {
  let o = flat_id(wid, nwg, lid);
  if (o >= p.n) { return; }
  let px = o % p.pw;
  let rest = o / p.pw;
  let py = rest % p.ph;
  let bc = rest / p.ph;
  if (py >= p.h || px >= p.w) {
    y[o] = 0.0;
    return;
  }
  y[o] = x[(bc * p.h + py) * p.w + px];
}
