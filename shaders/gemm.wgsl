// GEMM tuned for software rasterizers (llvmpipe/lavapipe), correct anywhere
// (parameters, epilogue switches and indexing: gemm_common.wgsl).
//
// Why this shape: a software rasterizer runs the 8 invocations of a
// workgroup as the 8 SIMD lanes of one CPU core. Every storage-buffer load a
// lane makes costs a scalar load per lane per component, and workgroup
// barriers are coroutine switches, so the main loop avoids workgroup memory and
// maximizes FMAs per loaded value (measured ladder: bench/RESULTS.md):
//   * B is pre-packed in column panels of 64 (see gemm_pack.wgsl):
//     Bp[z][panel][k][16 vec4], so the 8 lanes read consecutive vec4s and a
//     workgroup streams one contiguous panel from cache. The panels are a
//     storage buffer (gemm_b_buffer.wgsl) or the layers of a texture array
//     (gemm_b_texture.wgsl, with A in a texture too: gemm_a_texture.wgsl),
//     whose fetches are cheaper on llvmpipe;
//   * each lane owns a register tile of 16 rows x 2 vec4 columns (128
//     outputs) and reuses every loaded B vec4 for 16 rows and every A value
//     (same address in all lanes) for 8 columns (16 rows measured 5-45%
//     faster than 8 at ResNet-50 conv shapes with textures, bench/RESULTS.md);
//   * A is read 4 k at a time (load_a4, from gemm_a_vec4 / gemm_a_scalar);
//   * the output is stored as vec4s without any barrier where N allows it
//     (gemm_store_vec4), else through a workgroup tile (gemm_store_scalar).
// Rows past M are clamped on load and skipped on store; K is split into
// full chunks of 4 plus a scalar tail.

const RM = 16u;  // rows per tile
const LANES = 8u; // workgroup size

