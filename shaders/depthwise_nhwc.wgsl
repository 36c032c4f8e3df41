// Depthwise 2-D convolution on channels-last activations for software
// adapters (parameters, loads and epilogue: depthwise_common.wgsl).
//
// Why this shape (lavapipe runs the 8 lanes of a workgroup as the SIMD
// lanes of one CPU core; a storage load whose address differs between lanes
// costs a scalar load per lane and component, a uniform-block load with the
// same address in all lanes one load): the 8 lanes of a workgroup share one
// group of channels (one V), so the weight loads are uniform (and from a
// uniform block where C % 4 == 0), and take 8 consecutive blocks of
// ROWS x 8 output pixels (4 rows x 8 pixels at stride 1, 4 x 4 at stride 2;
// consecutive blocks may be on other rows or images). The per-lane input
// loads are what costs, so each invocation keeps its 32 (or 16) outputs in
// registers and loads every input row it needs once: it slides a window of
// input pixels along the row and per tap loads one new input pixel and one
// weight per output row the input row feeds, then does 32 (or 16) FMAs.
// That is (kh + 3) x (8 + kw - 1) input loads per 32 outputs, 4.4 per output
// at 7x7 against 49 for a naive loop. Measured on llvmpipe (CPU-time rate,
// ConvNeXt 7x7 C=96 @56): 1.5 GFLOP/s with lanes along channels and one
// row, 2.0 with 2 rows, 3.3 with uniform-block weights, 3.6 with 4 rows.
// Grid: x = channel element of the chunk, y (and z past the per-dimension
// limit) = groups of 8 blocks over all images.

