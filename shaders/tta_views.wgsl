// Test-time-augmentation views: out[b * V + v] = crop r_v of image b, mirrored
// left-right when flip_v is set. The host prepared R crops per image
// ([B * R, 3, H, W]); the views (and their flips) are made here, so the
// flipped copies never cross the bus.

struct Params {
  images: u32,   // B
  crops: u32,    // R, crops per image in `x`
  views: u32,    // V, views per image in `out`
  height: u32,
  width: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
// Per view: (crop index, flip 0/1).
@group(0) @binding(2) var<storage, read> table: array<vec2u>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  let plane = p.height * p.width;
  if (i >= p.images * p.views * 3u * plane) { return; }
  let bv = i / (3u * plane);
  let rest = i % (3u * plane);
  let c = rest / plane;
  let y = (rest % plane) / p.width;
  let xo = rest % p.width;
  let b = bv / p.views;
  let view = table[bv % p.views];
  let xs = select(xo, p.width - 1u - xo, view.y == 1u);
  out[i] = x[((b * p.crops + view.x) * 3u + c) * plane + y * p.width + xs];
}
