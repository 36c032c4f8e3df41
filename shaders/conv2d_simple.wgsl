// Reference-grade 2-D convolution (NCHW, OIHW weights) as an implicit GEMM:
//   y[n, o, i, j] = act(sum_{c, u, v} w[o, c, u, v] *
//                   x[n, g * Cg + c, i * sh - ph + u * dh, j * sw - pw + v * dw]
//                   + bias[o] + res[n, o, i, j]),   g = o / Og.
// Each invocation computes 4 output channels x 4 output pixels of one image.
// Grid: x = pixel blocks of 32, y = image * channel blocks of 32, z = group.

struct Params {
  c: u32, h: u32, w: u32, o: u32,
  ho: u32, wo: u32, kh: u32, kw: u32,
  sh: u32, sw: u32, ph: u32, pw: u32,
  dh: u32, dw: u32, cg: u32, og: u32,
  oc_blocks: u32,
}

override HAS_BIAS: bool = false;
override HAS_RES: bool = false;
// activate and its override ACT: shaders/activation.wgsl (prepended by the op).

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> wt: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> res: array<f32>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let npix = p.ho * p.wo;
  let img = wid.y / p.oc_blocks;
  let g = wid.z;
  let oc0 = ((wid.y % p.oc_blocks) * 8u + lid.y) * 4u; // within the group
  let px0 = (wid.x * 8u + lid.x) * 4u;
  if (oc0 >= p.og || px0 >= npix) { return; }

  // Input origin (may be negative: padding) of each of the 4 pixels.
  var iy0: array<i32, 4>;
  var ix0: array<i32, 4>;
  for (var j = 0u; j < 4u; j++) {
    let px = min(px0 + j, npix - 1u);
    iy0[j] = i32((px / p.wo) * p.sh) - i32(p.ph);
    ix0[j] = i32((px % p.wo) * p.sw) - i32(p.pw);
  }
  var acc: array<array<f32, 4>, 4>;
  let ksize = p.kh * p.kw;
  for (var c = 0u; c < p.cg; c++) {
    let xplane = (img * p.c + g * p.cg + c) * p.h * p.w;
    for (var u = 0u; u < p.kh; u++) {
      for (var v = 0u; v < p.kw; v++) {
        var xv: array<f32, 4>;
        for (var j = 0u; j < 4u; j++) {
          let iy = iy0[j] + i32(u * p.dh);
          let ix = ix0[j] + i32(v * p.dw);
          let inside = iy >= 0 && iy < i32(p.h) && ix >= 0 && ix < i32(p.w);
          let idx = select(0u, xplane + u32(iy) * p.w + u32(ix), inside);
          xv[j] = select(0.0, x[idx], inside);
        }
        for (var i = 0u; i < 4u; i++) {
          let o = g * p.og + min(oc0 + i, p.og - 1u);
          let wv = wt[(o * p.cg + c) * ksize + u * p.kw + v];
          for (var j = 0u; j < 4u; j++) {
            acc[i][j] = fma(wv, xv[j], acc[i][j]);
          }
        }
      }
    }
  }
  for (var i = 0u; i < 4u; i++) {
    if (oc0 + i >= p.og) { break; }
    let o = g * p.og + oc0 + i;
    for (var j = 0u; j < 4u; j++) {
      if (px0 + j >= npix) { break; }
      let idx = (img * p.o + o) * npix + px0 + j;
      var v = acc[i][j];
      if (HAS_BIAS) { v += bias[o]; }
      if (HAS_RES) { v += res[idx]; }
      y[idx] = activate(v);
    }
  }
}
