// CIFAR ResNet option-A shortcut (He et al. 2015): the parameter-free branch
// of a downsampling block,
//   out[n, c, y, x] = in[n, c - padBefore, y * stride, x * stride]  if 0 <= c - padBefore < Cin
//                   = 0                                             otherwise,
// i.e. PyTorch's F.pad(x[:, :, ::stride, ::stride], (0, 0, 0, 0, padBefore, padAfter)).
// One thread per output element; the grid may be split over x and y.

struct Params {
  total: u32,   // N * Cout * Ho * Wo
  cin: u32,
  h: u32,
  w: u32,
  cout: u32,
  ho: u32,
  wo: u32,
  stride: u32,
  padBefore: u32,
}

override WG: u32 = 256u;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.x + wid.y * nwg.x) * WG + lid;
  if (i >= p.total) { return; }
  let x = i % p.wo;
  let y = (i / p.wo) % p.ho;
  let c = (i / (p.wo * p.ho)) % p.cout;
  let n = i / (p.wo * p.ho * p.cout);
  // c < padBefore wraps around as u32 and fails the range test too.
  let ci = c - p.padBefore;
  var v = 0.0;
  if (c >= p.padBefore && ci < p.cin) {
    v = src[((n * p.cin + ci) * p.h + y * p.stride) * p.w + x * p.stride];
  }
  dst[i] = v;
}
