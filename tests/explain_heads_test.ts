/**
 * The last layer's class-token attention per head (`clsAttentionHeads`
 * forward tap, attention()'s `clsHeadProbs`, Explanation.lastLayerClsHeads):
 * against a float64 softmax on the CPU, against the head-mean tap of the same
 * forward pass, and against the PyTorch head-mean reference.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Engine } from "../src/gpu/engine.ts";
import { attention } from "../src/ops/attention.ts";
import { loadModel } from "../src/models/load.ts";
import type { ClassifierModel } from "../src/models/model.ts";
import { explainPixels } from "../src/explain/explain.ts";
import { SafetensorsFile, writeSafetensors } from "../src/weights/safetensors.ts";
import { synthTimmViT } from "./_vit_synth.ts";
import { assertAbsClose, fixture, fixtureTest, randomF32 } from "./_helpers.ts";

let enginePromise: Promise<Engine> | undefined;
const engine = () => enginePromise ??= Engine.create();

/** Mean over heads of rows [B, H, T] -> [B, T], in float64. */
function headMean(rows: Float32Array, B: number, H: number, T: number): Float64Array {
  const out = new Float64Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      for (let j = 0; j < T; j++) out[b * T + j] += rows[(b * H + h) * T + j] / H;
    }
  }
  return out;
}

/** Rows [b, query 0, :] of layer `layer` of attention maps [B, L, T, T]. */
function clsRows(att: Float32Array, B: number, L: number, T: number, layer: number): Float32Array {
  const out = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    out.set(att.subarray((b * L + layer) * T * T, (b * L + layer) * T * T + T), b * T);
  }
  return out;
}

function assertRowsSumToOne(rows: Float32Array, T: number, tol: number, what: string): void {
  for (let r = 0; r < rows.length / T; r++) {
    let s = 0;
    for (let j = 0; j < T; j++) s += rows[r * T + j];
    assert.ok(Math.abs(s - 1) <= tol, `${what}: row ${r} sums to ${s}`);
  }
}

/**
 * The per-head tap of a forward pass against its head-mean tap: the mean of
 * the head rows is the last layer's class-token row, and each row sums to 1.
 */
async function checkForward(
  eng: Engine,
  model: ClassifierModel,
  px: Float32Array,
  shape: number[],
  what: string,
): Promise<{ heads: Float32Array; H: number; T: number; L: number }> {
  const x = eng.upload(px, shape);
  const out = model.forward(eng, x, { attention: true, clsAttentionHeads: true });
  const [B, L, T] = out.attention!.shape;
  const H = out.clsAttentionHeads!.shape[1];
  assert.deepEqual(out.clsAttentionHeads!.shape, [B, H, T]);
  const [att, heads] = await eng.read(out.attention!, out.clsAttentionHeads!) as Float32Array[];
  assertAbsClose(
    headMean(heads, B, H, T),
    clsRows(att, B, L, T, L - 1),
    1e-6,
    `${what}: head mean vs attention[:, L-1, 0, :]`,
  );
  assertRowsSumToOne(heads, T, 1e-5, `${what} head rows`);
  // Without the option nothing extra is returned.
  const plain = model.forward(eng, x, { attention: true });
  assert.equal(plain.clsAttentionHeads, undefined);
  // Runs what was recorded before the caller disposes of the model.
  await eng.read(plain.logits);
  for (const t of [out.logits, out.attention!, out.clsAttentionHeads!, plain.logits]) t.release();
  plain.attention!.release();
  x.release();
  return { heads, H, T, L };
}

Deno.test("attention clsHeadProbs: class-token row per head matches a float64 softmax", async () => {
  const eng = await engine();
  // d = 8: vec4 kernels; d = 5: scalar kernels. T = 7 and 70 (more keys than a workgroup).
  for (const [B, T, H, d] of [[2, 7, 3, 8], [1, 70, 2, 5], [3, 9, 4, 5]]) {
    const D = H * d;
    const qkvHost = randomF32(B * T * 3 * D, 11 + T, -2, 2);
    const qkv = eng.upload(qkvHost, [B, T, 3 * D]);
    const cls = eng.empty([B, H, T]);
    const into = eng.empty([B, 1, T, T]);
    const plainOut = attention(eng, qkv, { heads: H });
    const out = attention(eng, qkv, { heads: H, clsHeadProbs: cls });
    const out2 = attention(eng, qkv, {
      heads: H,
      clsHeadProbs: cls,
      headMeanProbs: { into, layer: 0 },
    });
    const [got, o, o2, p] = await eng.read(cls, out, out2, plainOut) as Float32Array[];
    // The attention output itself is unchanged by the tap.
    assertAbsClose(o, p, 0, `B${B} T${T} H${H} d${d}: output with tap`);
    assertAbsClose(o2, p, 0, `B${B} T${T} H${H} d${d}: output with both taps`);
    const want = new Float64Array(B * H * T);
    for (let b = 0; b < B; b++) {
      for (let h = 0; h < H; h++) {
        const q = (t: number, c: number) => qkvHost[(b * T + t) * 3 * D + h * d + c];
        const k = (t: number, c: number) => qkvHost[(b * T + t) * 3 * D + D + h * d + c];
        const s = new Float64Array(T);
        for (let j = 0; j < T; j++) {
          for (let c = 0; c < d; c++) s[j] += q(0, c) * k(j, c);
          s[j] /= Math.sqrt(d);
        }
        const m = Math.max(...s);
        let l = 0;
        for (let j = 0; j < T; j++) l += Math.exp(s[j] - m);
        for (let j = 0; j < T; j++) want[(b * H + h) * T + j] = Math.exp(s[j] - m) / l;
      }
    }
    assertAbsClose(got, want, 1e-5, `B${B} T${T} H${H} d${d}: per-head CLS row`);
    for (const t of [qkv, cls, into, out, out2, plainOut]) t.release();
  }
  assert.throws(() => {
    const qkv = eng.empty([1, 4, 24]);
    attention(eng, qkv, { heads: 2, clsHeadProbs: eng.empty([1, 2, 5]) });
  }, /clsHeadProbs must be \[1, 2, 4\]/);
});

