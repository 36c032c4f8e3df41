// im2col straight into the packed-panel layout of gemm.wgsl's B operand.
// The columns are the output pixels of all images one after the other
// (column = image * npix + pixel), so small feature maps (7x7 = 49 pixels)
// still fill whole 64-column panels; one dispatch packs the chunk of columns
// [col0, col_end) (col0 a multiple of 64):
//   Bp[panel][k][64 columns], k = (c, u, v) over Cg x kh x kw, column = col0 + 64 panel + j,
//   Bp = x[image, c_off + c, oy * sh - ph + u * dh, ox * sw - pw + v * dw]
// (zero in the padding, past col_end and for k >= k_valid, the rows
// that pad K to a multiple of 4). The convolution is then the GEMM
// W (O x K) . Bp with column groups of npix (see gemm.wgsl c_index).
// The panels go to a storage buffer or to the layers of a texture array
// (store_panel, from conv2d_panels_buffer.wgsl / conv2d_panels_texture.wgsl).
// `main` (software path): one invocation writes one panel row (64 columns
// of one k): the integer divisions that locate k and the first column happen
// once, then the pixel walks along the rows and images (vector integer
// division is scalar per lane on a CPU rasterizer). `per_texel` (GPU path)
// writes one texel per invocation, below.

struct Params {
  c: u32, h: u32, w: u32, wo: u32,
  kh: u32, kw: u32, sh: u32, sw: u32,
  ph: u32, pw: u32, dh: u32, dw: u32,
  k: u32, npix: u32, rows: u32, c_off: u32, // rows = panels * k
  col0: u32, k_valid: u32, col_end: u32,
}

override WG: u32 = 64u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;

// x at the patch element (c, u, v) of output column `col`, whose image and
// output pixel are (img, oy, ox); zero in the padding, past col_end and for
// the K-padding rows (valid false).
fn tap(c: u32, u: u32, v: u32, valid: bool, col: u32, img: u32, oy: u32, ox: u32) -> f32 {
  let iy = i32(oy * p.sh + u * p.dh) - i32(p.ph);
  let ix = i32(ox * p.sw + v * p.dw) - i32(p.pw);
  let inside = valid && col < p.col_end && iy >= 0 && iy < i32(p.h) && ix >= 0 &&
    ix < i32(p.w);
  var value = 0.0;
  if (inside) {
    let plane = (img * p.c + p.c_off + c) * (p.h * p.w);
    value = x[plane + u32(iy) * p.w + u32(ix)];
  }
  return value;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let r = (wid.x + wid.y * nwg.x) * WG + lid; // panel row: panel * k + k
  if (r >= p.rows) { return; }
  let k = r % p.k;
  let panel = r / p.k;
  var col = p.col0 + panel * 64u;
  let ksize = p.kh * p.kw;
  let c = min(k / ksize, p.c - 1u);
  let u = (k % ksize) / p.kw;
  let v = k % p.kw;
  let valid = k < p.k_valid;
  let plane_size = p.h * p.w;
  // Image and output pixel (oy, ox) of the first column, then walk.
  var img = col / p.npix;
  let pix = col % p.npix;
  var oy = pix / p.wo;
  var ox = pix % p.wo;
  let ho = p.npix / p.wo;
  for (var q = 0u; q < 16u; q++) {
    var val = vec4f(0.0);
    for (var j = 0u; j < 4u; j++) {
      // tap() inlined by hand: through the call lavapipe runs this loop ~20% slower.
      let iy = i32(oy * p.sh + u * p.dh) - i32(p.ph);
      let ix = i32(ox * p.sw + v * p.dw) - i32(p.pw);
      let inside = valid && col < p.col_end && iy >= 0 && iy < i32(p.h) && ix >= 0 &&
        ix < i32(p.w);
      if (inside) {
        let plane = (img * p.c + p.c_off + c) * plane_size;
        val[j] = x[plane + u32(iy) * p.w + u32(ix)];
      }
      col += 1u;
      ox += 1u;
      if (ox == p.wo) {
        ox = 0u;
        oy += 1u;
        if (oy == ho) { oy = 0u; img += 1u; }
      }
    }
    store_panel(panel, k, q, val);
  }
}

// The GPU path's entry: one invocation per texel (4 columns of one panel
// row), so neighbouring invocations read neighbouring pixels and write
// neighbouring texels (coalesced), at the price of locating each column by
// division, which a GPU does in every lane at once. Dispatched over
// rows x 16 invocations.
@compute @workgroup_size(WG)
fn per_texel(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_index) lid: u32) {
  let t = (wid.x + wid.y * nwg.x) * WG + lid;
  let r = t / 16u; // panel row
  let q = t % 16u; // texel within it
  if (r >= p.rows) { return; }
  let k = r % p.k;
  let panel = r / p.k;
  let ksize = p.kh * p.kw;
  let c = min(k / ksize, p.c - 1u);
  let u = (k % ksize) / p.kw;
  let v = k % p.kw;
  let valid = k < p.k_valid;
  var val = vec4f(0.0);
  for (var j = 0u; j < 4u; j++) {
    let col = p.col0 + panel * 64u + q * 4u + j;
    let img = col / p.npix;
    let pix = col % p.npix;
    val[j] = tap(c, u, v, valid, col, img, pix / p.wo, pix % p.wo);
  }
  store_panel(panel, k, q, val);
}
