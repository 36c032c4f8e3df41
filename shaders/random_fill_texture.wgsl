// random_fill.wgsl for textures: every component of every texel gets a
// reproducible value in [-1, 1) from its index
//   i = ((layer * height + y) * width + x) * 4 + component.
// The texture and its format come from a target snippet placed before this
// file (random_fill_target_*.wgsl), which binds it and defines store_texel;
// the grid's z runs over the layers of an array texture.

struct Params {
  width: u32,
  height: u32,
  seed: u32,
}

@group(0) @binding(0) var<uniform> p: Params;

fn hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn texel(x: u32, y: u32, layer: u32) -> vec4f {
  let first = ((layer * p.height + y) * p.width + x) * 4u;
  var v = vec4f(0.0);
  for (var j = 0u; j < 4u; j++) {
    v[j] = f32(hash((first + j) ^ hash(p.seed)) >> 8u) * (2.0 / 16777216.0) - 1.0;
  }
  return v;
}

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x >= p.width || g.y >= p.height) { return; }
  store_texel(g.x, g.y, g.z, texel(g.x, g.y, g.z));
}
