// im2col straight into the packed-panel layout of gemm.wgsl's B operand:
//   Bp[z][panel][k][64 pixels], k = (c, u, v) over Cg x kh x kw,
//   Bp = x[img0 + z, c_off + c, oy * sh - ph + u * dh, ox * sw - pw + v * dw]
// (zero in the padding, past the last pixel and for k >= k_valid, the rows
// that pad K to a multiple of 4). A convolution is then the GEMM
// y[img] (O x pixels) = W (O x K) . Bp[img].
// One invocation writes one panel row (64 pixels of one k): the integer
// divisions that locate k and the first pixel happen once, then the pixel
// walks along the output row (vector integer division is scalar per lane
// on a CPU rasterizer).

struct Params {
  c: u32, h: u32, w: u32, wo: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: u32, pw: u32, dh: u32, dw: u32,
  k: u32, npix: u32, rows: u32, c_off: u32, // rows = panels * k
  img0: u32, k_valid: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> bp: array<vec4f>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = (wid.x + wid.y * nwg.x) * WG + lid; // panel row: panel * k + k
  if (r >= p.rows) { return; }
  let z = wid.z;
  let k = r % p.k;
  let pix0 = (r / p.k) * 64u;
  let ksize = p.kh * p.kw;
  let c = k / ksize;
  let u = (k % ksize) / p.kw;
  let v = k % p.kw;
  let valid = k < p.k_valid;
  let plane = ((p.img0 + z) * p.c + p.c_off + min(c, p.c - 1u)) * p.h * p.w;
  // Output pixel (oy, ox) of the first column, then walk.
  var oy = pix0 / p.wo;
  var ox = pix0 % p.wo;
  let out0 = (z * p.rows + r) * 16u;
  for (var q = 0u; q < 16u; q++) {
    var val = vec4f(0.0);
    for (var j = 0u; j < 4u; j++) {
      let iy = i32(oy * p.sh + u * p.dh) - i32(p.ph);
      let ix = i32(ox * p.sw + v * p.dw) - i32(p.pw);
      let inside = valid && pix0 + q * 4u + j < p.npix && iy >= 0 && iy < i32(p.h) &&
        ix >= 0 && ix < i32(p.w);
      if (inside) { val[j] = x[plane + u32(iy) * p.w + u32(ix)]; }
      ox += 1u;
      if (ox == p.wo) { ox = 0u; oy += 1u; }
    }
    bp[out0 + q] = val;
  }
}
