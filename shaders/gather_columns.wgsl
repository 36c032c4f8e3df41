// out[r, j] = x[r, columns[j]]: keeps a subset of the classes (for example an
// ImageNet model evaluated on a 10-class subset), in the subset's order.

struct Params {
  rows: u32,
  cols: u32,
  picked: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> columns: array<u32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 256u + lid;
  if (i >= p.rows * p.picked) { return; }
  let r = i / p.picked;
  let j = i % p.picked;
  out[i] = x[r * p.cols + columns[j]];
}
