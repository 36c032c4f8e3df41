/**
 * Vision Transformer variants against float64 PyTorch references written
 * from the libraries' sources (scripts/families/gen_refs.py): Hugging Face
 * DINOv2 with and without register tokens (head on the class token beside
 * the mean of the patch tokens; bicubic position resize, antialiased with
 * registers) and timm ViTs with layer scales + register tokens +
 * no_embed_class, with global_pool "avg" + fc_norm (bare state dict), and
 * SigLIP-2 style (no class token, "avg" after the final norm, tanh GELU):
 * logits, the head input, attention maps and rollout, at the trained grid
 * and at another one; what was inferred; refusals.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Engine } from "../src/gpu/engine.ts";
import { loadModel } from "../src/models/load.ts";
import { explainPixels } from "../src/explain/explain.ts";
import { vitSpec } from "../src/models/vit/layouts.ts";
import { readRef, refsTest, relDiff } from "./_family_refs.ts";

const engine = await Engine.create();

// [case, references]: "ref" at the trained 32x32 grid, "ref_odd" at 40x48 (resized positions;
// BEiT: 44x36).
const CASES: [string, string[]][] = [
  ["hf_dinov2", ["ref", "ref_odd"]],
  ["hf_dinov2_registers", ["ref", "ref_odd"]],
  ["timm_vit_reg_ls", ["ref", "ref_odd"]],
  ["timm_vit_avg_fcnorm", ["ref", "ref_odd"]],
  ["timm_vit_gap_gelu_tanh", ["ref", "ref_odd"]],
  ["hf_beit", ["ref", "ref_odd"]], // ref_odd: 44x36, an 11x9 grid (bias tables resized)
];

for (const [name, suffixes] of CASES) {
  refsTest(
    `vit variants: ${name} logits, head input and attention match PyTorch (${suffixes.join(", ")})`,
    async (dir) => {
      const model = await loadModel(join(dir, name), engine);
      try {
        assert.equal(model.architecture, "vit");
        for (const suffix of suffixes) {
          const ref = await readRef(join(dir, `${name}.${suffix}.safetensors`));
          const x = engine.upload(ref.pixels.data, ref.pixels.shape, "pixels");
          const out = model.forward(engine, x, { features: true, attention: true });
          const [lg, ft, at] = await engine.read(out.logits, out.features!, out.attention!);
          for (const t of [x, out.logits, out.features!, out.attention!]) t.release();
          const what = `${name} ${suffix}`;
          // The tanh GELU case: exact GELU instead would be 1.6e-4 off, so the bound is tighter.
          const bound = name === "timm_vit_gap_gelu_tanh" ? 2e-5 : 1e-4;
          const d = relDiff(lg as Float32Array, ref.logits.data);
          assert.ok(d < bound, `${what} logits ${d}`);
          assert.deepEqual(out.features!.shape, ref.features.shape);
          assert.ok(relDiff(ft as Float32Array, ref.features.data) < 1e-4, `${what} features`);
          let maxAbs = 0;
          const a = at as Float32Array;
          for (let i = 0; i < a.length; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(a[i] - ref.attn_mean.data[i]));
          }
          assert.ok(maxAbs < 1e-4, `${what} attention ${maxAbs}`);
        }
      } finally {
        model.dispose();
      }
    },
  );
}

refsTest(
  "dinov2: rollout skips the class and register tokens; the grid follows the input",
  async (dir) => {
    const model = await loadModel(join(dir, "hf_dinov2_registers"), engine);
    try {
      assert.deepEqual(model.tokenGrid!(40, 48), { prefix: 5, grid: [10, 12] });
      const ref = await readRef(join(dir, "hf_dinov2_registers.ref_odd.safetensors"));
      const ex = await explainPixels(
        engine,
        model,
        ref.pixels.data,
        ref.pixels.shape as [number, number, number, number],
        {
          method: "rollout",
          png: false,
          normalization: { mean: [0, 0, 0], std: [1, 1, 1], scale: 1 },
        },
      );
      assert.equal(ex.length, 3);
      assert.deepEqual([ex[0].map.height, ex[0].map.width], [10, 12]);
    } finally {
      model.dispose();
    }
  },
);

refsTest(
  "vit variants: timm pooling, no_embed_class and heads inferred from a bare state dict, and said",
  async (dir) => {
    const avg = await loadModel(join(dir, "timm_vit_avg_fcnorm"), engine);
    const notes = avg.notes!.join("\n");
    assert.match(notes, /global_pool "avg"\): fc_norm is present/);
    assert.match(notes, /attention heads: 1, inferred from width 64/);
    assert.deepEqual(avg.tokenGrid!(32, 32), { prefix: 1, grid: [8, 8] });
    avg.dispose();
    const reg = await loadModel(join(dir, "timm_vit_reg_ls"), engine);
    // The class-token head is timm's default, but an "avg" model with fc_norm=False has the same
    // tensors: the assumption is said.
    assert.match(reg.notes!.join("\n"), /head on the class token \(timm global_pool "token"/);
    assert.deepEqual(reg.tokenGrid!(32, 32), { prefix: 5, grid: [8, 8] });
    reg.dispose();
    // Without model_args, no_embed_class is inferred from the position rows (64 = a grid, not 64 - 5).
    const { vitSpec: spec } = await import("../src/models/vit/layouts.ts");
    const { SafetensorsFile } = await import("../src/weights/safetensors.ts");
    const f = await SafetensorsFile.open(join(dir, "timm_vit_reg_ls", "model.safetensors"));
    const s = spec(f, { model_args: { num_heads: 3 } }, "reg");
    f.close();
    assert.equal(s.posPrefixRows, 0);
    assert.match(s.notes.join(" "), /no_embed_class/);
  },
);

refsTest(
  "vit variants: timm choices not in the weights: activation, residual post-norm, heads by width",
  async (dir) => {
    const { SafetensorsFile } = await import("../src/weights/safetensors.ts");
    const f = await SafetensorsFile.open(join(dir, "timm_vit_gap_gelu_tanh", "model.safetensors"));
    try {
      const args = { num_heads: 3, class_token: false, fc_norm: false };
      // model_args says; else the SigLIP-2 architecture names (said in the notes); else exact GELU.
      assert.equal(
        vitSpec(f, { model_args: { ...args, act_layer: "gelu_tanh" } }).mlpAct,
        "gelu_tanh",
      );
      const named = vitSpec(f, {
        architecture: "vit_so400m_patch16_siglip_gap_256.v2_webli",
        model_args: args,
      });
      assert.equal(named.mlpAct, "gelu_tanh");
      assert.match(named.notes.join(" "), /act_layer 'gelu_tanh'/);
      const plain = vitSpec(f, {
        architecture: "vit_base_patch16_siglip_gap_224",
        model_args: args,
      });
      assert.equal(plain.mlpAct, "gelu");
      assert.equal(plain.pool, "patch-mean");
      assert.throws(
        () => vitSpec(f, { model_args: { ...args, act_layer: "quick_gelu" } }),
        /act_layer "quick_gelu" is not supported/,
      );
      // Residual post-norm blocks share the pre-norm blocks' names: refused by name and by model_args.
      assert.throws(
        () => vitSpec(f, { architecture: "vit_base_patch16_rpn_224", model_args: args }),
        /residual post-norm/,
      );
      assert.throws(
        () => vitSpec(f, { model_args: { ...args, block_fn: "ResPostBlock" } }),
        /model_args\.block_fn = "ResPostBlock"/,
      );
      assert.throws(
        () => vitSpec(f, { model_args: { ...args, output_stride: 16 } }),
        /model_args\.output_stride = 16 is a timm VisionTransformer option this loader does not run/,
      );
      // A size name gives its heads only at its own width (48 is no "small"): D / 64 otherwise.
      assert.throws(
        () =>
          vitSpec(f, { architecture: "vit_small_patch4_32", model_args: { class_token: false } }),
        /cannot tell the number of attention heads for width 48/,
      );
    } finally {
      f.close();
    }
  },
);

refsTest(
  "beit: with absolute position embeddings beside the relative bias, other grids are refused",
  async (dir) => {
    const { caseVariant } = await import("./_family_refs.ts");
    const path = await caseVariant(dir, "hf_beit", {
      config: { use_absolute_position_embeddings: true },
      tensors: (t) => {
        t["beit.embeddings.position_embeddings"] = {
          data: new Float32Array(65 * 48),
          shape: [1, 65, 48],
        };
      },
    });
    const model = await loadModel(path, engine);
    try {
      const x = engine.upload(new Float32Array(1 * 3 * 40 * 48), [1, 3, 40, 48], "pixels");
      assert.throws(
        () => model.forward(engine, x),
        /absolute position embeddings and relative position bias are for 8x8; resize images to 32x32/,
      );
      x.release();
    } finally {
      model.dispose();
    }
  },
);

Deno.test("beit: a table resized to its own grid is unchanged; class rows are kept", async () => {
  const { resizeRelativeTable } = await import("../src/nn/transformer.ts");
  const heads = 2, rows = 5 * 5 + 3;
  const table = Float32Array.from({ length: rows * heads }, (_, i) => Math.sin(i));
  assert.deepEqual(resizeRelativeTable(table, heads, [3, 3], [3, 3]), table);
  const up = resizeRelativeTable(table, heads, [3, 3], [4, 2]); // 7x3 offsets
  assert.equal(up.length, (7 * 3 + 3) * heads);
  assert.deepEqual(up.subarray(7 * 3 * heads), table.subarray(25 * heads));
  // Output (0, 0) of a 5 -> 7 row / 5 -> 3 column resize samples (0, 1/3): rows clamped at the
  // edge, columns 2/3 of column 0 and 1/3 of column 1 (bilinear, align_corners false).
  assert.ok(Math.abs(up[0] - (2 / 3 * table[0] + 1 / 3 * table[heads])) < 1e-6);
  assert.throws(() => resizeRelativeTable(table, 3, [3, 3], [4, 4]), /is not \[28, 3\]/);
});

Deno.test("beit: the dense relative position bias indexes the table as the library does", async () => {
  const { relativePositionBias } = await import("../src/nn/transformer.ts");
  // Window 2x3, 1 head: rows 0..(3*5-1) are offsets, then class->patch, patch->class, class->class.
  const rows = (2 * 2 - 1) * (2 * 3 - 1) + 3;
  const table = Float32Array.from({ length: rows }, (_, i) => i);
  const b = relativePositionBias(table, 1, [2, 3]);
  const T = 7;
  assert.equal(b[0], rows - 1); // class to class
  assert.equal(b[1], rows - 3); // class to patch
  assert.equal(b[T], rows - 2); // patch to class
  // Patch (0,0) to itself: offset (0,0) -> (1)*(5) + 2 = 7; patch (1,2) to (0,0): (2)*5 + 4 = 14.
  assert.equal(b[1 * T + 1], 7);
  assert.equal(b[6 * T + 1], 14);
  assert.throws(() => relativePositionBias(table, 2, [2, 3]), /is not \[18, 2\]/);
});

Deno.test("dinov2: layout detection, SwiGLU refused, mask token ignored", () => {
  const D = 8;
  const shapes: Record<string, number[]> = {
    "dinov2.embeddings.cls_token": [1, 1, D],
    "dinov2.embeddings.mask_token": [1, D],
    "dinov2.embeddings.position_embeddings": [1, 17, D],
    "dinov2.embeddings.patch_embeddings.projection.weight": [D, 3, 4, 4],
    "dinov2.embeddings.patch_embeddings.projection.bias": [D],
    "dinov2.layernorm.weight": [D],
    "dinov2.layernorm.bias": [D],
    "classifier.weight": [5, 2 * D],
    "classifier.bias": [5],
  };
  const p = "dinov2.encoder.layer.0";
  for (const n of ["norm1", "norm2"]) shapes[`${p}.${n}.weight`] = shapes[`${p}.${n}.bias`] = [D];
  for (const n of ["query", "key", "value"]) {
    shapes[`${p}.attention.attention.${n}.weight`] = [D, D];
    shapes[`${p}.attention.attention.${n}.bias`] = [D];
  }
  shapes[`${p}.attention.output.dense.weight`] = [D, D];
  shapes[`${p}.attention.output.dense.bias`] = [D];
  shapes[`${p}.layer_scale1.lambda1`] = shapes[`${p}.layer_scale2.lambda1`] = [D];
  shapes[`${p}.mlp.fc1.weight`] = [4 * D, D];
  shapes[`${p}.mlp.fc1.bias`] = [4 * D];
  shapes[`${p}.mlp.fc2.weight`] = [D, 4 * D];
  shapes[`${p}.mlp.fc2.bias`] = [D];
  const index = (s: Record<string, number[]>) => ({
    names: () => Object.keys(s),
    info: (n: string) => ({ dtype: "F32", shape: s[n] }),
  });
  const spec = vitSpec(index(shapes), { num_attention_heads: 2 }, "d.safetensors");
  assert.equal(spec.layout, "hf-dinov2");
  assert.equal(spec.pool, "cls+patch-mean");
  assert.deepEqual(spec.grid, [4, 4]);
  assert.equal(spec.blocks[0].layerScale1, `${p}.layer_scale1.lambda1`);
  // A head over the class token alone (not 2D wide) is a shape mismatch, named.
  assert.throws(
    () =>
      vitSpec(index({ ...shapes, "classifier.weight": [5, D] }), { num_attention_heads: 2 }, "d"),
    /classifier\.weight: expected \[5,16\], found \[5,8\]/,
  );
  const swiglu = { ...shapes };
  delete swiglu[`${p}.mlp.fc1.weight`];
  swiglu[`${p}.mlp.weights_in.weight`] = [8 * D, D];
  assert.throws(() => vitSpec(index(swiglu), { num_attention_heads: 2 }, "g"), /SwiGLU/);
});