const LANES = 8u;
const ROWS = 4u; // output rows per invocation

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lane: u32) {
  let strip = select(4u, 8u, STRIDE == 1u);
  let cv = p.cv0 + wid.x;
  // Blocks run over all images (small maps still fill the 8 lanes).
  let s = (wid.y + wid.z * nwg.y) * LANES + lane;
  let per_image = p.row_groups * p.strips;
  let ok = s < p.batch * per_image;
  let sc = min(s, p.batch * per_image - 1u); // lanes past the end compute a copy, store nothing
  let b = sc / per_image;
  let sb = sc % per_image;
  let oy = (sb / p.strips) * ROWS; // output rows oy .. oy + ROWS - 1
  let ox0 = (sb % p.strips) * strip;
  let ix0 = i32(ox0 * STRIDE) - i32(p.pw);

  // a/c/d/eJ: output row oy + 0/1/2/3, pixel ox0 + J.
  var a0 = V(0.0); var a1 = V(0.0); var a2 = V(0.0); var a3 = V(0.0); var a4 = V(0.0); var a5 = V(0.0); var a6 = V(0.0); var a7 = V(0.0);
  var c0 = V(0.0); var c1 = V(0.0); var c2 = V(0.0); var c3 = V(0.0); var c4 = V(0.0); var c5 = V(0.0); var c6 = V(0.0); var c7 = V(0.0);
  var d0 = V(0.0); var d1 = V(0.0); var d2 = V(0.0); var d3 = V(0.0); var d4 = V(0.0); var d5 = V(0.0); var d6 = V(0.0); var d7 = V(0.0);
  var e0 = V(0.0); var e1 = V(0.0); var e2 = V(0.0); var e3 = V(0.0); var e4 = V(0.0); var e5 = V(0.0); var e6 = V(0.0); var e7 = V(0.0);
  // Input row t feeds kernel row t - r * STRIDE of output row oy + r.
  for (var t = 0u; t < p.kh + (ROWS - 1u) * STRIDE; t++) {
    let iy = i32(oy * STRIDE + t) - i32(p.ph);
    // No branch on row_ok: it differs between lanes, and divergent control
    // flow in the loop would make t (and the weight loads) per-lane too.
    let row_ok = iy >= 0 && iy < i32(p.h);
    let row = (b * p.h + u32(select(0, iy, row_ok))) * p.w;
    let use_a = t >= 0u * STRIDE && t - 0u * STRIDE < p.kh;
    var wai = (min(max(t, 0u * STRIDE) - 0u * STRIDE, p.kh - 1u)) * KW * p.wcv + wid.x;
    let use_c = t >= 1u * STRIDE && t - 1u * STRIDE < p.kh;
    var wci = (min(max(t, 1u * STRIDE) - 1u * STRIDE, p.kh - 1u)) * KW * p.wcv + wid.x;
    let use_d = t >= 2u * STRIDE && t - 2u * STRIDE < p.kh;
    var wdi = (min(max(t, 2u * STRIDE) - 2u * STRIDE, p.kh - 1u)) * KW * p.wcv + wid.x;
    let use_e = t >= 3u * STRIDE && t - 3u * STRIDE < p.kh;
    var wei = (min(max(t, 3u * STRIDE) - 3u * STRIDE, p.kh - 1u)) * KW * p.wcv + wid.x;
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
      let w_a = select(V(0.0), load_w(wai), use_a);
      wai += p.wcv;
      let w_c = select(V(0.0), load_w(wci), use_c);
      wci += p.wcv;
      let w_d = select(V(0.0), load_w(wdi), use_d);
      wdi += p.wcv;
      let w_e = select(V(0.0), load_w(wei), use_e);
      wei += p.wcv;
      if (STRIDE == 1u) {
        let r7 = load_x(row, row_ok, ix0 + i32(v) + 7, cv);
        a0 = fma(r0, w_a, a0); c0 = fma(r0, w_c, c0); d0 = fma(r0, w_d, d0); e0 = fma(r0, w_e, e0);
        a1 = fma(r1, w_a, a1); c1 = fma(r1, w_c, c1); d1 = fma(r1, w_d, d1); e1 = fma(r1, w_e, e1);
        a2 = fma(r2, w_a, a2); c2 = fma(r2, w_c, c2); d2 = fma(r2, w_d, d2); e2 = fma(r2, w_e, e2);
        a3 = fma(r3, w_a, a3); c3 = fma(r3, w_c, c3); d3 = fma(r3, w_d, d3); e3 = fma(r3, w_e, e3);
        a4 = fma(r4, w_a, a4); c4 = fma(r4, w_c, c4); d4 = fma(r4, w_d, d4); e4 = fma(r4, w_e, e4);
        a5 = fma(r5, w_a, a5); c5 = fma(r5, w_c, c5); d5 = fma(r5, w_d, d5); e5 = fma(r5, w_e, e5);
        a6 = fma(r6, w_a, a6); c6 = fma(r6, w_c, c6); d6 = fma(r6, w_d, d6); e6 = fma(r6, w_e, e6);
        a7 = fma(r7, w_a, a7); c7 = fma(r7, w_c, c7); d7 = fma(r7, w_d, d7); e7 = fma(r7, w_e, e7);
        r0 = r1; r1 = r2; r2 = r3; r3 = r4; r4 = r5; r5 = r6; r6 = r7;
      } else {
        r6 = load_x(row, row_ok, ix0 + i32(v) + 6, cv);
        a0 = fma(r0, w_a, a0); c0 = fma(r0, w_c, c0); d0 = fma(r0, w_d, d0); e0 = fma(r0, w_e, e0);
        a1 = fma(r2, w_a, a1); c1 = fma(r2, w_c, c1); d1 = fma(r2, w_d, d1); e1 = fma(r2, w_e, e1);
        a2 = fma(r4, w_a, a2); c2 = fma(r4, w_c, c2); d2 = fma(r4, w_d, d2); e2 = fma(r4, w_e, e2);
        a3 = fma(r6, w_a, a3); c3 = fma(r6, w_c, c3); d3 = fma(r6, w_d, d3); e3 = fma(r6, w_e, e3);
        r0 = r1; r1 = r2; r2 = r3; r3 = r4; r4 = r5; r5 = r6;
      }
    }
  }
  var b0 = V(0.0);
  if (HAS_BIAS) { b0 = bias[cv]; }
  let p0 = (b * p.ho + oy) * p.wo + ox0;
  let ok_a = ok && oy + 0u < p.ho;
  let p_a = p0 + 0u * p.wo;
  store(p_a + 0u, ox0 + 0u, ok_a, cv, b0, a0);
  store(p_a + 1u, ox0 + 1u, ok_a, cv, b0, a1);
  store(p_a + 2u, ox0 + 2u, ok_a, cv, b0, a2);
  store(p_a + 3u, ox0 + 3u, ok_a, cv, b0, a3);
  let ok_c = ok && oy + 1u < p.ho;
  let p_c = p0 + 1u * p.wo;
  store(p_c + 0u, ox0 + 0u, ok_c, cv, b0, c0);
  store(p_c + 1u, ox0 + 1u, ok_c, cv, b0, c1);
  store(p_c + 2u, ox0 + 2u, ok_c, cv, b0, c2);
  store(p_c + 3u, ox0 + 3u, ok_c, cv, b0, c3);
  let ok_d = ok && oy + 2u < p.ho;
  let p_d = p0 + 2u * p.wo;
  store(p_d + 0u, ox0 + 0u, ok_d, cv, b0, d0);
  store(p_d + 1u, ox0 + 1u, ok_d, cv, b0, d1);
  store(p_d + 2u, ox0 + 2u, ok_d, cv, b0, d2);
  store(p_d + 3u, ox0 + 3u, ok_d, cv, b0, d3);
  let ok_e = ok && oy + 3u < p.ho;
  let p_e = p0 + 3u * p.wo;
  store(p_e + 0u, ox0 + 0u, ok_e, cv, b0, e0);
  store(p_e + 1u, ox0 + 1u, ok_e, cv, b0, e1);
  store(p_e + 2u, ox0 + 2u, ok_e, cv, b0, e2);
  store(p_e + 3u, ox0 + 3u, ok_e, cv, b0, e3);
  if (STRIDE == 1u) {
    store(p_a + 4u, ox0 + 4u, ok_a, cv, b0, a4);
    store(p_a + 5u, ox0 + 5u, ok_a, cv, b0, a5);
    store(p_a + 6u, ox0 + 6u, ok_a, cv, b0, a6);
    store(p_a + 7u, ox0 + 7u, ok_a, cv, b0, a7);
    store(p_c + 4u, ox0 + 4u, ok_c, cv, b0, c4);
    store(p_c + 5u, ox0 + 5u, ok_c, cv, b0, c5);
    store(p_c + 6u, ox0 + 6u, ok_c, cv, b0, c6);
    store(p_c + 7u, ox0 + 7u, ok_c, cv, b0, c7);
    store(p_d + 4u, ox0 + 4u, ok_d, cv, b0, d4);
    store(p_d + 5u, ox0 + 5u, ok_d, cv, b0, d5);
    store(p_d + 6u, ox0 + 6u, ok_d, cv, b0, d6);
    store(p_d + 7u, ox0 + 7u, ok_d, cv, b0, d7);
    store(p_e + 4u, ox0 + 4u, ok_e, cv, b0, e4);
    store(p_e + 5u, ox0 + 5u, ok_e, cv, b0, e5);
    store(p_e + 6u, ox0 + 6u, ok_e, cv, b0, e6);
    store(p_e + 7u, ox0 + 7u, ok_e, cv, b0, e7);
  }
}
