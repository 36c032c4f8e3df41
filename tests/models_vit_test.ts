import assert from "node:assert/strict";
import { join } from "node:path";
import { Engine } from "../src/gpu/engine.ts";
import { loadModel } from "../src/models/load.ts";
import { loadViT, type ViTModel } from "../src/models/vit/model.ts";
import { resizeGrid } from "../src/models/vit/posembed.ts";
import { attentionRollout, rolloutBatch } from "../src/explain/rollout.ts";
import { SafetensorsFile, writeSafetensors } from "../src/weights/safetensors.ts";
import { type TensorIndex, vitSpec } from "../src/models/vit/layouts.ts";
import { ModelLayoutError } from "../src/errors.ts";
import { synthTimmViT, timmViTShapes, VIT_BASE } from "./_vit_synth.ts";
import {
  assertAbsClose,
  assertRelClose,
  fixture,
  fixtureTest,
  FULL,
  maxAbs,
  maxAbsDiff,
  randomF32,
} from "./_helpers.ts";

const RANDOM_MODELS = ["vit-cifar-random", "deit-tiny-random-distilled", "vit-random-timm"];

function argmaxRows(x: ArrayLike<number>, C: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < x.length / C; r++) {
    let best = 0;
    for (let c = 1; c < C; c++) if (x[r * C + c] > x[r * C + best]) best = c;
    out.push(best);
  }
  return out;
}

let enginePromise: Promise<Engine> | undefined;
const engine = () => enginePromise ??= Engine.create();

// ---------------------------------------------------------------------------
// Random models against their PyTorch references

for (const name of RANDOM_MODELS) {
  fixtureTest(`ViT ${name}: logits, CLS features and attention match PyTorch`, async () => {
    const eng = await engine();
    const summary = JSON.parse(
      await Deno.readTextFile(fixture("reference/random-models/summary.json")),
    )[name];
    const model = await loadModel(fixture("models", name), eng);
    assert.equal(model.architecture, name.startsWith("deit") ? "deit" : "vit");
    const ref = await SafetensorsFile.open(
      fixture("reference/random-models", `${name}.safetensors`),
    );
    const px = await ref.readF32("pixel_values");
    const out = model.forward(eng, eng.upload(px, ref.info("pixel_values").shape), {
      features: true,
      attention: true,
    });
    const [logits, features, attn] = await eng.read(out.logits, out.features!, out.attention!);
    const refLogits = await ref.readF32("logits");
    const d = maxAbsDiff(logits, refLogits);
    const bound = Math.max(1e-4 * summary.max_abs_logit_before_bias, 1e-3 * maxAbs(refLogits));
    assert.ok(d <= bound, `${name} logits: max |diff| ${d} > ${bound}`);
    assert.deepEqual(argmaxRows(logits, model.numClasses), summary.top1);
    assertRelClose(features, await ref.readF32("cls_features"), 1e-3, `${name} cls features`);
    assert.deepEqual(out.attention!.shape, ref.info("attn_mean").shape);
    assertAbsClose(attn, await ref.readF32("attn_mean"), 1e-4, `${name} attention`);
    // Without taps: same logits, nothing else returned.
    const plain = model.forward(eng, eng.upload(px, ref.info("pixel_values").shape));
    assert.equal(plain.features, undefined);
    assert.equal(plain.attention, undefined);
    assert.deepEqual(await eng.readF32(plain.logits), logits);
    model.dispose();
    ref.close();
  });
}

// ---------------------------------------------------------------------------
// Position-embedding resize against a float64 reference written the way
// PyTorch's kernels are (direct 2-D sums), and a whole-model float64 forward
// at another input size.