for (const name of ["vit-cifar-random", "deit-tiny-random-distilled"]) {
  fixtureTest(`ViT ${name}: per-head CLS attention averages to the PyTorch head mean`, async () => {
    const eng = await engine();
    const model = await loadModel(fixture("models", name), eng);
    const ref = await SafetensorsFile.open(
      fixture("reference/random-models", `${name}.safetensors`),
    );
    const { heads, H, T, L } = await checkForward(
      eng,
      model,
      await ref.readF32("pixel_values"),
      ref.info("pixel_values").shape,
      name,
    );
    const B = heads.length / (H * T);
    assertAbsClose(
      headMean(heads, B, H, T),
      clsRows(await ref.readF32("attn_mean"), B, L, T, L - 1),
      1e-4,
      `${name}: head mean vs reference attn_mean[:, L-1, 0, :]`,
    );
    ref.close();
    model.dispose();
  });
}

Deno.test("synthetic timm ViT: per-head CLS attention tap and explainPixels head maps", async () => {
  const eng = await engine();
  // d = 8 (vec4 path) and d = 6 (scalar path); 2 blocks, 4x4 patches of 4 px.
  for (const [D, heads] of [[24, 3], [18, 3]]) {
    const size = { D, depth: 2, heads, mlp: 2 * D, classes: 5, patch: 4, grid: 4 };
    const { tensors, config } = synthTimmViT(size, 7 + D);
    const dir = await Deno.makeTempDir({ prefix: "vit-heads-" });
    try {
      await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config));
      await writeSafetensors(join(dir, "model.safetensors"), tensors);
      const model = await loadModel(dir, eng);
      const shape = [2, 3, 16, 16] as const;
      const px = randomF32(2 * 3 * 16 * 16, D, -2, 2);
      const { heads: rows, T } = await checkForward(eng, model, px, [...shape], `synthetic D${D}`);
      const ex = await explainPixels(eng, model, px, shape, {
        png: false,
        normalization: { mean: [0, 0, 0], std: [1, 1, 1] },
      });
      for (const [b, e] of ex.entries()) {
        assert.equal(e.lastLayerClsHeads?.length, heads);
        const mean = new Float64Array(16);
        for (const [h, m] of e.lastLayerClsHeads!.entries()) {
          assert.deepEqual([m.width, m.height], [4, 4]);
          // The patch columns of the tap's row (class token dropped).
          assertAbsClose(
            m.data,
            rows.subarray((b * heads + h) * T + 1, (b * heads + h + 1) * T),
            0,
            `image ${b} head ${h} map`,
          );
          for (let j = 0; j < 16; j++) mean[j] += m.data[j] / heads;
        }
        assertAbsClose(mean, e.lastLayerCls!.data, 1e-6, `image ${b}: head maps vs lastLayerCls`);
      }
      model.dispose();
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  }
});

fixtureTest("explain command writes one class-token overlay per head for a ViT", async () => {
  const out = await Deno.makeTempDir({ prefix: "visioneval-explain-heads-" });
  try {
    const { run } = await import("../src/cli/explain.ts");
    const cat = fixture("data", "cifar10-test", "cat", "0003.jpg");
    await run(["--model", fixture("models", "vit-cifar-random"), "--image", cat, "--out", out]);
    const files = [...Deno.readDirSync(out)].map((e) => e.name).filter((f) => f.includes("cls_"));
    assert.deepEqual(files.sort(), [
      "0003.cls_attention.input.png",
      "0003.cls_head0.input.png",
      "0003.cls_head1.input.png",
      "0003.cls_head2.input.png",
      "0003.cls_head3.input.png",
    ]);
    // Per-head overlays differ from one another (the heads attend differently).
    const png = (h: number) => Deno.readFileSync(join(out, `0003.cls_head${h}.input.png`));
    assert.notDeepEqual(png(0), png(1));
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
