// Depthwise 2-D convolution on channels-last activations:
//   y[b, i, j, c] = act(sum_{u, v} w[u, v, c] * x[b, i * s - ph + u, j * s - pw + v, c]
//                       + bias[c] + res[b, i, j, c])
// with zero padding, x [B, H, W, C], w [kh, kw, C] (channels contiguous),
// y and res [B, Ho, Wo, C]. V is the element type (depthwise_vec4.wgsl: 4
// channels, C % 4 == 0; depthwise_scalar.wgsl: 1 channel) and load_w reads
// the weights (depthwise_w_uniform.wgsl or depthwise_w_storage.wgsl), both
// prepended with activation.wgsl (activate / activate4, override ACT) by the
// op. One dispatch covers the channels of one weight chunk (cv0 ..).
//
// Why this shape (lavapipe runs the 8 lanes of a workgroup as the SIMD
// lanes of one CPU core, and a storage load whose address differs between
// lanes costs a scalar load per lane and component, one with the same
// address in all lanes a single load where it is a uniform block): the 8
// lanes of a workgroup share one group of channels (one V), so the weight
// loads are uniform (from a uniform block where C % 4 == 0), and
// take 8 consecutive blocks of 2 x 8 output pixels (2 rows x 8 pixels at
// stride 1, 2 x 4 at stride 2; consecutive blocks may be on different rows).
// The per-lane input loads are what costs, so each invocation keeps its 16
// (or 8) outputs in registers and loads every input row it needs once: it
// slides a window of input pixels along the row, and per tap loads one new
// input pixel and two (uniform) weights, one per output row the input row
// feeds, and does 16 (or 8) FMAs. That is (kh + 1) x (8 + kw - 1) loads per
// 16 outputs: 7 per output at 7x7, against 49 for a naive loop (measured on
// llvmpipe: see bench/RESULTS.md).
// Grid: x = channel element of the chunk, y (and z past the per-dimension
// limit) = groups of 8 blocks over all images.

struct Params {
  h: u32, w: u32, cv: u32, ho: u32,  // cv: elements of V per pixel (C / 4 or C)
  wo: u32, kh: u32, ph: u32, pw: u32,
  strips: u32,                       // strips per row pair: ceil(wo / strip)
  pairs: u32,                        // row pairs: ceil(ho / 2)
  cv0: u32,                          // first channel element of this dispatch's weight chunk
  wcv: u32,                          // channel elements per tap in the weights
  batch: u32,
}

override KW: u32 = 3u;      // kernel width (the tap loop has a constant trip count)
override STRIDE: u32 = 1u;  // 1 or 2 (both directions)
override HAS_BIAS: bool = false;
override HAS_RES: bool = false;

const LANES = 8u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<V>;
// binding 2 (weights): declared by depthwise_w_uniform.wgsl / depthwise_w_storage.wgsl.
@group(0) @binding(3) var<storage, read> bias: array<V>;
@group(0) @binding(4) var<storage, read> res: array<V>;
@group(0) @binding(5) var<storage, read_write> y: array<V>;

// x at column ix of the row starting at pixel `row` (of an input row that
// exists when row_ok), zero outside [0, W).
fn load_x(row: u32, row_ok: bool, ix: i32, cv: u32) -> V {
  let inside = row_ok && ix >= 0 && ix < i32(p.w);
  let v = x[(row + u32(select(0, ix, inside))) * p.cv + cv];
  return select(V(0.0), v, inside);
}

