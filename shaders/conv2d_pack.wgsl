// im2col straight into the packed-panel layout of gemm.wgsl's B operand:
//   Bp[z][panel][k][64 pixels], k = (c, u, v) over Cg x kh x kw,
//   Bp = x[img0 + z, c_off + c, oy * sh - ph + u * dh, ox * sw - pw + v * dw]
// (zero in the padding and past the last pixel). A convolution is then the
// GEMM  y[img] (O x pixels) = W (O x K) . Bp[img]. One packed vec4 (4
// consecutive output pixels) per invocation.

struct Params {
  c: u32, h: u32, w: u32, wo: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: u32, pw: u32, dh: u32, dw: u32,
  k: u32, npix: u32, total: u32, c_off: u32,
  img0: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> bp: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) { return; }
  let z = wid.z;
  let k = (i / 16u) % p.k;
  let pix0 = (i / (16u * p.k)) * 64u + (i % 16u) * 4u;
  let ksize = p.kh * p.kw;
  let c = k / ksize;
  let u = (k % ksize) / p.kw;
  let v = k % p.kw;
  let plane = ((p.img0 + z) * p.c + p.c_off + c) * p.h * p.w;
  var out = vec4f(0.0);
  for (var j = 0u; j < 4u; j++) {
    let pix = pix0 + j;
    let iy = i32((pix / p.wo) * p.sh + u * p.dh) - i32(p.ph);
    let ix = i32((pix % p.wo) * p.sw + v * p.dw) - i32(p.pw);
    let inside = pix < p.npix && iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w);
    if (inside) { out[j] = x[plane + u32(iy) * p.w + u32(ix)]; }
  }
  bp[z * p.total + i] = out;
}
