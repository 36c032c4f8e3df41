// Fills a buffer with reproducible pseudo-random values in [-1, 1):
//   x[i] = 2 * hash(i, seed) / 2^32 - 1
// hash is a PCG-style integer permutation (multiply, add, xorshift), so the
// values are the same on every adapter. Used to give autotuning candidates
// inputs that expose wrong results (zeros would hide most mistakes).
// The grid may be split over x and y (src/gpu/kernel.ts splitGrid).

struct Params {
  n: u32,
  seed: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x: array<f32>;

fn hash(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.n) { return; }
  // 24 random bits: exactly representable, so the value is the same everywhere.
  let r = hash(i ^ hash(p.seed)) >> 8u;
  x[i] = f32(r) * (2.0 / 16777216.0) - 1.0;
}
