import { Engine } from "../src/gpu/engine.ts";
import { engineOn, KERNEL_PATHS, pathLabel } from "./_kernel_paths.ts";
import { attention } from "../src/ops/attention.ts";
import { assertAbsClose, randomF32 } from "./_helpers.ts";

/**
 * float64 reference of multi-head attention on a fused qkv [B, T, 3D]:
 * returns O [B, T, D] and the head-mean probabilities [B, T, T].
 */
function attentionRef(
  qkv: Float32Array,
  B: number,
  T: number,
  D: number,
  H: number,
  bias?: { data: Float32Array; groups: number },
) {
  const d = D / H;
  const out = new Float64Array(B * T * D);
  const probs = new Float64Array(B * T * T);
  const at = (b: number, t: number, part: number, h: number, c: number) =>
    qkv[(b * T + t) * 3 * D + part * D + h * d + c];
  const s = new Float64Array(T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let i = 0; i < T; i++) {
        let m = -Infinity;
        for (let j = 0; j < T; j++) {
          let dot = 0;
          for (let c = 0; c < d; c++) dot += at(b, i, 0, h, c) * at(b, j, 1, h, c);
          s[j] = dot / Math.sqrt(d) +
            (bias ? bias.data[(((b % bias.groups) * H + h) * T + i) * T + j] : 0);
          m = Math.max(m, s[j]);
        }
        let sum = 0;
        for (let j = 0; j < T; j++) sum += s[j] = Math.exp(s[j] - m);
        for (let j = 0; j < T; j++) {
          const p = s[j] / sum;
          probs[(b * T + i) * T + j] += p / H;
          for (let c = 0; c < d; c++) out[(b * T + i) * D + h * d + c] += p * at(b, j, 2, h, c);
        }
      }
    }
  }
  return { out, probs };
}

for (const path of KERNEL_PATHS) {
  Deno.test(`attention matches a float64 reference (T 17/65/197, d 5/6/16/32/64, heads 1/3/4) ${pathLabel(path)}`, async () => {
    const engine = await engineOn(path);
    // [B, T, H, d, value range]; range 4 gives peaked softmaxes whose maximum
    // moves between key tiles, exercising the online rescaling.
    const cases: [number, number, number, number, number][] = [
      [1, 17, 3, 16, 1],
      [2, 65, 3, 32, 4],
      [1, 197, 3, 64, 1],
      [1, 65, 4, 16, 4],
      [3, 5, 1, 32, 2],
      [1, 197, 1, 64, 4],
      [2, 19, 3, 6, 2], // head size not a multiple of 4: the scalar kernels
      [1, 33, 2, 5, 1],
    ];
    let seed = 7;
    // The GPU path's larger workgroups run slowly on lavapipe: there, one case
    // per kernel form and tiling situation (T below, across and far past a tile).
    const run = path === "gpu" ? [cases[0], cases[1], cases[5], cases[6]] : cases;
    for (const [B, T, H, d, range] of run) {
      const D = H * d;
      const qkv = randomF32(B * T * 3 * D, seed++, -range, range);
      const ref = attentionRef(qkv, B, T, D, H);
      const x = engine.upload(qkv, [B, T, 3 * D]);
      const L = 2, layer = 1;
      const probs = engine.zeros([B, L, T, T]);
      const plain = attention(engine, x, { heads: H });
      const withProbs = attention(engine, x, { heads: H, headMeanProbs: { into: probs, layer } });
      const [o1, o2, pr] = await engine.read(plain, withProbs, probs);
      const what = `[B ${B}, T ${T}, H ${H}, d ${d}]`;
      assertAbsClose(o1, ref.out, 2e-5 * range, `attention ${what}`);
      assertAbsClose(o2, ref.out, 2e-5 * range, `attention (with probs) ${what}`);
      const got = new Float32Array(B * T * T);
      for (let b = 0; b < B; b++) {
        got.set(pr.subarray((b * L + layer) * T * T, (b * L + layer + 1) * T * T), b * T * T);
        const untouched = pr.subarray((b * L) * T * T, (b * L + 1) * T * T);
        assertAbsClose(untouched, new Float32Array(T * T), 0, `other layer untouched ${what}`);
      }
      assertAbsClose(got, ref.probs, 1e-6 * range, `head-mean probabilities ${what}`);
    }
  });
}

Deno.test("attention with an additive score bias (G = 1 and per-window groups), probs and cls rows", async () => {
  const engine = await Engine.create();
  // [B, T, H, d, groups]: vec4 and scalar kernels, T not a multiple of the tiles.
  const cases: [number, number, number, number, number][] = [
    [2, 17, 3, 16, 1],
    [4, 49, 2, 8, 2],
    [3, 19, 3, 6, 3],
    [2, 65, 1, 32, 1],
  ];
  let seed = 101;
  for (const [B, T, H, d, G] of cases) {
    const D = H * d;
    const qkv = randomF32(B * T * 3 * D, seed++, -2, 2);
    // A relative-position-like bias plus a window-mask-like -100 on some pairs.
    const bias = randomF32(G * H * T * T, seed++, -1, 1);
    for (let k = 0; k < bias.length; k += 7) bias[k] = -100;
    const ref = attentionRef(qkv, B, T, D, H, { data: bias, groups: G });
    const x = engine.upload(qkv, [B, T, 3 * D]);
    const b = engine.upload(bias, G === 1 ? [H, T, T] : [G, H, T, T]);
    const probs = engine.zeros([B, 1, T, T]);
    const cls = engine.zeros([B, H, T]);
    const plain = attention(engine, x, { heads: H, bias: b });
    const tapped = attention(engine, x, {
      heads: H,
      bias: b,
      headMeanProbs: { into: probs, layer: 0 },
      clsHeadProbs: cls,
    });
    const [o1, o2, pr, cl] = await engine.read(plain, tapped, probs, cls);
    const what = `[B ${B}, T ${T}, H ${H}, d ${d}, G ${G}]`;
    assertAbsClose(o1, ref.out, 4e-5, `biased attention ${what}`);
    assertAbsClose(o2, ref.out, 4e-5, `biased attention (taps) ${what}`);
    assertAbsClose(pr, ref.probs, 2e-6, `biased head-mean probabilities ${what}`);
    // Row 0 of each head sums to 1 and its head mean is the reference's row 0.
    for (let bb = 0; bb < B; bb++) {
      for (let j = 0; j < T; j++) {
        let mean = 0;
        for (let h = 0; h < H; h++) mean += cl[(bb * H + h) * T + j] / H;
        const want = ref.probs[(bb * T) * T + j];
        if (Math.abs(mean - want) > 2e-6) {
          throw new Error(`cls row ${what} ${j}: ${mean} vs ${want}`);
        }
      }
    }
  }
  // A bias whose groups do not divide the batch is refused.
  const x = engine.upload(randomF32(3 * 5 * 12, 1), [3, 5, 12]);
  const bad = engine.upload(randomF32(2 * 2 * 25, 2), [2, 2, 5, 5]);
  let threw = false;
  try {
    attention(engine, x, { heads: 2, bias: bad });
  } catch (e) {
    threw = /G dividing the batch 3/.test((e as Error).message);
  }
  if (!threw) throw new Error("a bias with 2 groups for a batch of 3 was not refused");
});
