// Element type of depthwise_nhwc.wgsl for any C: one channel per element.
alias V = f32;

fn act_v(v: V) -> V {
  return activate(v);
}
