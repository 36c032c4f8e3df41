// Depthwise 2-D convolution on channels-last activations for hardware GPUs
// (parameters, loads and epilogue: depthwise_common.wgsl; weights always in
// a storage buffer, depthwise_w_storage.wgsl).
//
// Why this shape: on a GPU the invocations of a warp should read
// consecutive addresses. Channels are innermost in NHWC, so the 64
// invocations of a workgroup take 64 consecutive channel elements (V) of
// the same output pixels: every input, weight and output access of the
// workgroup is one contiguous run. Each invocation computes STRIP output
// pixels of one row (one channel element), reading each tap's input
// directly: neighbouring taps hit the same cache lines, which L1 serves.
// Grid: x = groups of 64 channel elements of the chunk, y (and z past the
// per-dimension limit) = strips over all images and output rows.

const WG = 64u;
const STRIP = 4u; // output pixels per invocation (p.strips = ceil(wo / STRIP), p.row_groups = ho)

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lane: u32) {
  let local = wid.x * WG + lane; // channel element within the weight chunk
  let cv = p.cv0 + local;
  let s = wid.y + wid.z * nwg.y; // strip index over images and rows (uniform per workgroup)
  let per_image = p.ho * p.strips;
  if (local >= p.wcv || cv >= p.cv || s >= p.batch * per_image) { return; }
  let b = s / per_image;
  let oy = (s % per_image) / p.strips;
  let ox0 = (s % p.strips) * STRIP;
  let ix0 = i32(ox0 * STRIDE) - i32(p.pw);

  var acc: array<V, STRIP>;
  for (var u = 0u; u < p.kh; u++) {
    let iy = i32(oy * STRIDE + u) - i32(p.ph);
    let row_ok = iy >= 0 && iy < i32(p.h);
    let row = (b * p.h + u32(select(0, iy, row_ok))) * p.w;
    for (var v = 0u; v < KW; v++) {
      let wv = load_w((u * KW + v) * p.wcv + local);
      for (var j = 0u; j < STRIP; j++) {
        acc[j] = fma(load_x(row, row_ok, ix0 + i32(j * STRIDE + v), cv), wv, acc[j]);
      }
    }
  }
  var b0 = V(0.0);
  if (HAS_BIAS) { b0 = bias[cv]; }
  let p0 = (b * p.ho + oy) * p.wo + ox0;
  for (var j = 0u; j < STRIP; j++) { store(p0 + j, ox0 + j, true, cv, b0, acc[j]); }
}
