// What both GEMM kernels share (shaders/gemm.wgsl for software adapters,
// shaders/gemm_tiled.wgsl for GPUs): the parameters, the epilogue switches,
// the packed-panel width and where A rows and C elements are.
//   C[z, m, n] = act(alpha * sum_k A[z, m, k] * B[z, k, n] + bias[n] + R[z, m, n])
// (or bias[m] with BIAS_PER_ROW); C may be split in column groups (c_index).

struct Params {
  m: u32, n: u32, k: u32, panels: u32,
  a_batch: u32,     // A batch stride (floats)
  a_row: u32,       // A row stride (floats)
  bp_batch: u32,    // packed-B batch stride (vec4s)
  c_batch: u32,     // C / R batch stride (floats)
  alpha: f32,
  row_blocks: u32,  // ceil(m / rows per workgroup tile)
  a_off: u32,       // A element offset (floats; a multiple of 4 for load_a4 of gemm_a_vec4)
  c_off: u32,       // C / R element offset (floats)
  bias_off: u32,    // bias element offset
  col_group: u32,   // C columns come in groups of col_group (= n for a plain matrix) ...
  group_stride: u32, // ... that are group_stride floats apart; C rows are col_group apart
  c_col0: u32,      // column n of this product is column c_col0 + n of C (a chunk of columns)
}

override HAS_BIAS: bool = false;
override BIAS_PER_ROW: bool = false; // bias[m] (convolutions) instead of bias[n]
override HAS_RES: bool = false;

const PANEL4 = 16u; // vec4 columns per packed B panel (64 floats, gemm_pack.wgsl)

@group(0) @binding(0) var<uniform> p: Params;
// binding 1 (packed B): declared by the B snippet (gemm_b_buffer.wgsl or
// gemm_b_texture.wgsl); bindings 2-4 (bias, residual, C): by the output
// snippet (gemm_out_vec4.wgsl or gemm_out_scalar.wgsl); binding 5 (A): by
// the A snippet (gemm_a_vec4.wgsl, gemm_a_scalar.wgsl or gemm_a_texture.wgsl).

// activate / activate4 and their override ACT: shaders/activation.wgsl
// (prepended by the op, with gelu.wgsl).

// Where C[z, m, n] (and R[z, m, n]) is. A convolution multiplies all the
// pixels of several images at once (column = image * pixels + pixel) and
// writes NCHW: col_group = pixels per image, group_stride = channels * pixels.
fn c_index(z: u32, m: u32, n: u32) -> u32 {
  let col = p.c_col0 + n;
  let g = col / p.col_group;
  return p.c_off + z * p.c_batch + g * p.group_stride + m * p.col_group + (col - g * p.col_group);
}

// Rows past M are clamped to the last row (valid memory; never stored).
fn a_row_offset(z: u32, m: u32) -> u32 {
  return p.a_off + z * p.a_batch + min(m, p.m - 1u) * p.a_row;
}