/** PyTorch upsample_bicubic2d (align_corners=False): 4x4 taps, clamped, a = -0.75. */
function bicubic2dRef(
  src: ArrayLike<number>,
  gh: number,
  gw: number,
  D: number,
  nh: number,
  nw: number,
) {
  const A = -0.75;
  const cc1 = (x: number) => ((A + 2) * x - (A + 3)) * x * x + 1;
  const cc2 = (x: number) => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A;
  const coeffs = (t: number) => [cc2(t + 1), cc1(t), cc1(1 - t), cc2(2 - t)];
  const out = new Float64Array(nh * nw * D);
  for (let oy = 0; oy < nh; oy++) {
    const sy = (gh / nh) * (oy + 0.5) - 0.5, iy = Math.floor(sy), wy = coeffs(sy - iy);
    for (let ox = 0; ox < nw; ox++) {
      const sx = (gw / nw) * (ox + 0.5) - 0.5, ix = Math.floor(sx), wx = coeffs(sx - ix);
      for (let m = 0; m < 4; m++) {
        const y = Math.min(Math.max(iy - 1 + m, 0), gh - 1);
        for (let n = 0; n < 4; n++) {
          const x = Math.min(Math.max(ix - 1 + n, 0), gw - 1);
          for (let d = 0; d < D; d++) {
            out[(oy * nw + ox) * D + d] += wy[m] * wx[n] * src[(y * gw + x) * D + d];
          }
        }
      }
    }
  }
  return out;
}

/** PyTorch's antialiased bicubic (Pillow filter a = -0.5, support scaled when shrinking). */
function bicubicAntialias2dRef(
  src: ArrayLike<number>,
  gh: number,
  gw: number,
  D: number,
  nh: number,
  nw: number,
) {
  const filter = (x: number) => {
    const a = -0.5;
    x = Math.abs(x);
    return x < 1
      ? ((a + 2) * x - (a + 3)) * x * x + 1
      : x < 2
      ? a * (((x - 5) * x + 8) * x - 4)
      : 0;
  };
  const axis = (inSize: number, outSize: number, o: number) => {
    const scale = inSize / outSize;
    const support = scale >= 1 ? 2 * scale : 2;
    const center = scale * (o + 0.5);
    const ws: [number, number][] = [];
    for (let i = 0; i < inSize; i++) {
      // Taps whose kernel argument lies inside the support.
      if (i < Math.trunc(center - support + 0.5) || i >= Math.trunc(center + support + 0.5)) {
        continue;
      }
      ws.push([i, filter((i + 0.5 - center) / Math.max(scale, 1))]);
    }
    const total = ws.reduce((s, [, w]) => s + w, 0);
    return ws.map(([i, w]) => [i, w / total] as [number, number]);
  };
  const out = new Float64Array(nh * nw * D);
  for (let oy = 0; oy < nh; oy++) {
    for (let ox = 0; ox < nw; ox++) {
      for (const [y, wy] of axis(gh, nh, oy)) {
        for (const [x, wx] of axis(gw, nw, ox)) {
          for (let d = 0; d < D; d++) {
            out[(oy * nw + ox) * D + d] += wy * wx * src[(y * gw + x) * D + d];
          }
        }
      }
    }
  }
  return out;
}

Deno.test("position-embedding resize matches direct 2-D PyTorch-style bicubic references", () => {
  const D = 5;
  for (
    const [gh, gw, nh, nw] of [[4, 4, 6, 6], [14, 14, 24, 24], [7, 5, 3, 9], [4, 4, 3, 3], [
      14,
      14,
      7,
      10,
    ]]
  ) {
    const grid = randomF32(gh * gw * D, gh * 100 + nw, -1, 1);
    assertAbsClose(
      resizeGrid(grid, [gh, gw], [nh, nw], D, "bicubic"),
      bicubic2dRef(grid, gh, gw, D, nh, nw),
      1e-12,
      `bicubic ${gh}x${gw} -> ${nh}x${nw}`,
    );
    assertAbsClose(
      resizeGrid(grid, [gh, gw], [nh, nw], D, "bicubic-antialias"),
      bicubicAntialias2dRef(grid, gh, gw, D, nh, nw),
      1e-12,
      `bicubic antialias ${gh}x${gw} -> ${nh}x${nw}`,
    );
  }
  // Same size: identity (both modes); a constant field stays constant.
  const g = randomF32(6 * 6 * 3, 5);
  assertAbsClose(resizeGrid(g, [6, 6], [6, 6], 3, "bicubic"), g, 1e-15);
  assertAbsClose(resizeGrid(g, [6, 6], [6, 6], 3, "bicubic-antialias"), g, 1e-15);
  const ones = new Float32Array(5 * 5).fill(1);
  assertAbsClose(
    resizeGrid(ones, [5, 5], [8, 3], 1, "bicubic"),
    new Float32Array(24).fill(1),
    1e-12,
  );
});

