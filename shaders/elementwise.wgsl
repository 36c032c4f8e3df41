// Element-wise ops on flat f32 tensors: out[i] = f(a[i], b[i]).
// OP: 0 add, 1 mul, 2 relu(a), 3 add then relu, 4 a * scale + shift, 5 tanh(a).
// The grid may be split over x and y (see src/gpu/kernel.ts splitGrid).

struct Params {
  n: u32,
  scale: f32,
  shift: f32,
}

override OP: u32 = 0u;
override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) { return; }
  let x = a[i];
  var y: f32;
  switch OP {
    case 0u: { y = x + b[i]; }
    case 1u: { y = x * b[i]; }
    case 2u: { y = max(x, 0.0); }
    case 3u: { y = max(x + b[i], 0.0); }
    case 5u: { y = tanh(clamp(x, -15.0, 15.0)); } // tanh(±15) is ±1 in f32; avoids exp overflow
    default: { y = x * p.scale + p.shift; }
  }
  out[i] = y;
}
