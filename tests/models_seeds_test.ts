/**
 * The models the project's seed material trains, saved as users save them
 * (bare state dicts; a ViT config.json holding only the head count), and the
 * torchvision / nn.TransformerEncoder / MLP-head layouts around them, against
 * PyTorch references from scripts/families/gen_refs.py: logits, pooled
 * features, Grad-CAM through MLP heads, the stated inferences, config.json
 * overrides, refusals, and the CIFAR-10 end-to-end agreement.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Engine } from "../src/gpu/engine.ts";
import { loadModel } from "../src/models/load.ts";
import { folderPipeline } from "../src/models/load.ts";
import { explainPixels } from "../src/explain/explain.ts";
import { ModelLayoutError } from "../src/errors.ts";
import { headSpec } from "../src/nn/head.ts";
import { familyRefs, readRef, refsTest, relDiff } from "./_family_refs.ts";
import { fixture, HAVE_FIXTURES } from "./_helpers.ts";

const engine = await Engine.create();

/** Runs a case's reference input; returns logits and features with their references. */
async function runCase(dir: string, name: string) {
  const model = await loadModel(join(dir, name), engine);
  const ref = await readRef(join(dir, `${name}.ref.safetensors`));
  const x = engine.upload(ref.pixels.data, ref.pixels.shape, "pixels");
  const out = model.forward(engine, x, { features: true });
  const [logits, features] = await engine.read(out.logits, out.features!);
  out.logits.release();
  out.features!.release();
  x.release();
  return { model, ref, logits: logits as Float32Array, features: features as Float32Array };
}

const CASES = [
  "tv_resnet18_cifar",
  "tv_resnet_mlp_head",
  "tv_resnet_mlp_head_gelu",
  "ptvit_post_norm",
  "ptvit_pre_norm",
  "ptvit_post_norm_relu",
  "tv_vit",
  "tv_vit_mlp_head",
];

for (const name of CASES) {
  refsTest(`seeds: ${name} logits and features match PyTorch within 1e-4`, async (dir) => {
    const { model, ref, logits, features } = await runCase(dir, name);
    try {
      assert.ok(
        relDiff(logits, ref.logits.data) < 1e-4,
        `logits ${relDiff(logits, ref.logits.data)}`,
      );
      assert.ok(
        relDiff(features, ref.features.data) < 1e-4,
        `features ${relDiff(features, ref.features.data)}`,
      );
    } finally {
      model.dispose();
    }
  });
}

refsTest("seeds: Grad-CAM through an MLP head (ReLU and GELU) matches autograd", async (dir) => {
  for (const name of ["tv_resnet_mlp_head", "tv_resnet_mlp_head_gelu", "tv_resnet18_cifar"]) {
    const model = await loadModel(join(dir, name), engine);
    const ref = await readRef(join(dir, `${name}.ref.safetensors`));
    const shape = ref.pixels.shape as [number, number, number, number];
    const ex = await explainPixels(engine, model, ref.pixels.data, shape, {
      method: "gradcam",
      classes: Array.from(ref.target_class.data),
      png: false,
    });
    const [, h, w] = ref.gradcam.shape;
    ex.forEach((e, b) => {
      const want = ref.gradcam.data.subarray(b * h * w, (b + 1) * h * w);
      assert.equal(e.map.width * e.map.height, h * w);
      assert.ok(relDiff(e.map.data, want) < 1e-4, `${name}[${b}] ${relDiff(e.map.data, want)}`);
    });
    model.dispose();
  }
});