/** Tensors of a checkpoint in float64, by name. */
async function readAll(path: string): Promise<Map<string, Float64Array>> {
  const f = await SafetensorsFile.open(path);
  const m = new Map<string, Float64Array>();
  for (const n of f.names()) m.set(n, Float64Array.from(await f.readF32(n)));
  f.close();
  return m;
}

/**
 * float64 CPU forward of a ViT (one image, CHW), written from the timm /
 * Hugging Face module definitions, with its own position-embedding resize.
 */
function vitRef64(
  w: Map<string, Float64Array>,
  names: (kind: string, layer?: number) => string | string[],
  cfg: { D: number; heads: number; depth: number; patch: number; eps: number; prefix: number },
  image: Float32Array,
  H: number,
  W: number,
  resize: "bicubic" | "bicubic-antialias",
): Float64Array {
  const get = (n: string) => w.get(n)!;
  const { D, heads, depth, patch: p, eps, prefix: P } = cfg;
  const gh = Math.floor(H / p), gw = Math.floor(W / p), N = gh * gw, T = P + N;
  const lin = (
    x: Float64Array,
    rows: number,
    wt: Float64Array,
    b: Float64Array | undefined,
    K: number,
  ) => {
    const Nout = wt.length / K;
    const y = new Float64Array(rows * Nout);
    for (let r = 0; r < rows; r++) {
      for (let o = 0; o < Nout; o++) {
        let s = b ? b[o] : 0;
        for (let k = 0; k < K; k++) s += x[r * K + k] * wt[o * K + k];
        y[r * Nout + o] = s;
      }
    }
    return y;
  };
  const ln = (x: Float64Array, rows: number, g: Float64Array, b: Float64Array) => {
    const y = new Float64Array(x.length);
    for (let r = 0; r < rows; r++) {
      let mu = 0, v = 0;
      for (let i = 0; i < D; i++) mu += x[r * D + i] / D;
      for (let i = 0; i < D; i++) v += (x[r * D + i] - mu) ** 2 / D;
      for (let i = 0; i < D; i++) {
        y[r * D + i] = (x[r * D + i] - mu) / Math.sqrt(v + eps) * g[i] + b[i];
      }
    }
    return y;
  };
  // erf in float64: Taylor series for |x| < 2.5, continued fraction of erfc beyond.
  const erf = (x: number) => {
    const s = Math.sign(x);
    x = Math.abs(x);
    if (x >= 2.5) {
      let f = x;
      for (let k = 80; k >= 1; k--) f = x + (k / 2) / f;
      return s * (1 - Math.exp(-x * x) / (Math.sqrt(Math.PI) * f));
    }
    let sum = x, term = x;
    for (let n = 1; n < 200 && Math.abs(term) > 1e-18; n++) {
      term *= -x * x / n;
      sum += term / (2 * n + 1);
    }
    return s * 2 / Math.sqrt(Math.PI) * sum;
  };
  // Patch embedding as a convolution.
  const pw = get(names("patch.weight") as string), pb = get(names("patch.bias") as string);
  const x = new Float64Array(T * D);
  for (let t = 0; t < N; t++) {
    const y0 = Math.floor(t / gw) * p, x0 = (t % gw) * p;
    for (let o = 0; o < D; o++) {
      let s = pb[o];
      for (let c = 0; c < 3; c++) {
        for (let i = 0; i < p; i++) {
          for (let j = 0; j < p; j++) {
            s += pw[((o * 3 + c) * p + i) * p + j] * image[(c * H + y0 + i) * W + x0 + j];
          }
        }
      }
      x[(P + t) * D + o] = s;
    }
  }
  const prefixNames = names("prefix") as string[];
  prefixNames.forEach((n, k) => x.set(get(n), k * D));
  const pos = get(names("pos") as string);
  const g0 = Math.round(Math.sqrt(pos.length / D - P));
  const gridPos = pos.subarray(P * D);
  const resized = g0 === gh && g0 === gw
    ? gridPos
    : resize === "bicubic"
    ? bicubic2dRef(gridPos, g0, g0, D, gh, gw)
    : bicubicAntialias2dRef(gridPos, g0, g0, D, gh, gw);
  for (let i = 0; i < P * D; i++) x[i] += pos[i];
  for (let i = 0; i < N * D; i++) x[P * D + i] += resized[i];

  const d = D / heads;
  for (let l = 0; l < depth; l++) {
    const n = (k: string) => get(names(k, l) as string);
    const h = ln(x, T, n("norm1.weight"), n("norm1.bias"));
    const qkvNames = names("qkv", l) as string[];
    let qkv: Float64Array;
    if (qkvNames.length === 2) {
      qkv = lin(h, T, get(qkvNames[0]), get(qkvNames[1]), D); // fused [3D, D]
    } else {
      const [q, k, v] = [0, 1, 2].map((i) =>
        lin(h, T, get(qkvNames[2 * i]), get(qkvNames[2 * i + 1]), D)
      );
      qkv = new Float64Array(T * 3 * D);
      for (let t = 0; t < T; t++) {
        qkv.set(q.subarray(t * D, (t + 1) * D), t * 3 * D);
        qkv.set(k.subarray(t * D, (t + 1) * D), t * 3 * D + D);
        qkv.set(v.subarray(t * D, (t + 1) * D), t * 3 * D + 2 * D);
      }
    }
    const o = new Float64Array(T * D);
    for (let hd = 0; hd < heads; hd++) {
      for (let i = 0; i < T; i++) {
        const s = new Float64Array(T);
        for (let j = 0; j < T; j++) {
          for (let c = 0; c < d; c++) {
            s[j] += qkv[i * 3 * D + hd * d + c] * qkv[j * 3 * D + D + hd * d + c];
          }
          s[j] /= Math.sqrt(d);
        }
        const m = Math.max(...s);
        let z = 0;
        for (let j = 0; j < T; j++) z += s[j] = Math.exp(s[j] - m);
        for (let j = 0; j < T; j++) {
          for (let c = 0; c < d; c++) {
            o[i * D + hd * d + c] += s[j] / z * qkv[j * 3 * D + 2 * D + hd * d + c];
          }
        }
      }
    }
    const a = lin(o, T, n("proj.weight"), n("proj.bias"), D);
    for (let i = 0; i < x.length; i++) x[i] += a[i];
    const h2 = ln(x, T, n("norm2.weight"), n("norm2.bias"));
    const M = n("fc1.bias").length;
    const f1 = lin(h2, T, n("fc1.weight"), n("fc1.bias"), D).map((v) =>
      0.5 * v * (1 + erf(v / Math.SQRT2))
    );
    const f2 = lin(f1, T, n("fc2.weight"), n("fc2.bias"), M);
    for (let i = 0; i < x.length; i++) x[i] += f2[i];
  }
  const normed = ln(
    x.subarray(0, D),
    1,
    get(names("norm.weight") as string),
    get(names("norm.bias") as string),
  );
  return lin(normed, 1, get(names("head.weight") as string), get(names("head.bias") as string), D);
}

