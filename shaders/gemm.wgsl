// Fast GEMM for software rasterizers (llvmpipe/lavapipe) and GPUs alike:
//   C[z, m, n] = act(alpha * sum_k A[z, m, k] * B[z, k, n] + bias[n] + R[z, m, n])
// (or bias[m] with BIAS_PER_ROW)
//
// Why this shape: a software rasterizer runs the 8 invocations of a
// workgroup as the 8 SIMD lanes of one CPU core. Every storage-buffer load a
// lane makes costs a scalar load per lane per component, and workgroup
// barriers are coroutine switches, so the main loop avoids workgroup memory and
// maximizes FMAs per loaded value (measured ladder: bench/RESULTS.md):
//   * B is pre-packed in column panels of 64 (see gemm_pack.wgsl):
//     Bp[z][panel][k][16 vec4], so the 8 lanes read consecutive vec4s and a
//     workgroup streams one contiguous panel from cache;
//   * each lane owns a register tile of 8 rows x 2 vec4 columns (64 outputs)
//     and reuses every loaded B vec4 for 8 rows and every A value
//     (same address in all lanes) for 8 columns;
//   * A is read 4 k at a time (load_a4, from gemm_a_vec4 / gemm_a_scalar).
// Rows past M are clamped on load and skipped on store; K is split into
// full chunks of 4 plus a scalar tail. One workgroup barrier, before the
// epilogue.

struct Params {
  m: u32, n: u32, k: u32, panels: u32,
  a_batch: u32,     // A batch stride (floats)
  a_row: u32,       // A row stride (floats)
  bp_batch: u32,    // packed-B batch stride (vec4s)
  c_batch: u32,     // C / R batch stride (floats); C rows are n floats apart
  alpha: f32,
  row_blocks: u32,  // ceil(m / 8)
  a_off: u32,       // A element offset (floats; a multiple of 4 for load_a4 of gemm_a_vec4)
  c_off: u32,       // C / R element offset (floats)
  bias_off: u32,    // bias element offset
}

override ACT: u32 = 0u;  // 0 none, 1 relu, 2 gelu
override HAS_BIAS: bool = false;
override BIAS_PER_ROW: bool = false; // bias[m] (convolutions) instead of bias[n]
override HAS_RES: bool = false;

const RM = 8u;   // rows per tile
const LANES = 8u; // workgroup size
const PANEL4 = 16u; // vec4 columns per panel (2 per lane)

var<workgroup> tile: array<vec4f, 128>; // RM x PANEL4 outputs of the workgroup

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> bp: array<vec4f>;
@group(0) @binding(2) var<storage, read> bias: array<f32>;
@group(0) @binding(3) var<storage, read> res: array<f32>;
@group(0) @binding(4) var<storage, read_write> c: array<f32>;
// binding 5: A, declared by the load_a4 snippet.

fn activate(x: f32) -> f32 {
  switch ACT {
    case 1u: { return max(x, 0.0); }
    case 2u: { return gelu(x); }
    default: { return x; }
  }
}

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lane: u32) {
  let wg = wid.x + wid.y * nwg.x;
  if (wg >= p.row_blocks * p.panels) { return; }
  let z = wid.z;
  let m0 = (wg % p.row_blocks) * RM;
  let panel = wg / p.row_blocks;

  // A row offsets, clamped so that the rows past M read valid memory.
  var arow: array<u32, 8>;
  for (var i = 0u; i < RM; i++) {
    arow[i] = p.a_off + z * p.a_batch + min(m0 + i, p.m - 1u) * p.a_row;
  }
  var acc0: array<vec4f, 8>; // columns panel*64 + 4*lane + [0, 4)
  var acc1: array<vec4f, 8>; // columns panel*64 + 32 + 4*lane + [0, 4)
  var bi = z * p.bp_batch + panel * p.k * PANEL4 + lane;

  let k4 = p.k / 4u;
  for (var kq = 0u; kq < k4; kq++) {
    // Four k-rows of this lane's two B vec4s.
    let b00 = bp[bi];
    let b01 = bp[bi + LANES];
    let b10 = bp[bi + PANEL4];
    let b11 = bp[bi + PANEL4 + LANES];
    let b20 = bp[bi + 2u * PANEL4];
    let b21 = bp[bi + 2u * PANEL4 + LANES];
    let b30 = bp[bi + 3u * PANEL4];
    let b31 = bp[bi + 3u * PANEL4 + LANES];
    bi += 4u * PANEL4;
    for (var i = 0u; i < RM; i++) {
      let a = load_a4(arow[i], kq);
      acc0[i] = fma(vec4f(a.x), b00, fma(vec4f(a.y), b10,
                fma(vec4f(a.z), b20, fma(vec4f(a.w), b30, acc0[i]))));
      acc1[i] = fma(vec4f(a.x), b01, fma(vec4f(a.y), b11,
                fma(vec4f(a.z), b21, fma(vec4f(a.w), b31, acc1[i]))));
    }
  }
  // K tail (k % 4 != 0): one k-row at a time.
  for (var k = k4 * 4u; k < p.k; k++) {
    let b0 = bp[bi];
    let b1 = bp[bi + LANES];
    bi += PANEL4;
    for (var i = 0u; i < RM; i++) {
      let a = vec4f(load_a1(arow[i], k));
      acc0[i] = fma(a, b0, acc0[i]);
      acc1[i] = fma(a, b1, acc1[i]);
    }
  }

  // Epilogue. The tile goes through workgroup memory (one barrier per
  // workgroup) so that the bias / residual / activation code is a loop with
  // a run-time trip count: unrolled over the 64 outputs of a lane it took
  // llvmpipe seconds to compile. Lanes then store consecutive columns.
  for (var i = 0u; i < RM; i++) {
    tile[i * PANEL4 + lane] = acc0[i];
    tile[i * PANEL4 + LANES + lane] = acc1[i];
  }
  workgroupBarrier();
  let rows = min(RM, p.m - m0);
  let col0 = panel * PANEL4 * 4u;
  for (var t = lane; t < rows * PANEL4 * 4u; t += LANES) {
    let q = t % (PANEL4 * 4u);
    let n = col0 + q;
    if (n < p.n) {
      let m = m0 + t / (PANEL4 * 4u);
      let idx = p.c_off + z * p.c_batch + m * p.n + n;
      var y = p.alpha * tile[t / 4u][q % 4u];
      if (HAS_BIAS) { y += bias[p.bias_off + select(n, m, BIAS_PER_ROW)]; }
      if (HAS_RES) { y += res[idx]; }
      c[idx] = activate(y);
    }
  }
}
