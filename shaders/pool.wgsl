// Spatial pooling over NCHW tensors, one output element per invocation.
// MODE 0: max over the window (padding never wins: it is -inf).
// MODE 1: average, PyTorch's rule: the divisor counts the padded window
//         clipped to [-pad, size + pad) (count_include_pad) or only the
//         in-bounds elements (COUNT_PAD = false).
// MODE 2: global average over the whole H x W plane (output [N, C]).

struct Params {
  planes: u32, h: u32, w: u32, ho: u32,
  wo: u32, kh: u32, kw: u32, sh: u32,
  sw: u32, ph: u32, pw: u32,
}

override MODE: u32 = 0u;
override COUNT_PAD: bool = true;
override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let idx = (wid.x + wid.y * nwg.x) * WG + lid;
  if (MODE == 2u) {
    if (idx >= p.planes) { return; }
    let base = idx * p.h * p.w;
    var s = 0.0;
    for (var i = 0u; i < p.h * p.w; i++) { s += x[base + i]; }
    y[idx] = s / f32(p.h * p.w);
    return;
  }
  let per_plane = p.ho * p.wo;
  if (idx >= p.planes * per_plane) { return; }
  let plane = idx / per_plane;
  let oy = (idx % per_plane) / p.wo;
  let ox = idx % p.wo;
  let y0 = i32(oy * p.sh) - i32(p.ph);
  let x0 = i32(ox * p.sw) - i32(p.pw);
  let y1 = min(y0 + i32(p.kh), i32(p.h + p.ph));
  let x1 = min(x0 + i32(p.kw), i32(p.w + p.pw));
  let padded_count = (y1 - y0) * (x1 - x0);
  let ya = max(y0, 0);
  let xa = max(x0, 0);
  let yb = min(y1, i32(p.h));
  let xb = min(x1, i32(p.w));
  let base = plane * p.h * p.w;
  var m = -3.4028234663852886e38;
  var s = 0.0;
  for (var iy = ya; iy < yb; iy++) {
    for (var ix = xa; ix < xb; ix++) {
      let v = x[base + u32(iy) * p.w + u32(ix)];
      m = max(m, v);
      s += v;
    }
  }
  if (MODE == 0u) {
    y[idx] = m;
  } else {
    let count = select((yb - ya) * (xb - xa), padded_count, COUNT_PAD);
    y[idx] = s / f32(max(count, 1));
  }
}
