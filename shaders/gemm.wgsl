// GEMM tuned for software rasterizers (llvmpipe/lavapipe), correct anywhere:
//   C[z, m, n] = act(alpha * sum_k A[z, m, k] * B[z, k, n] + bias[n] + R[z, m, n])
// (or bias[m] with BIAS_PER_ROW); C may be split in column groups (c_index).
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
//   * each lane owns a register tile of 8 rows x 2 vec4 columns (64 outputs)
//     and reuses every loaded B vec4 for 8 rows and every A value
//     (same address in all lanes) for 8 columns;
//   * A is read 4 k at a time (load_a4, from gemm_a_vec4 / gemm_a_scalar);
//   * the output is stored as vec4s without any barrier where N allows it
//     (gemm_store_vec4), else through a workgroup tile (gemm_store_scalar).
// Rows past M are clamped on load and skipped on store; K is split into
// full chunks of 4 plus a scalar tail.

struct Params {
  m: u32, n: u32, k: u32, panels: u32,
  a_batch: u32,     // A batch stride (floats)
  a_row: u32,       // A row stride (floats)
  bp_batch: u32,    // packed-B batch stride (vec4s)
  c_batch: u32,     // C / R batch stride (floats)
  alpha: f32,
  row_blocks: u32,  // ceil(m / 8)
  a_off: u32,       // A element offset (floats; a multiple of 4 for load_a4 of gemm_a_vec4)
  c_off: u32,       // C / R element offset (floats)
  bias_off: u32,    // bias element offset
  col_group: u32,   // C columns come in groups of col_group (= n for a plain matrix) ...
  group_stride: u32, // ... that are group_stride floats apart; C rows are col_group apart
  c_col0: u32,      // column n of this product is column c_col0 + n of C (a chunk of columns)
}

override ACT: u32 = 0u;  // 0 none, 1 relu, 2 gelu
override HAS_BIAS: bool = false;
override BIAS_PER_ROW: bool = false; // bias[m] (convolutions) instead of bias[n]
override HAS_RES: bool = false;

const RM = 8u;   // rows per tile
const LANES = 8u; // workgroup size
const PANEL4 = 16u; // vec4 columns per panel (2 per lane)

@group(0) @binding(0) var<uniform> p: Params;
// binding 1 (packed B): declared by the B snippet (gemm_b_buffer.wgsl or
// gemm_b_texture.wgsl); bindings 2-4 (bias, residual, C): by the store
// snippet (gemm_store_vec4.wgsl or gemm_store_scalar.wgsl); binding 5 (A): by
// the A snippet (gemm_a_vec4.wgsl, gemm_a_scalar.wgsl or gemm_a_texture.wgsl).

fn activate(x: f32) -> f32 {
  switch ACT {
    case 1u: { return max(x, 0.0); }
    case 2u: { return gelu(x); }
    default: { return x; }
  }
}

fn activate4(x: vec4f) -> vec4f {
  switch ACT {
    case 1u: { return max(x, vec4f(0.0)); }
    case 2u: { return gelu4(x); }
    default: { return x; }
  }
}

// Where C[z, m, n] (and R[z, m, n]) is. A convolution multiplies all the
// pixels of several images at once (column = image * pixels + pixel) and
// writes NCHW: col_group = pixels per image, group_stride = channels * pixels.
fn c_index(z: u32, m: u32, n: u32) -> u32 {
  let col = p.c_col0 + n;
  let g = col / p.col_group;
  return p.c_off + z * p.c_batch + g * p.group_stride + m * p.col_group + (col - g * p.col_group);
}

