// The subgroup operations shaders/subgroup_reduce.wgsl is written against,
// on the hardware's subgroups (`lid` is unused here; the emulation in
// subgroup_ops_emulated.wgsl needs it). Every invocation of the workgroup
// must call them together (uniform control flow).

// Sum of `v` over the caller's subgroup.
fn sgSum(v: f32, lid: u32) -> f32 {
  return subgroupAdd(v);
}

// Maximum of `v` over the caller's subgroup.
fn sgMax(v: f32, lid: u32) -> f32 {
  return subgroupMax(v);
}

// The smallest local invocation index in the caller's subgroup.
fn sgFirst(lid: u32) -> u32 {
  return subgroupMin(lid);
}

// How many invocations the caller's subgroup has (all are active here).
fn sgWidth(lid: u32) -> u32 {
  return subgroupAdd(1u);
}
