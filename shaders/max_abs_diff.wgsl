// How far a candidate kernel's output `a` is from a reference output `b`:
//   result[0] = max_i |a_i - b_i|,   result[1] = max_i |b_i|
// as the bits of non-negative f32s, whose unsigned order is their numeric
// order; a NaN or infinity anywhere gives bits >= 0x7f800000, which the host
// reads as "not finite". Each invocation scans ITEMS elements, a workgroup
// combines its invocations with workgroup atomics, and one global atomicMax
// per workgroup keeps contention low.
// The grid may be split over x and y (src/gpu/kernel.ts splitGrid).

struct Params {
  n: u32,
}

override WG: u32 = 256u;
override ITEMS: u32 = 16u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> result: array<atomic<u32>, 2>;

var<workgroup> wgDiff: atomic<u32>;
var<workgroup> wgRef: atomic<u32>;

// |v| as bits: clearing the sign bit orders finite values and sends NaN / inf
// to the top without a comparison a compiler could fold away.
fn absBits(v: f32) -> u32 {
  return bitcast<u32>(v) & 0x7fffffffu;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  if (lid == 0u) {
    atomicStore(&wgDiff, 0u);
    atomicStore(&wgRef, 0u);
  }
  workgroupBarrier();
  let first = (wid.x + wid.y * nwg.x) * WG * ITEMS + lid;
  var diff = 0u;
  var refMax = 0u;
  for (var j = 0u; j < ITEMS; j++) {
    let i = first + j * WG;
    if (i < p.n) {
      // A NaN or infinity in `a` counts as not finite whatever a - b gives.
      let nonFinite = (bitcast<u32>(a[i]) & 0x7f800000u) == 0x7f800000u;
      diff = max(diff, select(absBits(a[i] - b[i]), 0x7f800000u, nonFinite));
      refMax = max(refMax, absBits(b[i]));
    }
  }
  atomicMax(&wgDiff, diff);
  atomicMax(&wgRef, refMax);
  workgroupBarrier();
  if (lid == 0u) {
    atomicMax(&result[0], atomicLoad(&wgDiff));
    atomicMax(&result[1], atomicLoad(&wgRef));
  }
}