refsTest(
  "seeds: what is not in the weights is inferred and said, or set by config.json",
  async (dir) => {
    const cifar = await loadModel(join(dir, "tv_resnet18_cifar"), engine);
    assert.match(cifar.notes!.join("\n"), /stride 1, no max-pool, inferred: conv1 is 3x3/);
    assert.deepEqual(cifar.inputSize, [32, 32]);
    const pipeline = await folderPipeline(join(dir, "tv_resnet18_cifar"));
    assert.deepEqual(pipeline.size, [32, 32]);
    assert.ok(pipeline.warnings.some((w) => /assumed 32x32/.test(w)));
    cifar.dispose();

    const mlp = await loadModel(join(dir, "tv_resnet_mlp_head"), engine);
    assert.match(mlp.notes!.join("\n"), /assumed ReLU between fc\.0 and fc\.3/);
    assert.match(mlp.notes!.join("\n"), /conv1 is 7x7: torchvision's ImageNet stem/);
    mlp.dispose();
    const gelu = await loadModel(join(dir, "tv_resnet_mlp_head_gelu"), engine);
    assert.doesNotMatch(gelu.notes!.join("\n"), /assumed ReLU/);
    gelu.dispose();

    const vit = await loadModel(join(dir, "ptvit_post_norm"), engine);
    assert.match(vit.notes!.join("\n"), /post-norm blocks \(norm_first=False\)/);
    vit.dispose();

    // config.json overrides: a CIFAR stem declared as the ImageNet one changes the network.
    const tmp = Deno.makeTempDirSync();
    try {
      Deno.copyFileSync(
        join(dir, "tv_resnet18_cifar", "model.safetensors"),
        join(tmp, "model.safetensors"),
      );
      Deno.writeTextFileSync(
        join(tmp, "config.json"),
        JSON.stringify({ stem_stride: 2, stem_max_pool: true }),
      );
      const forced = await loadModel(tmp, engine);
      assert.match(forced.notes!.join("\n"), /stride 2, 3x3\/2 max-pool \(config\.json\)/);
      forced.dispose();
      // Without the head count an nn.MultiheadAttention state dict is refused.
      Deno.copyFileSync(
        join(dir, "ptvit_post_norm", "model.safetensors"),
        join(tmp, "model.safetensors"),
      );
      Deno.writeTextFileSync(join(tmp, "config.json"), "{}");
      await assert.rejects(
        () => loadModel(tmp, engine),
        (e: Error) => e instanceof ModelLayoutError && /num_attention_heads/.test(e.message),
      );
      // hidden_act relu on a GELU-trained model runs, and the logits then differ: the setting is used.
      Deno.writeTextFileSync(
        join(tmp, "config.json"),
        JSON.stringify({ num_attention_heads: 3, hidden_act: "relu" }),
      );
      const relu = await loadModel(tmp, engine);
      const ref = await readRef(join(dir, "ptvit_post_norm.ref.safetensors"));
      const x = engine.upload(ref.pixels.data, ref.pixels.shape, "pixels");
      const out = relu.forward(engine, x);
      const [lg] = await engine.read(out.logits);
      assert.ok(relDiff(lg as Float32Array, ref.logits.data) > 1e-2);
      out.logits.release();
      x.release();
      relu.dispose();
    } finally {
      Deno.removeSync(tmp, { recursive: true });
    }
  },
);

Deno.test("seeds: a torchvision conv1 of another kernel size is refused unless config.json says", async () => {
  const { resnetSpec } = await import("../src/models/resnet/layouts.ts");
  const shapes: Record<string, number[]> = {
    "conv1.weight": [8, 3, 5, 5],
    "fc.weight": [4, 8],
    "fc.bias": [4],
  };
  for (const n of ["bn1", "layer1.0.bn1", "layer1.0.bn2"]) {
    for (const k of ["weight", "bias", "running_mean", "running_var"]) shapes[`${n}.${k}`] = [8];
  }
  shapes["layer1.0.conv1.weight"] = [8, 8, 3, 3];
  shapes["layer1.0.conv2.weight"] = [8, 8, 3, 3];
  const index = {
    names: () => Object.keys(shapes),
    info: (n: string) => ({ dtype: "F32", shape: shapes[n] }),
  };
  assert.throws(() => resnetSpec(index, {}, "m.safetensors"), /conv1 is 5x5.*stem_stride/);
  const spec = resnetSpec(index, { stem_stride: 1, stem_max_pool: false }, "m.safetensors");
  assert.equal(spec.stem[0].stride, 1);
  assert.equal(spec.stemPool, undefined);
});

Deno.test("head: nn.Sequential indices, BatchNorm1d, head_activation, refusals", () => {
  const index = (shapes: Record<string, number[]>) => ({
    names: () => Object.keys(shapes),
    info: (n: string) => ({ dtype: "F32", shape: shapes[n] }),
  });
  // Linear, BatchNorm1d, ReLU, Dropout, Linear
  const bn = ["weight", "bias", "running_mean", "running_var"];
  const s1: Record<string, number[]> = { "fc.0.weight": [16, 8], "fc.0.bias": [16] };
  for (const k of bn) s1[`fc.1.${k}`] = [16];
  s1["fc.4.weight"] = [3, 16];
  const h1 = headSpec(index(s1), "fc", 8, {}, "x");
  assert.equal(h1.layers.length, 2);
  assert.ok(h1.layers[0].bn);
  assert.equal(h1.layers[0].act, "relu");
  assert.match(h1.notes.join(" "), /assumed ReLU between fc\.0 and fc\.4/);
  // Adjacent linears: nothing between them.
  const s2 = { "head.0.weight": [6, 8], "head.1.weight": [2, 6], "head.1.bias": [2] };
  const h2 = headSpec(index(s2), "head", 8, {}, "x");
  assert.equal(h2.layers[0].act, "none");
  assert.equal(h2.numClasses, 2);
  // config.json says which activation.
  const s3 = { "fc.0.weight": [6, 8], "fc.2.weight": [2, 6] };
  assert.equal(
    headSpec(index(s3), "fc", 8, { head_activation: "gelu" }, "x").layers[0].act,
    "gelu",
  );
  assert.throws(
    () => headSpec(index(s3), "fc", 8, { head_activation: "swish2" }, "x"),
    /not supported/,
  );
  // Leading dropout.
  const s4 = { "fc.1.weight": [2, 8], "fc.1.bias": [2] };
  assert.match(headSpec(index(s4), "fc", 8, {}, "x").notes.join(" "), /dropout\/flatten/);
  // A LayerNorm inside the head is not a supported module.
  const s5 = { "fc.0.weight": [6, 8], "fc.1.weight": [6], "fc.1.bias": [6], "fc.2.weight": [2, 6] };
  assert.throws(() => headSpec(index(s5), "fc", 8, {}, "x"), /neither a Linear nor a BatchNorm1d/);
});

/** Predictions of a seed model on the first 20 CIFAR-10 test JPEGs of each class, vs PyTorch. */
async function cifarAgreement(dir: string, name: string): Promise<number> {
  const rows = Deno.readTextFileSync(join(dir, `${name}.cifar_predictions.csv`)).trim().split("\n")
    .slice(1).map((l) => l.split(","));
  const model = await loadModel(join(dir, name), engine);
  try {
    const preds = await model.predict(rows.map((r) => fixture("data", "cifar10-test", r[0])), {
      engine,
      batch: 50,
      topk: 1,
      // The seed's transforms: ToTensor + Normalize, no resize given.
      preprocess: { mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616] },
    });
    let same = 0;
    preds.forEach((p, i) => same += p.top[0].class === Number(rows[i][2]) ? 1 : 0);
    return same / rows.length;
  } finally {
    model.dispose();
  }
}