fn a_row_offset(z: u32, m: u32) -> u32 {
  return p.a_off + z * p.a_batch + min(m, p.m - 1u) * p.a_row;
}

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
  // 8-row tile is written out by hand: left as a loop over arrays, the
  // accumulators were not kept in registers (measured 1.3-1.6x slower).
  let r0 = a_row_offset(z, m0 + 0u);
  let r1 = a_row_offset(z, m0 + 1u);
  let r2 = a_row_offset(z, m0 + 2u);
  let r3 = a_row_offset(z, m0 + 3u);
  let r4 = a_row_offset(z, m0 + 4u);
  let r5 = a_row_offset(z, m0 + 5u);
  let r6 = a_row_offset(z, m0 + 6u);
  let r7 = a_row_offset(z, m0 + 7u);
  var bk = b_cursor(z, panel); // k-row 0 of the panel; load_b(bk + k * B_KSTEP, column)
  // cIJ: row m0 + I, columns n0 + 32 J + [0, 4) (n0 = 64 panel + 4 lane).
  var c00 = vec4f(0.0); var c01 = vec4f(0.0);
  var c10 = vec4f(0.0); var c11 = vec4f(0.0);
  var c20 = vec4f(0.0); var c21 = vec4f(0.0);
  var c30 = vec4f(0.0); var c31 = vec4f(0.0);
  var c40 = vec4f(0.0); var c41 = vec4f(0.0);
  var c50 = vec4f(0.0); var c51 = vec4f(0.0);
  var c60 = vec4f(0.0); var c61 = vec4f(0.0);
  var c70 = vec4f(0.0); var c71 = vec4f(0.0);

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
    c00 = madd4(av0, b00, b10, b20, b30, c00);
    c01 = madd4(av0, b01, b11, b21, b31, c01);
    c10 = madd4(av1, b00, b10, b20, b30, c10);
    c11 = madd4(av1, b01, b11, b21, b31, c11);
    c20 = madd4(av2, b00, b10, b20, b30, c20);
    c21 = madd4(av2, b01, b11, b21, b31, c21);
    c30 = madd4(av3, b00, b10, b20, b30, c30);
    c31 = madd4(av3, b01, b11, b21, b31, c31);
    c40 = madd4(av4, b00, b10, b20, b30, c40);
    c41 = madd4(av4, b01, b11, b21, b31, c41);
    c50 = madd4(av5, b00, b10, b20, b30, c50);
    c51 = madd4(av5, b01, b11, b21, b31, c51);
    c60 = madd4(av6, b00, b10, b20, b30, c60);
    c61 = madd4(av6, b01, b11, b21, b31, c61);
    c70 = madd4(av7, b00, b10, b20, b30, c70);
    c71 = madd4(av7, b01, b11, b21, b31, c71);
  }
  // K tail (k % 4 != 0): one k-row at a time.
  for (var k = k4 * 4u; k < p.k; k++) {
    let b0 = load_b(bk, lane);
    let b1 = load_b(bk, lane + LANES);
    bk += B_KSTEP;
    let av0 = vec4f(load_a1(r0, k));
    c00 = fma(av0, b0, c00);
    c01 = fma(av0, b1, c01);
    let av1 = vec4f(load_a1(r1, k));
    c10 = fma(av1, b0, c10);
    c11 = fma(av1, b1, c11);
    let av2 = vec4f(load_a1(r2, k));
    c20 = fma(av2, b0, c20);
    c21 = fma(av2, b1, c21);
    let av3 = vec4f(load_a1(r3, k));
    c30 = fma(av3, b0, c30);
    c31 = fma(av3, b1, c31);
    let av4 = vec4f(load_a1(r4, k));
    c40 = fma(av4, b0, c40);
    c41 = fma(av4, b1, c41);
    let av5 = vec4f(load_a1(r5, k));
    c50 = fma(av5, b0, c50);
    c51 = fma(av5, b1, c51);
    let av6 = vec4f(load_a1(r6, k));
    c60 = fma(av6, b0, c60);
    c61 = fma(av6, b1, c61);
    let av7 = vec4f(load_a1(r7, k));
    c70 = fma(av7, b0, c70);
    c71 = fma(av7, b1, c71);
  }

  // Epilogue: alpha, bias, residual, activation, store (gemm_store_*.wgsl).
  let n0 = panel * PANEL4 * 4u + lane * 4u;
  store_row(z, m0 + 0u, n0, c00, c01);
  store_row(z, m0 + 1u, n0, c10, c11);
  store_row(z, m0 + 2u, n0, c20, c21);
  store_row(z, m0 + 3u, n0, c30, c31);
  store_row(z, m0 + 4u, n0, c40, c41);
  store_row(z, m0 + 5u, n0, c50, c51);
  store_row(z, m0 + 6u, n0, c60, c61);
  store_row(z, m0 + 7u, n0, c70, c71);
  finish_tile(z, m0, panel, lane);
}
