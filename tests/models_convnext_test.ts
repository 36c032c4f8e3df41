/**
 * ConvNeXt / ConvNeXt V2 against float64 PyTorch references written by
 * scripts/families/gen_refs.py (run once into a shared cache by
 * tests/_family_refs.ts; random-init checkpoints in torchvision,
 * Hugging Face and timm layouts): logits, pooled features, the final feature
 * map and Grad-CAM at 64x64 and at an odd 72x56 input; bit-identical logits
 * across layouts of one weight set; refusals of broken checkpoints; the
 * preprocessing each layout defaults to.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Engine } from "../src/gpu/engine.ts";
import type { ClassifierModel } from "../src/models/model.ts";
import { ModelLayoutError } from "../src/errors.ts";
import { findModelFiles } from "../src/models/config.ts";
import { SafetensorsFile } from "../src/weights/safetensors.ts";
import { convnextFamily, convnextPipeline, loadConvNeXt } from "../src/models/convnext/family.ts";
import { convnextSpec } from "../src/models/convnext/layouts.ts";
import type { ConvNeXtSpec } from "../src/models/convnext/spec.ts";
import type { TensorIndex } from "../src/weights/layout_check.ts";
import {
  caseVariant,
  checkCnnCase,
  familyPipeline,
  familyRefs,
  HAVE_TORCH,
  readRef,
  runCnn,
} from "./_family_refs.ts";

const SKIP = HAVE_TORCH ? "" : " (skipped: /usr/bin/python3 cannot import torch/torchvision)";
/** ConvNeXt V2 needs the GRN kernel (ops/grn.ts, kernels branch); until then V2 cases are skipped. */
const GRN_READY = true;
const isV2 = (name: string) => name.includes("v2");
const skipOf = (name: string) =>
  SKIP || (isV2(name) && !GRN_READY ? " (skipped: no GRN kernel in this build yet)" : "");

const V1 = ["tv_convnext", "hf_convnext", "timm_convnext", "timm_convnext_bare"];
const CASES = [
  ...V1,
  "timm_convnext_convmlp",
  "hf_convnextv2",
  "timm_convnextv2",
  "timm_convnextv2_convmlp",
];

const refs = familyRefs;
const readAll = readRef;

let enginePromise: Promise<Engine> | undefined;
const getEngine = () => enginePromise ??= Engine.create();

const run = async (model: ClassifierModel, pixels: { data: Float32Array; shape: number[] }) =>
  runCnn(await getEngine(), model, pixels);

const measured: string[] = [];

for (const name of CASES) {
  Deno.test({
    name: `convnext ${name}: logits, features, feature map, Grad-CAM vs PyTorch (64x64 and 72x56)${
      skipOf(name)
    }`,
    ignore: skipOf(name) !== "",
    async fn() {
      const dir = await refs();
      const files = findModelFiles(join(dir, name));
      const names = await readAll(files.weights);
      assert.ok(convnextFamily.detect(Object.keys(names), files.config), `${name} not detected`);
      const model = await loadConvNeXt(files, { engine: await getEngine() });
      try {
        measured.push(...await checkCnnCase(await getEngine(), model, dir, name));
      } finally {
        model.dispose();
      }
    },
  });
}

/** A copy of case `name` with config.json merged with `edit.config` (null: none), tensors edited. */
const variant = async (name: string, edit: Parameters<typeof caseVariant>[2]) =>
  caseVariant(await refs(), name, edit);

async function logitsOf(path: string): Promise<Float32Array> {
  const dir = await refs();
  const ref = await readAll(join(dir, "tv_convnext.ref.safetensors"));
  const model = await loadConvNeXt(path, { engine: await getEngine() });
  try {
    return (await run(model, ref.pixels)).logits;
  } finally {
    model.dispose();
  }
}

Deno.test({
  name:
    `convnext: one weight set gives bit-identical logits in the torchvision, HF and timm layouts${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    const dir = await refs();
    const base = await logitsOf(join(dir, "tv_convnext"));
    for (const other of ["timm_convnext", "timm_convnext_bare", "timm_convnext_convmlp"]) {
      assert.deepEqual(await logitsOf(join(dir, other)), base, `${other} vs tv_convnext`);
    }
    // HF's final LayerNorm eps comes from config.json (1e-12 there): with 1e-6 it is the same network.
    const hf = await variant("hf_convnext", { config: { layer_norm_eps: 1e-6 } });
    assert.deepEqual(await logitsOf(hf), base, "hf_convnext (layer_norm_eps 1e-6) vs tv_convnext");
    if (!GRN_READY) return;
    const v2 = await logitsOf(join(dir, "timm_convnextv2"));
    assert.deepEqual(await logitsOf(join(dir, "timm_convnextv2_convmlp")), v2);
    const hf2 = await variant("hf_convnextv2", { config: { layer_norm_eps: 1e-6 } });
    assert.deepEqual(await logitsOf(hf2), v2, "hf_convnextv2 (layer_norm_eps 1e-6) vs timm");
  },
});

Deno.test({
  name: `convnext: a batch split into one-image chunks gives the same outputs${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    const dir = await refs();
    const ref = await readAll(join(dir, "hf_convnext.ref_odd.safetensors"));
    const model = await loadConvNeXt(join(dir, "hf_convnext"), { engine: await getEngine() });
    try {
      const whole = await run(model, ref.pixels);
      const [, , h, w] = ref.pixels.shape;
      model.maxTensorBytes = model.activationBytesPerImage(h, w);
      assert.equal(model.maxBatch(await getEngine(), h, w), 1);
      const chunked = await run(model, ref.pixels);
      assert.deepEqual(chunked.logits, whole.logits);
      assert.deepEqual(chunked.featureMap, whole.featureMap);
    } finally {
      model.dispose();
    }
  },
});

