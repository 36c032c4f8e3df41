// Concatenation along the last axis: out[r, c] = a[r, c] for c < Da, b[r, c - Da] after it,
// for rows r of a [R, Da] and b [R, Db]. One output element per invocation; the grid may be
// split over x and y (src/gpu/kernel.ts).

struct Params {
  total: u32, // R * (Da + Db)
  da: u32,
  db: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let e = (wid.x + wid.y * nwg.x) * WG + lid;
  if (e >= p.total) { return; }
  let width = p.da + p.db;
  let r = e / width;
  let c = e - r * width;
  out[e] = select(b[r * p.db + c - p.da], a[r * p.da + c], c < p.da);
}
