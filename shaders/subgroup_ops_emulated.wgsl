// The operations of subgroup_ops.wgsl emulated in workgroup memory, with
// subgroups of SUBGROUP consecutive invocations (a power of two dividing
// WG). Adapters without the "subgroups" feature (lavapipe) run
// shaders/subgroup_reduce.wgsl through this, so its combining logic is
// tested at several subgroup widths; it is never used for results.

override SUBGROUP: u32 = 8u;

var<workgroup> sgScratch: array<f32, WG>;

fn sgSum(v: f32, lid: u32) -> f32 {
  workgroupBarrier();
  sgScratch[lid] = v;
  workgroupBarrier();
  let first = lid / SUBGROUP * SUBGROUP;
  var s = 0.0;
  for (var i = 0u; i < SUBGROUP; i++) { s += sgScratch[first + i]; }
  workgroupBarrier();
  return s;
}

fn sgMax(v: f32, lid: u32) -> f32 {
  workgroupBarrier();
  sgScratch[lid] = v;
  workgroupBarrier();
  let first = lid / SUBGROUP * SUBGROUP;
  var m = sgScratch[first];
  for (var i = 1u; i < SUBGROUP; i++) { m = max(m, sgScratch[first + i]); }
  workgroupBarrier();
  return m;
}

fn sgFirst(lid: u32) -> u32 {
  return lid / SUBGROUP * SUBGROUP;
}

fn sgWidth(lid: u32) -> u32 {
  return SUBGROUP;
}