for (const name of ["tv_resnet18_cifar", "ptvit_post_norm"]) {
  Deno.test({
    name: `seeds: ${name} on 200 CIFAR-10 JPEGs agrees with PyTorch on >= 99.5%` +
      (HAVE_FIXTURES ? "" : " (skipped: ../shared/fixtures not found)"),
    ignore: !HAVE_FIXTURES,
    fn: async () => {
      const dir = await familyRefs();
      const agreement = await cifarAgreement(dir, name);
      assert.ok(agreement >= 0.995, `agreement ${agreement}`);
    },
  });
}

Deno.test("seeds: torchvision ViT heads inferred only for torchvision's named sizes", async () => {
  const { vitSpec } = await import("../src/models/vit/layouts.ts");
  const tvIndex = (D: number, depth: number, M: number, classes = 10) => {
    const s: Record<string, number[]> = {
      "conv_proj.weight": [D, 3, 16, 16],
      "conv_proj.bias": [D],
      "class_token": [1, 1, D],
      "encoder.pos_embedding": [1, 197, D],
      "encoder.ln.weight": [D],
      "encoder.ln.bias": [D],
      "heads.head.weight": [classes, D],
      "heads.head.bias": [classes],
    };
    for (let i = 0; i < depth; i++) {
      const p = `encoder.layers.encoder_layer_${i}`;
      for (const n of ["ln_1", "ln_2"]) s[`${p}.${n}.weight`] = s[`${p}.${n}.bias`] = [D];
      s[`${p}.self_attention.in_proj_weight`] = [3 * D, D];
      s[`${p}.self_attention.in_proj_bias`] = [3 * D];
      s[`${p}.self_attention.out_proj.weight`] = [D, D];
      s[`${p}.self_attention.out_proj.bias`] = [D];
      s[`${p}.mlp.0.weight`] = [M, D];
      s[`${p}.mlp.0.bias`] = [M];
      s[`${p}.mlp.3.weight`] = [D, M];
      s[`${p}.mlp.3.bias`] = [D];
    }
    return { names: () => Object.keys(s), info: (n: string) => ({ dtype: "F32", shape: s[n] }) };
  };
  // vit_b_16 as saved by torch.save(model.state_dict()) + safetensors, no config.json.
  const b16 = vitSpec(tvIndex(768, 12, 3072), {}, "vit_b_16.safetensors");
  assert.equal(b16.heads, 12);
  assert.deepEqual(b16.grid, [14, 14]);
  assert.match(b16.notes.join(" "), /torchvision's vit_b_\* configuration/);
  // vit_l width and depth.
  assert.equal(vitSpec(tvIndex(1024, 24, 4096), {}, "l.safetensors").heads, 16);
  // A width/depth no named model has: refused, with the config.json hint.
  assert.throws(
    () => vitSpec(tvIndex(768, 6, 3072), {}, "custom.safetensors"),
    /does not record the number of attention heads.*num_attention_heads/,
  );
  // config.json decides when present (and must divide the width).
  assert.equal(vitSpec(tvIndex(768, 6, 3072), { num_attention_heads: 8 }, "c").heads, 8);
  assert.throws(
    () => vitSpec(tvIndex(768, 6, 3072), { num_attention_heads: 7 }, "c"),
    /does not divide the width 768/,
  );
});
