// Element type of depthwise_nhwc.wgsl when C % 4 == 0: one vec4f holds 4
// consecutive channels of a pixel.
alias V = vec4f;

fn act_v(v: V) -> V {
  return activate4(v);
}