// acc + a.x * b0 + a.y * b1 + a.z * b2 + a.w * b3 (four k-steps of one row).
fn madd4(a: vec4f, b0: vec4f, b1: vec4f, b2: vec4f, b3: vec4f, acc: vec4f) -> vec4f {
  return fma(vec4f(a.w), b3, fma(vec4f(a.z), b2, fma(vec4f(a.y), b1, fma(vec4f(a.x), b0, acc))));
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lane: u32) {
  let wg = wid.x + wid.y * nwg.x;
  if (wg >= p.row_blocks * p.panels) { return; }
  let z = wid.z;
  let m0 = (wg % p.row_blocks) * RM;
  let panel = wg / p.row_blocks;

  // A row offsets, clamped so that the rows past M read valid memory. The
  // 16-row tile is written out by hand: left as a loop over arrays, the
  // accumulators were not kept in registers (measured 1.3-1.6x slower).
  let r0 = a_row_offset(z, m0 + 0u);
  let r1 = a_row_offset(z, m0 + 1u);
  let r2 = a_row_offset(z, m0 + 2u);
  let r3 = a_row_offset(z, m0 + 3u);
  let r4 = a_row_offset(z, m0 + 4u);
  let r5 = a_row_offset(z, m0 + 5u);
  let r6 = a_row_offset(z, m0 + 6u);
  let r7 = a_row_offset(z, m0 + 7u);
  let r8 = a_row_offset(z, m0 + 8u);
  let r9 = a_row_offset(z, m0 + 9u);
  let r10 = a_row_offset(z, m0 + 10u);
  let r11 = a_row_offset(z, m0 + 11u);
  let r12 = a_row_offset(z, m0 + 12u);
  let r13 = a_row_offset(z, m0 + 13u);
  let r14 = a_row_offset(z, m0 + 14u);
  let r15 = a_row_offset(z, m0 + 15u);
  var bk = b_cursor(z, panel); // k-row 0 of the panel; load_b(bk + k * B_KSTEP, column)
  // cIJ: row m0 + I, columns n0 + 32 J + [0, 4) (n0 = 64 panel + 4 lane).
  var c0_0 = vec4f(0.0); var c0_1 = vec4f(0.0);
  var c1_0 = vec4f(0.0); var c1_1 = vec4f(0.0);
  var c2_0 = vec4f(0.0); var c2_1 = vec4f(0.0);
  var c3_0 = vec4f(0.0); var c3_1 = vec4f(0.0);
  var c4_0 = vec4f(0.0); var c4_1 = vec4f(0.0);
  var c5_0 = vec4f(0.0); var c5_1 = vec4f(0.0);
  var c6_0 = vec4f(0.0); var c6_1 = vec4f(0.0);
  var c7_0 = vec4f(0.0); var c7_1 = vec4f(0.0);
  var c8_0 = vec4f(0.0); var c8_1 = vec4f(0.0);
  var c9_0 = vec4f(0.0); var c9_1 = vec4f(0.0);
  var c10_0 = vec4f(0.0); var c10_1 = vec4f(0.0);
  var c11_0 = vec4f(0.0); var c11_1 = vec4f(0.0);
  var c12_0 = vec4f(0.0); var c12_1 = vec4f(0.0);
  var c13_0 = vec4f(0.0); var c13_1 = vec4f(0.0);
  var c14_0 = vec4f(0.0); var c14_1 = vec4f(0.0);
  var c15_0 = vec4f(0.0); var c15_1 = vec4f(0.0);

  let k4 = p.k / 4u;
  for (var kq = 0u; kq < k4; kq++) {
    // Four k-rows of this lane's two B vec4s (columns 4 lane.. and 32 + 4 lane..).
    let b00 = load_b(bk, lane);
    let b01 = load_b(bk, lane + LANES);
    let b10 = load_b(bk + B_KSTEP, lane);
    let b11 = load_b(bk + B_KSTEP, lane + LANES);
    let b20 = load_b(bk + 2u * B_KSTEP, lane);
    let b21 = load_b(bk + 2u * B_KSTEP, lane + LANES);
    let b30 = load_b(bk + 3u * B_KSTEP, lane);
    let b31 = load_b(bk + 3u * B_KSTEP, lane + LANES);
    bk += 4u * B_KSTEP;
    let av0 = load_a4(r0, kq);
    let av1 = load_a4(r1, kq);
    let av2 = load_a4(r2, kq);
    let av3 = load_a4(r3, kq);
    let av4 = load_a4(r4, kq);
    let av5 = load_a4(r5, kq);
    let av6 = load_a4(r6, kq);
    let av7 = load_a4(r7, kq);
    let av8 = load_a4(r8, kq);
    let av9 = load_a4(r9, kq);
    let av10 = load_a4(r10, kq);
    let av11 = load_a4(r11, kq);
    let av12 = load_a4(r12, kq);
    let av13 = load_a4(r13, kq);
    let av14 = load_a4(r14, kq);
    let av15 = load_a4(r15, kq);
    c0_0 = madd4(av0, b00, b10, b20, b30, c0_0);
    c0_1 = madd4(av0, b01, b11, b21, b31, c0_1);
    c1_0 = madd4(av1, b00, b10, b20, b30, c1_0);
    c1_1 = madd4(av1, b01, b11, b21, b31, c1_1);
    c2_0 = madd4(av2, b00, b10, b20, b30, c2_0);
    c2_1 = madd4(av2, b01, b11, b21, b31, c2_1);
    c3_0 = madd4(av3, b00, b10, b20, b30, c3_0);
    c3_1 = madd4(av3, b01, b11, b21, b31, c3_1);
    c4_0 = madd4(av4, b00, b10, b20, b30, c4_0);
    c4_1 = madd4(av4, b01, b11, b21, b31, c4_1);
    c5_0 = madd4(av5, b00, b10, b20, b30, c5_0);
    c5_1 = madd4(av5, b01, b11, b21, b31, c5_1);
    c6_0 = madd4(av6, b00, b10, b20, b30, c6_0);
    c6_1 = madd4(av6, b01, b11, b21, b31, c6_1);
    c7_0 = madd4(av7, b00, b10, b20, b30, c7_0);
    c7_1 = madd4(av7, b01, b11, b21, b31, c7_1);
    c8_0 = madd4(av8, b00, b10, b20, b30, c8_0);
    c8_1 = madd4(av8, b01, b11, b21, b31, c8_1);
    c9_0 = madd4(av9, b00, b10, b20, b30, c9_0);
    c9_1 = madd4(av9, b01, b11, b21, b31, c9_1);
    c10_0 = madd4(av10, b00, b10, b20, b30, c10_0);
    c10_1 = madd4(av10, b01, b11, b21, b31, c10_1);
    c11_0 = madd4(av11, b00, b10, b20, b30, c11_0);
    c11_1 = madd4(av11, b01, b11, b21, b31, c11_1);
    c12_0 = madd4(av12, b00, b10, b20, b30, c12_0);
    c12_1 = madd4(av12, b01, b11, b21, b31, c12_1);
    c13_0 = madd4(av13, b00, b10, b20, b30, c13_0);
    c13_1 = madd4(av13, b01, b11, b21, b31, c13_1);
    c14_0 = madd4(av14, b00, b10, b20, b30, c14_0);
    c14_1 = madd4(av14, b01, b11, b21, b31, c14_1);
    c15_0 = madd4(av15, b00, b10, b20, b30, c15_0);
    c15_1 = madd4(av15, b01, b11, b21, b31, c15_1);
  }
  // K tail (k % 4 != 0): one k-row at a time.
  for (var k = k4 * 4u; k < p.k; k++) {
    let b0 = load_b(bk, lane);
    let b1 = load_b(bk, lane + LANES);
    bk += B_KSTEP;
    let av0 = vec4f(load_a1(r0, k));
    c0_0 = fma(av0, b0, c0_0);
    c0_1 = fma(av0, b1, c0_1);
    let av1 = vec4f(load_a1(r1, k));
    c1_0 = fma(av1, b0, c1_0);
    c1_1 = fma(av1, b1, c1_1);
    let av2 = vec4f(load_a1(r2, k));
    c2_0 = fma(av2, b0, c2_0);
    c2_1 = fma(av2, b1, c2_1);
    let av3 = vec4f(load_a1(r3, k));
    c3_0 = fma(av3, b0, c3_0);
    c3_1 = fma(av3, b1, c3_1);
    let av4 = vec4f(load_a1(r4, k));
    c4_0 = fma(av4, b0, c4_0);
    c4_1 = fma(av4, b1, c4_1);
    let av5 = vec4f(load_a1(r5, k));
    c5_0 = fma(av5, b0, c5_0);
    c5_1 = fma(av5, b1, c5_1);
    let av6 = vec4f(load_a1(r6, k));
    c6_0 = fma(av6, b0, c6_0);
    c6_1 = fma(av6, b1, c6_1);
    let av7 = vec4f(load_a1(r7, k));
    c7_0 = fma(av7, b0, c7_0);
    c7_1 = fma(av7, b1, c7_1);
    let av8 = vec4f(load_a1(r8, k));
    c8_0 = fma(av8, b0, c8_0);
    c8_1 = fma(av8, b1, c8_1);
    let av9 = vec4f(load_a1(r9, k));
    c9_0 = fma(av9, b0, c9_0);
    c9_1 = fma(av9, b1, c9_1);
    let av10 = vec4f(load_a1(r10, k));
    c10_0 = fma(av10, b0, c10_0);
    c10_1 = fma(av10, b1, c10_1);
    let av11 = vec4f(load_a1(r11, k));
    c11_0 = fma(av11, b0, c11_0);
    c11_1 = fma(av11, b1, c11_1);
    let av12 = vec4f(load_a1(r12, k));
    c12_0 = fma(av12, b0, c12_0);
    c12_1 = fma(av12, b1, c12_1);
    let av13 = vec4f(load_a1(r13, k));
    c13_0 = fma(av13, b0, c13_0);
    c13_1 = fma(av13, b1, c13_1);
    let av14 = vec4f(load_a1(r14, k));
    c14_0 = fma(av14, b0, c14_0);
    c14_1 = fma(av14, b1, c14_1);
    let av15 = vec4f(load_a1(r15, k));
    c15_0 = fma(av15, b0, c15_0);
    c15_1 = fma(av15, b1, c15_1);
  }

  // Epilogue: alpha, bias, residual, activation, store (gemm_store_*.wgsl).
  let n0 = panel * PANEL4 * 4u + lane * 4u;
  store_row(z, m0 + 0u, n0, c0_0, c0_1);
  store_row(z, m0 + 1u, n0, c1_0, c1_1);
  store_row(z, m0 + 2u, n0, c2_0, c2_1);
  store_row(z, m0 + 3u, n0, c3_0, c3_1);
  store_row(z, m0 + 4u, n0, c4_0, c4_1);
  store_row(z, m0 + 5u, n0, c5_0, c5_1);
  store_row(z, m0 + 6u, n0, c6_0, c6_1);
  store_row(z, m0 + 7u, n0, c7_0, c7_1);
  store_row(z, m0 + 8u, n0, c8_0, c8_1);
  store_row(z, m0 + 9u, n0, c9_0, c9_1);
  store_row(z, m0 + 10u, n0, c10_0, c10_1);
  store_row(z, m0 + 11u, n0, c11_0, c11_1);
  store_row(z, m0 + 12u, n0, c12_0, c12_1);
  store_row(z, m0 + 13u, n0, c13_0, c13_1);
  store_row(z, m0 + 14u, n0, c14_0, c14_1);
  store_row(z, m0 + 15u, n0, c15_0, c15_1);
  finish_tile(z, m0, panel, lane);
}