fn store(pix: u32, ox: u32, ok: bool, cv: u32, b0: V, acc: V) {
  if (ok && ox < p.wo) { // ok: this lane and output row exist
    let i = pix * p.cv + cv;
    var v = acc + b0;
    if (HAS_RES) { v += res[i]; }
    y[i] = act_v(v);
  }
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lane: u32) {
  let strip = select(4u, 8u, STRIDE == 1u);
  let cv = p.cv0 + wid.x;
  // Blocks run over all images (small maps still fill the 8 lanes).
  let s = (wid.y + wid.z * nwg.y) * LANES + lane;
  let per_image = p.pairs * p.strips;
  let ok = s < p.batch * per_image;
  let sc = min(s, p.batch * per_image - 1u); // lanes past the end compute a copy, store nothing
  let b = sc / per_image;
  let sb = sc % per_image;
  let oy = (sb / p.strips) * 2u; // output rows oy and oy + 1
  let ox0 = (sb % p.strips) * strip;
  let ix0 = i32(ox0 * STRIDE) - i32(p.pw);

  // aJ: output row oy, pixel ox0 + J; cJ: row oy + 1.
  var a0 = V(0.0); var a1 = V(0.0); var a2 = V(0.0); var a3 = V(0.0);
  var a4 = V(0.0); var a5 = V(0.0); var a6 = V(0.0); var a7 = V(0.0);
  var c0 = V(0.0); var c1 = V(0.0); var c2 = V(0.0); var c3 = V(0.0);
  var c4 = V(0.0); var c5 = V(0.0); var c6 = V(0.0); var c7 = V(0.0);
  // Input row t feeds kernel row t of output row oy and t - STRIDE of oy + 1.
  for (var t = 0u; t < p.kh + STRIDE; t++) {
    let iy = i32(oy * STRIDE + t) - i32(p.ph);
    // No branch on row_ok: it differs between lanes, and divergent control
    // flow in the loop would make t (and the weight loads) per-lane too.
    let row_ok = iy >= 0 && iy < i32(p.h);
    let row = (b * p.h + u32(select(0, iy, row_ok))) * p.w;
    let use_a = t < p.kh;
    let use_c = t >= STRIDE;
    var wa = min(t, p.kh - 1u) * KW * p.wcv + wid.x;
    var wc = (max(t, STRIDE) - STRIDE) * KW * p.wcv + wid.x;
    // Window: r_t = x[ix0 + v + t] at tap v.
    var r0 = load_x(row, row_ok, ix0, cv);
    var r1 = load_x(row, row_ok, ix0 + 1, cv);
    var r2 = load_x(row, row_ok, ix0 + 2, cv);
    var r3 = load_x(row, row_ok, ix0 + 3, cv);
    var r4 = load_x(row, row_ok, ix0 + 4, cv);
    var r5 = load_x(row, row_ok, ix0 + 5, cv);
    var r6 = V(0.0);
    if (STRIDE == 1u) { r6 = load_x(row, row_ok, ix0 + 6, cv); }
    for (var v = 0u; v < KW; v++) {
      let w_a = select(V(0.0), load_w(wa), use_a);
      let w_c = select(V(0.0), load_w(wc), use_c);
      wa += p.wcv;
      wc += p.wcv;
      if (STRIDE == 1u) {
        let r7 = load_x(row, row_ok, ix0 + i32(v) + 7, cv);
        a0 = fma(r0, w_a, a0); c0 = fma(r0, w_c, c0);
        a1 = fma(r1, w_a, a1); c1 = fma(r1, w_c, c1);
        a2 = fma(r2, w_a, a2); c2 = fma(r2, w_c, c2);
        a3 = fma(r3, w_a, a3); c3 = fma(r3, w_c, c3);
        a4 = fma(r4, w_a, a4); c4 = fma(r4, w_c, c4);
        a5 = fma(r5, w_a, a5); c5 = fma(r5, w_c, c5);
        a6 = fma(r6, w_a, a6); c6 = fma(r6, w_c, c6);
        a7 = fma(r7, w_a, a7); c7 = fma(r7, w_c, c7);
        r0 = r1; r1 = r2; r2 = r3; r3 = r4; r4 = r5; r5 = r6; r6 = r7;
      } else {
        r6 = load_x(row, row_ok, ix0 + i32(v) + 6, cv);
        a0 = fma(r0, w_a, a0); c0 = fma(r0, w_c, c0);
        a1 = fma(r2, w_a, a1); c1 = fma(r2, w_c, c1);
        a2 = fma(r4, w_a, a2); c2 = fma(r4, w_c, c2);
        a3 = fma(r6, w_a, a3); c3 = fma(r6, w_c, c3);
        r0 = r1; r1 = r2; r2 = r3; r3 = r4; r4 = r5; r5 = r6;
      }
    }
  }
  var b0 = V(0.0);
  if (HAS_BIAS) { b0 = bias[cv]; }
  let pa = (b * p.ho + oy) * p.wo + ox0;
  let pc = pa + p.wo;
  let ok_c = ok && oy + 1u < p.ho;
  store(pa, ox0, ok, cv, b0, a0);
  store(pa + 1u, ox0 + 1u, ok, cv, b0, a1);
  store(pa + 2u, ox0 + 2u, ok, cv, b0, a2);
  store(pa + 3u, ox0 + 3u, ok, cv, b0, a3);
  store(pc, ox0, ok_c, cv, b0, c0);
  store(pc + 1u, ox0 + 1u, ok_c, cv, b0, c1);
  store(pc + 2u, ox0 + 2u, ok_c, cv, b0, c2);
  store(pc + 3u, ox0 + 3u, ok_c, cv, b0, c3);
  if (STRIDE == 1u) {
    store(pa + 4u, ox0 + 4u, ok, cv, b0, a4);
    store(pa + 5u, ox0 + 5u, ok, cv, b0, a5);
    store(pa + 6u, ox0 + 6u, ok, cv, b0, a6);
    store(pa + 7u, ox0 + 7u, ok, cv, b0, a7);
    store(pc + 4u, ox0 + 4u, ok_c, cv, b0, c4);
    store(pc + 5u, ox0 + 5u, ok_c, cv, b0, c5);
    store(pc + 6u, ox0 + 6u, ok_c, cv, b0, c6);
    store(pc + 7u, ox0 + 7u, ok_c, cv, b0, c7);
  }
}
