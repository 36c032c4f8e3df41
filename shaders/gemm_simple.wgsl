// Reference-grade batched GEMM with a fused epilogue, for any strides:
//   C[b, m, n] = act(alpha * sum_k A[b, m, k] * B[b, k, n] + bias[n] + R[b, m, n])
// A element (b, m, k) is at b * a_b + m * a_m + k; B element (b, k, n) at
// b * b_b + k * b_k + n * b_n (so B may be [K, N] or a transposed [N, K]).
// C and R are dense [batch, M, N]. Each invocation computes a 4 x 4 block.
// Used for shapes the fast kernel (gemm.wgsl) does not take.

struct Params {
  m: u32, n: u32, k: u32, batch: u32,
  a_b: u32, a_m: u32, b_b: u32, b_k: u32,
  b_n: u32, alpha: f32,
}

override ACT: u32 = 0u;       // 0 none, 1 relu, 2 gelu
override HAS_BIAS: bool = false;
override HAS_RES: bool = false;

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> b: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> res: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;

fn activate(x: f32) -> f32 {
  switch ACT {
    case 1u: { return max(x, 0.0); }
    case 2u: { return gelu(x); }
    default: { return x; }
  }
}

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let m0 = (wid.y * 8u + lid.y) * 4u;
  let n0 = (wid.x * 8u + lid.x) * 4u;
  let batch = wid.z;
  if (m0 >= p.m || n0 >= p.n) { return; }
  var acc: array<array<f32, 4>, 4>;
  // Clamp indices instead of branching: out-of-range rows/columns read a
  // valid element and are simply not stored.
  var arow: array<u32, 4>;
  var bcol: array<u32, 4>;
  for (var i = 0u; i < 4u; i++) {
    arow[i] = batch * p.a_b + min(m0 + i, p.m - 1u) * p.a_m;
    bcol[i] = batch * p.b_b + min(n0 + i, p.n - 1u) * p.b_n;
  }
  for (var k = 0u; k < p.k; k++) {
    var av: array<f32, 4>;
    var bv: array<f32, 4>;
    for (var i = 0u; i < 4u; i++) {
      av[i] = a[arow[i] + k];
      bv[i] = b[bcol[i] + k * p.b_k];
    }
    for (var i = 0u; i < 4u; i++) {
      for (var j = 0u; j < 4u; j++) {
        acc[i][j] = fma(av[i], bv[j], acc[i][j]);
      }
    }
  }
  for (var i = 0u; i < 4u; i++) {
    let m = m0 + i;
    if (m >= p.m) { break; }
    for (var j = 0u; j < 4u; j++) {
      let n = n0 + j;
      if (n >= p.n) { break; }
      let o = (batch * p.m + m) * p.n + n;
      var v = p.alpha * acc[i][j];
      if (HAS_BIAS) { v += bias[n]; }
      if (HAS_RES) { v += res[o]; }
      c[o] = activate(v);
    }
  }
}
