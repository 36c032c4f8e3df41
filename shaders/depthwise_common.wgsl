// What both depthwise kernels share (depthwise_nhwc.wgsl for software
// adapters, depthwise_nhwc_gpu.wgsl for GPUs): parameters, bindings, loads
// and the epilogue of a depthwise 2-D convolution on channels-last maps:
//   y[b, i, j, c] = act(sum_{u, v} w[u, v, c] * x[b, i * s - ph + u, j * s - pw + v, c]
//                       + bias[c] + res[b, i, j, c])
// with zero padding, x [B, H, W, C], w [kh, kw, C] (channels contiguous),
// y and res [B, Ho, Wo, C]. V is the element type (depthwise_vec4.wgsl: 4
// channels, C % 4 == 0; depthwise_scalar.wgsl: 1 channel) and load_w reads
// the weights (depthwise_w_uniform.wgsl or depthwise_w_storage.wgsl), both
// prepended with activation.wgsl (activate / activate4, override ACT) by the
// op. One dispatch covers the channels of one weight chunk (cv0 ..).

struct Params {
  h: u32, w: u32, cv: u32, ho: u32,  // cv: elements of V per pixel (C / 4 or C)
  wo: u32, kh: u32, ph: u32, pw: u32,
  strips: u32,                       // strips per row: ceil(wo / strip)
  row_groups: u32,                   // ceil(ho / rows per invocation)
  cv0: u32,                          // first channel element of this dispatch's weight chunk
  wcv: u32,                          // channel elements per tap in the weights
  batch: u32,
}

override KW: u32 = 3u;      // kernel width (the tap loop has a constant trip count)
override STRIDE: u32 = 1u;  // 1 or 2 (both directions)
override HAS_BIAS: bool = false;
override HAS_RES: bool = false;

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