const TIMM_NAMES = (kind: string, l?: number): string | string[] => {
  const map: Record<string, string | string[]> = {
    "patch.weight": "patch_embed.proj.weight",
    "patch.bias": "patch_embed.proj.bias",
    prefix: ["cls_token"],
    pos: "pos_embed",
    qkv: [`blocks.${l}.attn.qkv.weight`, `blocks.${l}.attn.qkv.bias`],
    "norm.weight": "norm.weight",
    "norm.bias": "norm.bias",
    "head.weight": "head.weight",
    "head.bias": "head.bias",
  };
  if (l !== undefined && kind !== "qkv") {
    return `blocks.${l}.${kind.replace("proj.", "attn.proj.").replace(/^fc/, "mlp.fc")}`;
  }
  return map[kind];
};

const HF_NAMES = (kind: string, l?: number): string | string[] => {
  const e = "vit.embeddings";
  if (l !== undefined) {
    const p = `vit.encoder.layer.${l}`;
    if (kind === "qkv") {
      return ["query", "key", "value"].flatMap((n) => [
        `${p}.attention.attention.${n}.weight`,
        `${p}.attention.attention.${n}.bias`,
      ]);
    }
    const [mod, wb] = kind.split(".");
    const m: Record<string, string> = {
      norm1: "layernorm_before",
      norm2: "layernorm_after",
      proj: "attention.output.dense",
      fc1: "intermediate.dense",
      fc2: "output.dense",
    };
    return `${p}.${m[mod]}.${wb}`;
  }
  const map: Record<string, string | string[]> = {
    "patch.weight": `${e}.patch_embeddings.projection.weight`,
    "patch.bias": `${e}.patch_embeddings.projection.bias`,
    prefix: [`${e}.cls_token`],
    pos: `${e}.position_embeddings`,
    "norm.weight": "vit.layernorm.weight",
    "norm.bias": "vit.layernorm.bias",
    "head.weight": "classifier.weight",
    "head.bias": "classifier.bias",
  };
  return map[kind];
};

