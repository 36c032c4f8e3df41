// Weights of depthwise_nhwc.wgsl in a storage buffer, [kh * kw][wcv] elements of V.
@group(0) @binding(2) var<storage, read> wt: array<V>;

fn load_w(i: u32) -> V {
  return wt[i];
}