async function refusal(path: string, ...patterns: RegExp[]): Promise<string> {
  const err = await loadConvNeXt(path, { engine: await getEngine() }).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(err instanceof ModelLayoutError, `expected a ModelLayoutError, got ${err}`);
  for (const p of patterns) assert.match(err.message, p);
  return err.message;
}

Deno.test({
  name: `convnext: broken or unsupported checkpoints are refused with the tensors named${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    // A missing tensor.
    await refusal(
      await variant("hf_convnext", {
        tensors: (t) => delete t["convnext.encoder.stages.2.layers.1.pwconv2.bias"],
      }),
      /missing tensors: convnext\.encoder\.stages\.2\.layers\.1\.pwconv2\.bias/,
    );
    await refusal(
      await variant("timm_convnextv2", {
        tensors: (t) => delete t["stages.1.blocks.0.mlp.grn.weight"],
      }),
      /missing tensors: stages\.1\.blocks\.0\.mlp\.grn\.weight/,
    );
    // A wrong shape (torchvision layer scale must be [C, 1, 1]).
    await refusal(
      await variant("tv_convnext", {
        tensors: (t) => t["features.3.0.layer_scale"].shape = [24],
      }),
      /shape mismatches: features\.3\.0\.layer_scale: expected \[24,1,1\], found \[24\]/,
    );
    // A V1 block tensor in a V2 checkpoint.
    await refusal(
      await variant("timm_convnextv2", {
        tensors: (t) => t["stages.0.blocks.0.gamma"] = { data: new Float32Array(16), shape: [16] },
      }),
      /unexpected tensors.*stages\.0\.blocks\.0\.gamma/,
    );
    // Unsupported variants: an activation the weights cannot say, an RMSNorm model, an overlapping stem.
    await refusal(
      await variant("hf_convnext", { config: { hidden_act: "gelu_new" } }),
      /hidden_act "gelu_new" is not supported/,
    );
    await refusal(
      await variant("timm_convnext", { config: { architecture: "convnext_atto_rms" } }),
      /RMSNorm/,
    );
    await refusal(
      await variant("timm_convnext_bare", {
        tensors: (t) => t["stem.2.weight"] = { data: new Float32Array(16), shape: [16] },
      }),
      /overlapping stem/,
    );
    // config.json contradicting the weights.
    await refusal(
      await variant("hf_convnext", { config: { depths: [1, 1, 3, 1] } }),
      /depths \[1,1,3,1\] vs \[1,1,2,1\]/,
    );
    await refusal(
      await variant("timm_convnext", {
        config: { model_args: { dims: [16, 24, 32, 64], depths: [1, 1, 2, 1] } },
      }),
      /model_args\.dims \[16,24,32,64\] vs \[16,24,32,48\]/,
    );
    // timm options the weights do not record, at values other than the ones run.
    await refusal(
      await variant("timm_convnext", { config: { model_args: { output_stride: 16 } } }),
      /model_args\.output_stride = 16: this loader runs timm ConvNeXt only with output_stride 32/,
    );
    await refusal(
      await variant("timm_convnext", { config: { model_args: { global_pool: "avgmax" } } }),
      /only with global_pool "avg"/,
    );
  },
});

/** A tensor index with the given names and shapes. */
function indexOf(t: Record<string, number[]>): TensorIndex {
  return { names: () => Object.keys(t), info: (n) => ({ dtype: "F32", shape: t[n] }) };
}

Deno.test({
  name: `convnext: preprocessing defaults per layout${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    const dir = await refs();
    const pipeline = (path: string) => familyPipeline(convnextFamily, path);
    // HF without preprocessor_config.json: ConvNextImageProcessor's rule at image_size 64.
    const hf = await pipeline(join(dir, "hf_convnext"));
    assert.equal(hf.resizeMode, "shortest");
    assert.deepEqual(hf.size, [73, 73]); // int(64 / 0.875)
    assert.deepEqual(hf.crop, [64, 64]);
    assert.equal(hf.cropRounding, "floor");
    assert.match(hf.warnings.join("\n"), /assumed ConvNextImageProcessor/);
    // image_size >= 384: warped, no crop.
    const big = await pipeline(await variant("hf_convnext", { config: { image_size: 384 } }));
    assert.equal(big.resizeMode, "exact");
    assert.deepEqual(big.size, [384, 384]);
    assert.equal(big.crop, null);
    // timm with pretrained_cfg: timm's own rule (input 64, crop_pct 0.875, bicubic).
    const timm = await pipeline(join(dir, "timm_convnext"));
    assert.deepEqual([timm.size, timm.crop, timm.interpolation], [[73, 73], [64, 64], "bicubic"]);
    // timm without config: timm's ConvNeXt default cfg, said in a warning.
    const bare = await pipeline(join(dir, "timm_convnext_bare"));
    assert.deepEqual([bare.size, bare.crop, bare.interpolation], [
      [256, 256],
      [224, 224],
      "bicubic",
    ]);
    assert.match(bare.warnings.join("\n"), /timm's ConvNeXt default/);
    // torchvision: widths that match no published model -> 232, said.
    const tv = await pipeline(join(dir, "tv_convnext"));
    assert.deepEqual([tv.size, tv.crop, tv.interpolation], [[232, 232], [224, 224], "bilinear"]);
    assert.match(tv.warnings.join("\n"), /match no published torchvision ConvNeXt/);
    // torchvision convnext_tiny / small recognised from widths and depths (spec only, no weights).
    const files = { ...findModelFiles(join(dir, "tv_convnext")) };
    const spec = (widths: number[], depths: number[]) =>
      ({ layout: "torchvision", widths, depths }) as ConvNeXtSpec;
    const tiny = convnextPipeline(files, spec([96, 192, 384, 768], [3, 3, 9, 3]));
    assert.deepEqual(tiny.size, [236, 236]);
    assert.match(tiny.warnings.join("\n"), /convnext_tiny/);
    assert.deepEqual(convnextPipeline(files, spec([96, 192, 384, 768], [3, 3, 27, 3])).size, [
      230,
      230,
    ]);
    assert.deepEqual(convnextPipeline(files, spec([128, 256, 512, 1024], [3, 3, 27, 3])).size, [
      232,
      232,
    ]);
  },
});

Deno.test("convnext: layout detection and notes from names and config alone", () => {
  // A minimal 1-stage, 1-block torchvision ConvNeXt index (no weights needed).
  const tv = indexOf({
    "features.0.0.weight": [8, 3, 4, 4],
    "features.0.0.bias": [8],
    "features.0.1.weight": [8],
    "features.0.1.bias": [8],
    "features.1.0.block.0.weight": [8, 1, 7, 7],
    "features.1.0.block.0.bias": [8],
    "features.1.0.block.2.weight": [8],
    "features.1.0.block.2.bias": [8],
    "features.1.0.block.3.weight": [32, 8],
    "features.1.0.block.3.bias": [32],
    "features.1.0.block.5.weight": [8, 32],
    "features.1.0.block.5.bias": [8],
    "features.1.0.layer_scale": [8, 1, 1],
    "classifier.0.weight": [8],
    "classifier.0.bias": [8],
    "classifier.2.weight": [5, 8],
    "classifier.2.bias": [5],
  });
  const s = convnextSpec(tv, {}, "tv");
  assert.deepEqual([s.layout, s.version, s.widths, s.depths], ["torchvision", 1, [8], [1]]);
  assert.equal(s.head.norm?.eps, 1e-6);
  assert.match(s.notes.join("\n"), /torchvision's ConvNeXt definition/);
  // config.json norm_eps overrides every LayerNorm epsilon.
  const o = convnextSpec(tv, { norm_eps: 1e-5 }, "tv");
  assert.deepEqual([o.stem.norm.eps, o.head.norm?.eps], [1e-5, 1e-5]);
  // Not a ConvNeXt: refused with the names summarized.
  assert.equal(convnextFamily.detect(["conv1.weight", "layer1.0.conv1.weight"], {}), undefined);
  assert.throws(
    () => convnextSpec(indexOf({ "fc.weight": [2, 2] }), {}, "x", undefined),
    /not a ConvNeXt layout/,
  );
});

Deno.test({
  name: `convnext: measured differences${SKIP}`,
  ignore: !HAVE_TORCH,
  fn() {
    if (measured.length) console.log(measured.join("\n"));
  },
});

Deno.test({
  name: "convnext: loadModel finds the family through the registry in every layout" +
    (HAVE_TORCH ? "" : " (skipped: /usr/bin/python3 cannot import torch)"),
  ignore: !HAVE_TORCH,
  fn: async () => {
    const { loadModel, detectArchitecture } = await import("../src/models/load.ts");
    const dir = await familyRefs();
    for (const name of ["tv_convnext", "hf_convnext", "timm_convnext", "timm_convnext_bare"]) {
      const files = findModelFiles(join(dir, name));
      const st = await SafetensorsFile.open(files.weights);
      assert.equal(detectArchitecture(files.config, st.names()), "convnext", name);
      st.close();
      const model = await loadModel(join(dir, name), await getEngine());
      assert.equal(model.architecture, "convnext");
      model.dispose();
    }
  },
});
