// workgroupMax / workgroupSum (the interface of workgroup_reduce.wgsl) on
// subgroups: each subgroup reduces in registers (sgSum / sgMax from
// subgroup_ops.wgsl, or its emulation), its first invocation writes the
// subgroup's result to slot first / width, and every invocation adds the
// WG / width slots in the same order, so the result is deterministic. Two
// barriers per reduction instead of the tree's log2(WG) + 2.
//
// The slots assume that a subgroup is a run of consecutive invocation
// indices, which WGSL does not promise; the kernel check (src/gpu/
// autotune.ts) compares this against the tree reduction on the adapter
// before it is used, so an adapter that lays subgroups out otherwise keeps
// the tree.

var<workgroup> sgPartial: array<f32, WG>;

fn workgroupSum(v: f32, lid: u32) -> f32 {
  let own = sgSum(v, lid);
  let width = sgWidth(lid);
  let first = sgFirst(lid);
  if (lid == first) { sgPartial[first / width] = own; }
  workgroupBarrier();
  var total = 0.0;
  for (var i = 0u; i < (WG + width - 1u) / width; i++) { total += sgPartial[i]; }
  workgroupBarrier();
  return total;
}

fn workgroupMax(v: f32, lid: u32) -> f32 {
  let own = sgMax(v, lid);
  let width = sgWidth(lid);
  let first = sgFirst(lid);
  if (lid == first) { sgPartial[first / width] = own; }
  workgroupBarrier();
  var total = sgPartial[0];
  for (var i = 1u; i < (WG + width - 1u) / width; i++) { total = max(total, sgPartial[i]); }
  workgroupBarrier();
  return total;
}