fixtureTest(
  "ViT at other input sizes: resized position embeddings match a float64 forward",
  async () => {
    const eng = await engine();
    const cases: [string, typeof HF_NAMES, number, number, number, number, number][] = [
      // model, names, heads, patch, eps, H, W
      ["vit-cifar-random", HF_NAMES, 4, 4, 1e-12, 48, 40], // grid 8x8 -> 12x10 (upsampling)
      ["vit-random-timm", TIMM_NAMES, 3, 8, 1e-6, 24, 28], // grid 4x4 -> 3x3 (antialiased shrink)
      ["vit-random-timm", TIMM_NAMES, 3, 8, 1e-6, 56, 48], // 4x4 -> 7x6
    ];
    for (const [name, names, heads, patch, eps, H, W] of cases) {
      const model = await loadViT(fixture("models", name), eng);
      const w = await readAll(fixture("models", name, "model.safetensors"));
      const B = 2;
      const px = randomF32(B * 3 * H * W, H * W, -2, 2);
      const logits = await eng.readF32(model.forward(eng, eng.upload(px, [B, 3, H, W])).logits);
      const C = model.numClasses;
      for (let b = 0; b < B; b++) {
        const ref = vitRef64(
          w,
          names,
          { D: model.spec.hidden, heads, depth: model.spec.blocks.length, patch, eps, prefix: 1 },
          px.subarray(b * 3 * H * W, (b + 1) * 3 * H * W),
          H,
          W,
          model.spec.posResize,
        );
        assertAbsClose(
          logits.subarray(b * C, (b + 1) * C),
          ref,
          2e-4,
          `${name} at ${H}x${W} image ${b}`,
        );
      }
      model.dispose();
    }
  },
);

// ---------------------------------------------------------------------------
// Weight dtypes

