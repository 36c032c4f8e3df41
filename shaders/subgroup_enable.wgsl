// Opens a module that calls subgroup built-ins (the WebGPU feature
// "subgroups"). Some WGSL compilers want this directive, older ones reject
// it: src/ops/row_reduce.ts offers the reductions with and without it and
// the kernel check keeps whichever compiles and computes the right thing.
enable subgroups;
