// Weights of depthwise_nhwc.wgsl (vec4 channels) in a 64 KiB uniform block:
// one chunk of channels, [kh * kw][wcv] vec4s. llvmpipe loads a uniform
// block element whose index is the same in all lanes once, where a storage
// load costs a scalar load per lane and component.
@group(0) @binding(2) var<uniform> wt: array<vec4f, 4096>;

fn load_w(i: u32) -> V {
  return wt[i];
}