/** Rounds f32 values to bfloat16 (nearest even) and returns the raw bits. */
function toBf16(x: Float32Array): Uint16Array {
  const u = new Uint32Array(x.buffer, x.byteOffset, x.length);
  return Uint16Array.from(u, (b) => (b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
}

fixtureTest(
  "ViT F16 and BF16 weights load exactly (equal logits to their f32 widening)",
  async () => {
    const eng = await engine();
    const src = fixture("models/vit-random-timm");
    const f = await SafetensorsFile.open(join(src, "model.safetensors"));
    const f16: Record<string, { dtype: "F16"; shape: number[]; data: Uint16Array }> = {};
    const bf16: Record<string, { dtype: "BF16"; shape: number[]; data: Uint16Array }> = {};
    const widened16: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
    const widenedBf: Record<string, { dtype: "F32"; shape: number[]; data: Float32Array }> = {};
    for (const n of f.names()) {
      const x = await f.readF32(n);
      const shape = f.info(n).shape;
      const h = Float16Array.from(x);
      f16[n] = { dtype: "F16", shape, data: new Uint16Array(h.buffer) };
      widened16[n] = { dtype: "F32", shape, data: Float32Array.from(h) };
      const b = toBf16(x);
      bf16[n] = { dtype: "BF16", shape, data: b };
      widenedBf[n] = {
        dtype: "F32",
        shape,
        data: new Float32Array(Uint32Array.from(b, (v) => v << 16).buffer),
      };
    }
    f.close();
    const dir = await Deno.makeTempDir({ prefix: "vit-dtypes-" });
    try {
      const config = await Deno.readTextFile(join(src, "config.json"));
      const px = randomF32(2 * 3 * 32 * 32, 99, -2, 2);
      const logitsOf = async (name: string, tensors: Parameters<typeof writeSafetensors>[1]) => {
        await Deno.mkdir(join(dir, name));
        await Deno.writeTextFile(join(dir, name, "config.json"), config);
        await writeSafetensors(join(dir, name, "model.safetensors"), tensors);
        const m = await loadModel(join(dir, name), eng);
        const l = await eng.readF32(m.forward(eng, eng.upload(px, [2, 3, 32, 32])).logits);
        m.dispose();
        return l;
      };
      assert.deepEqual(await logitsOf("f16", f16), await logitsOf("f16-widened", widened16));
      assert.deepEqual(await logitsOf("bf16", bf16), await logitsOf("bf16-widened", widenedBf));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

// ---------------------------------------------------------------------------
// Layout errors

/** A fake tensor index from a name -> shape table. */
function fakeIndex(shapes: Record<string, number[]>): TensorIndex {
  return { names: () => Object.keys(shapes), info: (n) => ({ dtype: "F32", shape: shapes[n] }) };
}

function timmShapes(D = 96, depth = 2, mlp = 384, classes = 10, grid = 4, patch = 8) {
  return timmViTShapes({ D, depth, heads: 1, mlp, classes, grid, patch });
}

Deno.test("ViT layouts: dimensions from shapes, clear errors for incomplete or foreign layouts", () => {
  const cfg = { architecture: "vit_tiny_patch16_224", model_args: { num_heads: 3 } };
  const spec = vitSpec(fakeIndex(timmShapes(96, 3, 200, 7, 5, 6)), cfg, "m");
  assert.deepEqual(
    [spec.hidden, spec.blocks.length, spec.mlp, spec.numClasses, spec.grid, spec.patch, spec.heads],
    [96, 3, 200, 7, [5, 5], [6, 6], 3],
  );
  // Head count from timm's size name when model_args is absent; from D / 64 otherwise.
  assert.equal(
    vitSpec(fakeIndex(timmShapes(192)), { architecture: "vit_tiny_patch16_224" }).heads,
    3,
  );
  assert.equal(vitSpec(fakeIndex(timmShapes(128)), {}).heads, 2);
  // A size name says its heads only at its own width: so400m is 1152 wide with 16 heads (not
  // 1152 / 64 = 18), vit_base_patch16_plus_240 is 896 wide with 14 (not base's 12).
  const headsOf = (D: number, architecture: string) =>
    vitSpec(fakeIndex(timmShapes(D, 1)), { architecture }).heads;
  assert.equal(headsOf(1152, "vit_so400m_patch14_siglip_gap_224.webli"), 16);
  assert.equal(headsOf(896, "vit_base_patch16_plus_240"), 14);
  assert.equal(headsOf(1536, "vit_giant_patch14_dinov2"), 24);
  assert.equal(headsOf(1408, "vit_giant_patch14_clip_224"), 16);

  const broken = (edit: (s: Record<string, number[]>) => void, pattern: RegExp) => {
    const s = timmShapes();
    edit(s);
    assert.throws(() => vitSpec(fakeIndex(s), cfg, "model.safetensors"), (e: Error) => {
      assert.ok(e instanceof ModelLayoutError, `not a ModelLayoutError: ${e}`);
      assert.match(e.message, pattern);
      return true;
    });
  };
  broken((s) => delete s["blocks.1.mlp.fc2.bias"], /missing tensors: blocks\.1\.mlp\.fc2\.bias/);
  broken(
    (s) => s["blocks.0.attn.q_norm.weight"] = [32],
    /unexpected.*blocks\.0\.attn\.q_norm\.weight/,
  );
  broken(
    (s) => s["blocks.1.attn.proj.weight"] = [96, 95],
    /shape mismatches: blocks\.1\.attn\.proj\.weight: expected \[96,96\], found \[96,95\]/,
  );
  broken((s) => {
    for (const k of Object.keys(s)) if (k.startsWith("blocks.0.")) delete s[k];
  }, /missing transformer block\(s\) blocks\.0/);
  broken((s) => s.pos_embed = [1, 20, 96], /not a square grid/);
  assert.throws(
    () => vitSpec(fakeIndex({ "conv1.weight": [16, 3, 3, 3] }), {}, "x.safetensors"),
    /not a Vision Transformer layout/,
  );
  assert.throws(() => vitSpec(fakeIndex(timmShapes(100)), {}, "m"), /number of attention heads/);
});

fixtureTest(
  "loadModel: a truncated ViT checkpoint fails with a ModelLayoutError naming the tensor",
  async () => {
    const src = fixture("models/vit-cifar-random");
    const f = await SafetensorsFile.open(join(src, "model.safetensors"));
    const tensors: Parameters<typeof writeSafetensors>[1] = {};
    for (const n of f.names()) {
      if (n === "vit.encoder.layer.1.attention.attention.key.weight") continue;
      tensors[n] = { dtype: "F32", shape: f.info(n).shape, data: await f.readF32(n) };
    }
    f.close();
    const dir = await Deno.makeTempDir({ prefix: "vit-broken-" });
    try {
      await Deno.copyFile(join(src, "config.json"), join(dir, "config.json"));
      await writeSafetensors(join(dir, "model.safetensors"), tensors);
      await assert.rejects(
        () => loadModel(dir, undefined),
        (e: Error) =>
          e instanceof ModelLayoutError &&
          e.message.includes("vit.encoder.layer.1.attention.attention.key.weight"),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

// ---------------------------------------------------------------------------
// Real ViT-Ti/16 (ImageNet): logits, attention maps and rollout

const REAL = fixture("reference/vit-tiny-in1k");

fixtureTest(
  `ViT-Ti/16: ${FULL ? 16 : 4} reference images (timm and HF folders), attention and rollout`,
  async () => {
    const eng = await engine();
    const n = FULL ? 16 : 4;
    const ref = await SafetensorsFile.open(join(REAL, "first16_inputs_and_logits.safetensors"));
    const px = (await ref.readF32("pixel_values")).subarray(0, n * 3 * 224 * 224);
    const refLogits = (await ref.readF32("logits")).subarray(0, n * 1000);
    ref.close();

    const timm = await loadModel(fixture("models/vit-tiny-in1k/timm"), eng) as ViTModel;
    assert.deepEqual(timm.inputSize, [224, 224]);
    assert.equal(timm.spec.heads, 3);
    // The pipeline comes from the folder's pretrained_cfg (bicubic, crop 224, mean = std = 0.5).
    assert.deepEqual(timm.preprocess?.crop, [224, 224]);
    assert.equal(timm.preprocess?.interpolation, "bicubic");
    assert.deepEqual([...timm.preprocess!.mean, ...timm.preprocess!.std], [
      0.5,
      0.5,
      0.5,
      0.5,
      0.5,
      0.5,
    ]);
    const pixels = eng.upload(px, [n, 3, 224, 224]);
    const out = timm.forward(eng, pixels, { attention: true });
    const [logits, attn] = await eng.read(out.logits, out.attention!);
    const rel = assertRelClose(logits, refLogits, 1e-3, "ViT-Ti logits");
    assert.deepEqual(argmaxRows(logits, 1000), argmaxRows(refLogits, 1000));
    console.log(`ViT-Ti: ${n} images, max |diff| / max |ref| = ${rel.toExponential(2)}`);

    // Attention maps and rollout of the two reference images (images 0 and 1).
    const maps = rolloutBatch(attn as Float32Array, out.attention!.shape);
    for (const [i, file] of ["n01440764_tench", "n01484850_great_white_shark"].entries()) {
      const r = await SafetensorsFile.open(join(REAL, "attention", `${file}.safetensors`));
      const per = 12 * 197 * 197;
      const a = (attn as Float32Array).subarray(i * per, (i + 1) * per);
      const refAttn = await r.readF32("attn_mean");
      assertAbsClose(a, refAttn, 1e-4, `${file} attention`);
      assertAbsClose(maps[i].map, await r.readF32("rollout"), 1e-4, `${file} rollout`);
      const reverse = attentionRollout(a, 12, 197, { order: "last-left" });
      assertAbsClose(
        reverse.map,
        await r.readF32("rollout_reverse_order"),
        1e-4,
        `${file} reverse`,
      );
      // The rollout arithmetic itself, on the reference maps: float64 vs float64.
      assertAbsClose(attentionRollout(refAttn, 12, 197).map, await r.readF32("rollout"), 1e-6);
      r.close();
    }
    timm.dispose();

    // The Hugging Face folder holds the same numbers: identical logits.
    const hf = await loadModel(fixture("models/vit-tiny-in1k/hf"), eng);
    const hfLogits = await eng.readF32(hf.forward(eng, pixels).logits);
    assert.deepEqual(hfLogits, logits, "HF and timm folders give different logits");
    hf.dispose();
  },
);

// ---------------------------------------------------------------------------
// Opt-in: full-size ViT-B/16 with random weights, batch 1 vs 16

Deno.test({
  name: "FULL: ViT-B/16 (random weights) gives identical logits at batch 1 and 16",
  ignore: !FULL,
  async fn() {
    const eng = await engine();
    const { tensors, config } = synthTimmViT(VIT_BASE, 2024);
    const dir = await Deno.makeTempDir({ prefix: "vit-b16-" });
    try {
      await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config));
      await writeSafetensors(join(dir, "model.safetensors"), tensors);
      const model = await loadModel(dir, eng);
      const C = model.numClasses, n = 3 * 224 * 224;
      const px = randomF32(16 * n, 5, -2, 2);
      const all = await eng.readF32(model.forward(eng, eng.upload(px, [16, 3, 224, 224])).logits);
      for (const i of [0, 7, 15]) {
        const x = eng.upload(px.subarray(i * n, (i + 1) * n), [1, 3, 224, 224]);
        const one = await eng.readF32(model.forward(eng, x).logits);
        assertAbsClose(
          one,
          all.subarray(i * C, (i + 1) * C),
          0,
          `ViT-B/16 image ${i}: batch 1 vs 16`,
        );
      }
      model.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// ---------------------------------------------------------------------------
// Opt-in: accuracy of ViT-Ti/16 on the 500 ImageNet sample JPEGs through the
// timm pipeline of its config.json.

Deno.test({
  name: "FULL: ViT-Ti/16 (timm folder) on 500 ImageNet JPEGs agrees with the reference",
  ignore: !FULL,
  async fn() {
    const { readImage } = await import("../src/data/decode.ts");
    const { preprocess, preprocessConfigFromModelDir } = await import("../src/data/preprocess.ts");
    const eng = await engine();
    const dir = fixture("models/vit-tiny-in1k/timm");
    const model = await loadModel(dir, eng);
    const cfg = preprocessConfigFromModelDir(dir);
    const images = fixture("data/imagenet-sample");
    const rows = (await Deno.readTextFile(join(REAL, "predictions.csv"))).trim().split("\n").slice(
      1,
    )
      .map((l) => l.split(","));
    const [H, W] = model.inputSize;
    const B = 16;
    let agree = 0, top1 = 0, top5 = 0;
    for (let start = 0; start < rows.length; start += B) {
      const batch = rows.slice(start, start + B);
      const px = new Float32Array(batch.length * 3 * H * W);
      for (const [i, [file]] of batch.entries()) {
        preprocess(await readImage(join(images, file)), cfg, px, i * 3 * H * W);
      }
      const logits = await eng.readF32(
        model.forward(eng, eng.upload(px, [batch.length, 3, H, W])).logits,
      );
      for (const [i, [, label, pred]] of batch.entries()) {
        const row = logits.subarray(i * 1000, (i + 1) * 1000);
        const order = [...row.keys()].sort((a, b) => row[b] - row[a] || a - b);
        if (order[0] === Number(pred)) agree++;
        if (order[0] === Number(label)) top1++;
        if (order.slice(0, 5).includes(Number(label))) top5++;
      }
    }
    const n = rows.length;
    console.log(
      `ViT-Ti/16 on ${n} JPEGs: top-1 agreement ${(100 * agree / n).toFixed(1)}%, top-1 ` +
        `${(100 * top1 / n).toFixed(1)}%, top-5 ${(100 * top5 / n).toFixed(1)}%`,
    );
    assert.ok(agree / n >= 0.99, `top-1 agreement ${agree}/${n} < 99%`);
    assert.ok(Math.abs(top1 / n - 0.826) <= 0.005, `top-1 ${top1 / n} vs 0.826`);
    assert.ok(Math.abs(top5 / n - 0.956) <= 0.005, `top-5 ${top5 / n} vs 0.956`);
    model.dispose();
  },
});
