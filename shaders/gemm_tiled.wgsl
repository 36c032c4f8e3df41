// GEMM for hardware GPUs (chosen per adapter: src/gpu/kernel_path.ts); same
// operands, parameters and epilogue as gemm.wgsl (gemm_common.wgsl and the
// A / B / output snippets), different shape:
//   * a workgroup of 256 invocations (8 warps / 4 wavefronts) computes a
//     TM x (64 PN) tile of C: TM = 32, 64 or 128 rows, PN = 1 or 2 packed
//     panels (override constants; the tilings are named in src/ops/gemm.ts
//     and chosen per shape by the autotuner, src/gpu/autotune.ts);
//   * K advances in stages of TK = 16: the workgroup first copies the A
//     tile (TM x 16, vec4 loads along k, consecutive invocations read
//     consecutive addresses) and the B tile (16 x 64 PN, rows of the packed
//     panels: contiguous) into workgroup memory, then every invocation
//     multiplies from there;
//   * invocation (tx, ty) of the 16 x 16 grid keeps TM / 16 rows (ty + 16 i)
//     x PN vec4 columns (4 tx + 64 j) in registers: up to 8 x 2 vec4 = 64
//     accumulators. Reading A, the 16 invocations of a ty read one address
//     (a broadcast) and those of a tx consecutive ones; reading B, consecutive
//     tx read consecutive vec4s: no bank conflicts in the inner loop.
// Rows past M are clamped on load and skipped on store; k past K is loaded
// as zeros, so the last stage needs no tail loop.

override TM: u32 = 64u; // rows per tile (multiple of 16, at most 128)
override PN: u32 = 1u;  // 64-column panels per tile (1 or 2)

const TK = 16u;       // k per stage
const THREADS = 256u; // 16 x 16
const MAX_TM = 128u;
const MAX_PN = 2u;

var<workgroup> a_s: array<f32, TK * MAX_TM>;            // [k][row]
var<workgroup> b_s: array<vec4f, TK * MAX_PN * PANEL4>; // [k][panel column4]

// Stage k0 .. k0 + 15 of the A tile (rows m0 ..) into a_s, zeros past K.
fn load_a_stage(t: u32, z: u32, m0: u32, k0: u32) {
  for (var i = t; i < TM * 4u; i += THREADS) {
    let r = i / 4u;
    let k = k0 + 4u * (i % 4u);
    let row = a_row_offset(z, m0 + r);
    var v = vec4f(0.0);
    if (k + 3u < p.k) {
      v = load_a4(row, k / 4u);
    } else {
      for (var j = 0u; j < 4u; j++) {
        if (k + j < p.k) { v[j] = load_a1(row, k + j); }
      }
    }
    let s = (k - k0) * TM + r;
    a_s[s] = v.x;
    a_s[s + TM] = v.y;
    a_s[s + 2u * TM] = v.z;
    a_s[s + 3u * TM] = v.w;
  }
}

// Stage k0 .. k0 + 15 of panels panel0 .. panel0 + PN - 1 into b_s, zeros
// past K and past the last panel.
fn load_b_stage(t: u32, z: u32, panel0: u32, k0: u32) {
  let width = PN * PANEL4;
  for (var i = t; i < TK * width; i += THREADS) {
    let k = k0 + i / width;
    let col = i % width;
    let panel = panel0 + col / PANEL4;
    var v = vec4f(0.0);
    if (k < p.k && panel < p.panels) {
      v = load_b(b_cursor(z, panel) + k * B_KSTEP, col % PANEL4);
    }
    b_s[i] = v;
  }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) t: u32) {
  let wg = wid.x + wid.y * nwg.x;
  let col_tiles = (p.panels + PN - 1u) / PN;
  if (wg >= p.row_blocks * col_tiles) { return; }
  let z = wid.z;
  let m0 = (wg % p.row_blocks) * TM;
  let panel0 = (wg / p.row_blocks) * PN;
  let tx = t % 16u;
  let ty = t / 16u;
  let rows = TM / 16u;

  var acc: array<array<vec4f, MAX_PN>, MAX_TM / 16u>;
  for (var k0 = 0u; k0 < p.k; k0 += TK) {
    load_a_stage(t, z, m0, k0);
    load_b_stage(t, z, panel0, k0);
    workgroupBarrier();
    for (var kk = 0u; kk < TK; kk++) {
      var b: array<vec4f, MAX_PN>;
      for (var j = 0u; j < PN; j++) { b[j] = b_s[(kk * PN + j) * PANEL4 + tx]; }
      for (var i = 0u; i < rows; i++) {
        let a = vec4f(a_s[kk * TM + ty + 16u * i]);
        for (var j = 0u; j < PN; j++) { acc[i][j] = fma(a, b[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }

  // Epilogue: alpha, bias, residual, activation, store (gemm_out_*.wgsl).
  for (var i = 0u; i < rows; i++) {
    for (var j = 0u; j < PN; j++) {
      store4(z, m0 + ty + 16u * i, (panel0 + j) * PANEL4 * 4u + 4u * tx, acc[i][j]);
    }
  }
}
