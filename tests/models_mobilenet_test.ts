/**
 * MobileNetV2, MobileNetV3 small/large and EfficientNet-B0 (torchvision
 * layout; EfficientNet-B0 and MobileNetV3-large also renamed to timm's
 * layout, with PyTorch and TensorFlow "same" padding; MobileNetV2 and
 * EfficientNet-B0 renamed to Hugging Face's layouts, with their own
 * padding) against float64 PyTorch references written by
 * scripts/families/gen_mobilenet_refs.py (generated once into a cache by
 * tests/_family_refs.ts; random-init weights, randomized BatchNorm
 * statistics): logits, pooled features, the final feature map and Grad-CAM
 * at 64x64 and at an odd 67x53 input; refusals of broken or unsupported
 * checkpoints; variant identification, strides, activations and notes
 * from names and shapes alone; preprocessing defaults.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Engine } from "../src/gpu/engine.ts";
import type { ClassifierModel } from "../src/models/model.ts";
import { ModelLayoutError } from "../src/errors.ts";
import { findModelFiles } from "../src/models/config.ts";
import { SafetensorsFile } from "../src/weights/safetensors.ts";
import {
  loadMobileNet,
  mobilenetFamily,
  mobilenetPipeline,
} from "../src/models/mobilenet/family.ts";
import { makeDivisible, mobilenetSpec } from "../src/models/mobilenet/layouts.ts";
import type { TensorIndex } from "../src/weights/layout_check.ts";
import type { InvertedResidualSpec, MobileNetBlockSpec } from "../src/models/mobilenet/spec.ts";
import {
  caseVariant,
  checkCnnCase,
  familyPipeline,
  generatedRefs,
  HAVE_TORCH,
  readRef,
  relDiff,
  runCnn,
} from "./_family_refs.ts";

const SKIP = HAVE_TORCH ? "" : " (skipped: /usr/bin/python3 cannot import torch/torchvision)";
const CASES = [
  "tv_mobilenet_v2",
  "tv_mobilenet_v3_small",
  "tv_mobilenet_v3_large",
  "tv_efficientnet_b0",
  "timm_efficientnet_b0",
  "timm_mobilenetv3_large",
  "timm_tf_efficientnet_b0",
  "timm_tf_mobilenetv3_large",
  "hf_mobilenet_v2",
  "hf_efficientnet_b0",
  "tv_efficientnet_v2",
  "timm_efficientnetv2",
  "timm_tf_efficientnetv2",
];
const refs = () => generatedRefs("gen_mobilenet_refs.py");

let enginePromise: Promise<Engine> | undefined;
const getEngine = () => enginePromise ??= Engine.create();

const run = async (model: ClassifierModel, pixels: { data: Float32Array; shape: number[] }) =>
  runCnn(await getEngine(), model, pixels);

const measured: string[] = [];

for (const name of CASES) {
  Deno.test({
    name:
      `mobilenet ${name}: logits, features, feature map, Grad-CAM vs PyTorch (64x64, 67x53)${SKIP}`,
    ignore: !HAVE_TORCH,
    async fn() {
      const dir = await refs();
      const files = findModelFiles(join(dir, name));
      const names = Object.keys(await readRef(files.weights));
      assert.ok(mobilenetFamily.detect(names, files.config), `${name} not detected`);
      const model = await loadMobileNet(files, { engine: await getEngine() });
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

async function refusal(path: string, ...patterns: RegExp[]): Promise<string> {
  const err = await loadMobileNet(path, { engine: await getEngine() }).then(
    () => undefined,
    (e) => e,
  );
  assert.ok(err instanceof ModelLayoutError, `expected a ModelLayoutError, got ${err}`);
  for (const p of patterns) assert.match(err.message, p);
  return err.message;
}

/** Renames `features.<from>.*` to `features.<to>.*`. */
function moveChild(t: Record<string, unknown>, from: number, to: number) {
  for (const k of Object.keys(t)) {
    if (k.startsWith(`features.${from}.`)) {
      t[`features.${to}.${k.slice(`features.${from}.`.length)}`] = t[k];
      delete t[k];
    }
  }
}

Deno.test({
  name: `mobilenet: broken or unsupported checkpoints are refused with the tensors named${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    // A missing tensor.
    await refusal(
      await variant("tv_mobilenet_v2", {
        tensors: (t) => delete t["features.3.conv.1.1.running_var"],
      }),
      /missing tensors: features\.3\.conv\.1\.1\.running_var/,
    );
    // A wrong shape (the SE convs are [out, in, 1, 1]).
    await refusal(
      await variant("tv_efficientnet_b0", {
        tensors: (t) => t["features.2.0.block.2.fc1.weight"].shape = [4, 96],
      }),
      /features\.2\.0\.block\.2\.fc1\.weight.*\[4,96\]/,
    );
    // A MobileNetV3 that is neither small nor large: per-block activations unknown.
    await refusal(
      await variant("tv_mobilenet_v3_small", {
        tensors: (t) => {
          for (const k of Object.keys(t)) if (k.startsWith("features.11.")) delete t[k];
          moveChild(t, 12, 11);
        },
      }),
      /10 blocks .*matches neither mobilenet_v3_small nor mobilenet_v3_large/,
    );
    // A MobileNetV2 with a non-standard number of blocks: strides unknown unless config gives them.
    const short = (config?: Record<string, unknown>) =>
      variant("tv_mobilenet_v2", {
        config,
        tensors: (t) => {
          for (const k of Object.keys(t)) if (k.startsWith("features.17.")) delete t[k];
          moveChild(t, 18, 17);
        },
      });
    await refusal(await short(), /16 blocks: the strides are not recorded/, /block_strides/);
    await refusal(await short({ block_strides: [1, 2] }), /must list 16 strides of 1 or 2/);
    // timm builds whose blocks or activations the weights do not record; dilated backbones.
    await refusal(
      await variant("timm_tf_efficientnet_b0", {
        config: { architecture: "tf_efficientnet_lite0" },
      }),
      /timm tf_efficientnet_lite0 is not supported/,
    );
    await refusal(
      await variant("tv_mobilenet_v3_large", { config: { dilated: true } }),
      /dilated MobileNetV3/,
    );
    await refusal(
      await variant("timm_efficientnet_b0", { config: { architecture: "efficientnet_lite0" } }),
      /timm efficientnet_lite0 is not supported/,
    );
    // model_args would rebuild the network (act_layer, se_layer, ...) without changing a tensor.
    await refusal(
      await variant("timm_efficientnet_b0", { config: { model_args: { act_layer: "relu" } } }),
      /model_args\.act_layer = "relu" is a timm EfficientNet \/ MobileNet option/,
    );
    const dropout = await variant("timm_efficientnet_b0", {
      config: { model_args: { drop_rate: 0.2, drop_path_rate: 0.1 } },
    });
    (await loadMobileNet(dropout, { engine: await getEngine() })).dispose();
    await refusal(
      await variant("timm_efficientnet_b0", {
        tensors: (t) => delete t["blocks.3.1.se.conv_reduce.bias"],
      }),
      /missing tensors: blocks\.3\.1\.se\.conv_reduce\.bias/,
    );
    // A full 3x3 conv where an MBConv block (it has SE) needs its depthwise.
    await refusal(
      await variant("tv_efficientnet_b0", {
        tensors: (t) => {
          const w = t["features.2.0.block.1.0.weight"];
          w.shape = [w.shape[0] / 4, 4, 3, 3];
        },
      }),
      /not a depthwise convolution/,
    );
  },
});

Deno.test({
  name:
    `mobilenet: the same weights give bit-identical logits in torchvision and timm layouts${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    const dir = await refs();
    const ref = await readRef(join(dir, "tv_efficientnet_b0.ref_odd.safetensors"));
    const logits = async (name: string) => {
      const path = name.startsWith("/") ? name : join(dir, name);
      const model = await loadMobileNet(path, { engine: await getEngine() });
      try {
        return (await run(model, ref.pixels)).logits;
      } finally {
        model.dispose();
      }
    };
    assert.deepEqual(await logits("timm_efficientnet_b0"), await logits("tv_efficientnet_b0"));
    // timm's MobileNetV3 differs only by BatchNorm eps (1e-5 vs torchvision's 0.001).
    const v3 = await variant("timm_mobilenetv3_large", { config: { bn_eps: 1e-3 } });
    assert.deepEqual(await logits(v3), await logits("tv_mobilenet_v3_large"));
    const spec = await specOf("timm_mobilenetv3_large");
    assert.deepEqual([spec.layout, spec.variant, spec.bnEps], ["timm", "mobilenet_v3_large", 1e-5]);
    assert.deepEqual(spec.head.layers.map((l) => [l.outFeatures, l.act]), [
      [640, "hardswish"],
      [10, "none"],
    ]);
    assert.equal(spec.blocks[0].residual, true);
  },
});

Deno.test({
  name: `mobilenet: a batch split into one-image chunks gives the same outputs${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    const dir = await refs();
    const ref = await readRef(join(dir, "tv_efficientnet_b0.ref_odd.safetensors"));
    const model = await loadMobileNet(join(dir, "tv_efficientnet_b0"), {
      engine: await getEngine(),
    });
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

/** The block as an MBConv (asserting it is one). */
function mb(b: MobileNetBlockSpec): InvertedResidualSpec {
  assert.equal(b.kind, "mbconv", `${b.name} is not an MBConv block`);
  return b as InvertedResidualSpec;
}

async function specOf(name: string, config: Record<string, unknown> = {}) {
  const dir = await refs();
  const f = await SafetensorsFile.open(join(dir, name, "model.safetensors"));
  try {
    return mobilenetSpec(f, config, name);
  } finally {
    f.close();
  }
}

Deno.test({
  name: `mobilenet: variants, strides, activations, eps and notes inferred from the weights${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    // MobileNetV2 (width 0.5): the standard 17-block table, even where widths do not change.
    const v2 = await specOf("tv_mobilenet_v2");
    assert.equal(v2.variant, "mobilenet_v2");
    assert.deepEqual(
      v2.blocks.map((b) => b.stride),
      [1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1],
    );
    assert.equal(v2.blocks[3].inChannels, v2.blocks[3].outChannels); // 16 -> 16 at stride 2
    assert.equal(v2.blocks[3].residual, false);
    assert.equal(v2.blocks[4].residual, true);
    assert.ok(v2.blocks.every((b) => b.act === "relu6" && !mb(b).se));
    assert.equal(mb(v2.blocks[0]).expand, undefined);
    assert.equal(v2.bnEps, 1e-5);
    assert.match(v2.notes.join("\n"), /inverted_residual_setting/);
    // MobileNetV3 small: table activations, SE gates, eps 0.001, hardswish head.
    const small = await specOf("tv_mobilenet_v3_small");
    assert.equal(small.variant, "mobilenet_v3_small");
    assert.deepEqual(
      small.blocks.map((b) => b.act === "hardswish" ? "HS" : "RE").join(""),
      [
        "RERERE" + "HS".repeat(8),
      ].join(""),
    );
    assert.deepEqual(small.blocks.map((b) => b.stride), [2, 2, 1, 2, 1, 1, 1, 1, 2, 1, 1]);
    assert.deepEqual([mb(small.blocks[0]).se?.act, mb(small.blocks[0]).se?.gate], [
      "relu",
      "hardsigmoid",
    ]);
    assert.equal(small.bnEps, 1e-3);
    assert.deepEqual(small.head.layers.map((l) => l.act), ["hardswish", "none"]);
    assert.match(small.notes.join("\n"), /hardswish between classifier\.0 and classifier\.3/);
    // config.json head_activation still overrides the architecture's head activation.
    const relu = await specOf("tv_mobilenet_v3_small", { head_activation: "relu" });
    assert.equal(relu.head.layers[0].act, "relu");
    const large = await specOf("tv_mobilenet_v3_large");
    assert.equal(large.variant, "mobilenet_v3_large");
    assert.equal(large.blocks[0].residual, true);
    // EfficientNet-B0 identified from widths and depths; eps override and stride override.
    const b0 = await specOf("tv_efficientnet_b0");
    assert.equal(b0.variant, "efficientnet_b0");
    assert.equal(b0.bnEps, 1e-5);
    assert.ok(b0.blocks.every((b) => b.act === "silu" && mb(b).se?.gate === "sigmoid"));
    assert.deepEqual(b0.blocks.map((b) => b.kernel), [
      3,
      3,
      3,
      5,
      5,
      3,
      3,
      3,
      5,
      5,
      5,
      5,
      5,
      5,
      5,
      3,
    ]);
    assert.deepEqual(
      b0.blocks.map((b) => b.stride),
      [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1],
    );
    const eps = await specOf("tv_efficientnet_b0", { batch_norm_eps: 1e-3 });
    assert.equal(eps.bnEps, 1e-3);
    assert.match(eps.notes.join("\n"), /BatchNorm eps 0\.001 from config\.json/);
    const strides = Array(16).fill(1);
    const s1 = await specOf("tv_efficientnet_b0", { block_strides: strides });
    assert.ok(s1.blocks.every((b) => b.stride === 1));
    // torchvision's _make_divisible (values checked against torchvision 0.14).
    assert.deepEqual([35.2, 44.8, 12, 51.2, 57.6, 8.8, 4].map((v) => makeDivisible(v)), [
      32,
      48,
      16,
      48,
      56,
      8,
      8,
    ]);
  },
});

/** A tensor index with the given names and shapes. */
function indexOf(t: Record<string, number[]>): TensorIndex {
  return { names: () => Object.keys(t), info: (n) => ({ dtype: "F32", shape: t[n] }) };
}

Deno.test("mobilenet: detection from names alone; other families are not claimed", () => {
  assert.deepEqual(
    mobilenetFamily.detect(["features.0.0.weight", "features.1.conv.0.0.weight"], {}),
    { layout: "torchvision" },
  );
  assert.equal(
    mobilenetFamily.detect(["features.0.0.weight", "features.1.0.block.0.weight"], {}),
    undefined,
  ); // ConvNeXt
  assert.equal(mobilenetFamily.detect(["conv1.weight", "layer1.0.conv1.weight"], {}), undefined);
  assert.throws(
    () => mobilenetSpec(indexOf({ "fc.weight": [2, 2] }), {}, "x"),
    /not a MobileNet \/ EfficientNet layout/,
  );
});

Deno.test({
  name: `mobilenet: preprocessing defaults from the identified torchvision model${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    const dir = await refs();
    const pipeline = (path: string) => familyPipeline(mobilenetFamily, path);
    const v2 = await pipeline(join(dir, "tv_mobilenet_v2"));
    assert.deepEqual([v2.size, v2.crop, v2.interpolation], [[232, 232], [224, 224], "bilinear"]);
    assert.match(v2.warnings.join("\n"), /torchvision's mobilenet_v2/);
    const b0 = await pipeline(join(dir, "tv_efficientnet_b0"));
    assert.deepEqual([b0.size, b0.crop, b0.interpolation], [[256, 256], [224, 224], "bicubic"]);
    const small = await pipeline(join(dir, "tv_mobilenet_v3_small"));
    assert.deepEqual(small.size, [256, 256]);
    const unknown = mobilenetPipeline(findModelFiles(join(dir, "tv_mobilenet_v2")), {
      ...(await specOf("tv_mobilenet_v2")),
      variant: undefined,
    });
    assert.match(unknown.warnings.join("\n"), /match no published/);
    // efficientnet_v2_l's preset normalises with mean = std = 0.5 (torchvision 0.14).
    const l = mobilenetPipeline(findModelFiles(join(dir, "tv_efficientnet_v2")), {
      ...(await specOf("tv_efficientnet_v2")),
      variant: "efficientnet_v2_l",
    });
    assert.deepEqual([l.size, l.crop, l.interpolation, l.mean, l.std], [
      [480, 480],
      [480, 480],
      "bicubic",
      [0.5, 0.5, 0.5],
      [0.5, 0.5, 0.5],
    ]);
    assert.match(l.warnings.join("\n"), /mean\/std 0\.5/);
  },
});

Deno.test({
  name: `mobilenet: loadModel finds the family through the registry${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    const { loadModel, detectArchitecture } = await import("../src/models/load.ts");
    const dir = await refs();
    for (const name of CASES) {
      const files = findModelFiles(join(dir, name));
      const st = await SafetensorsFile.open(files.weights);
      assert.equal(detectArchitecture(files.config, st.names()), "mobilenet", name);
      st.close();
      const model = await loadModel(join(dir, name), await getEngine());
      assert.ok(["mobilenet_v2", "mobilenet_v3", "efficientnet", "efficientnet_v2"].includes(
        model.architecture,
      ));
      assert.ok((model.notes?.length ?? 0) > 0);
      model.dispose();
    }
  },
});

Deno.test({
  name: `mobilenet: measured differences${SKIP}`,
  ignore: !HAVE_TORCH,
  fn() {
    if (measured.length) console.log(measured.join("\n"));
  },
});

/** The spec of case `name` with its own config.json merged with `edit`. */
async function specWith(name: string, edit: Record<string, unknown> = {}) {
  const dir = await refs();
  const config = findModelFiles(join(dir, name)).config;
  return specOf(name, { ...config, ...edit });
}

/** Logits of the model at `path` (a case name or a folder) on the pixels of `ref`. */
async function logitsOf(path: string, ref: string): Promise<Float32Array> {
  const dir = await refs();
  const pixels = (await readRef(join(dir, ref))).pixels;
  const model = await loadMobileNet(path.startsWith("/") ? path : join(dir, path), {
    engine: await getEngine(),
  });
  try {
    return (await run(model, pixels)).logits;
  } finally {
    model.dispose();
  }
}

Deno.test({
  name: `mobilenet: Hugging Face and tf_ layouts: padding, residuals, eps and defaults${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    // HF MobileNetV2: TensorFlow "same" padding everywhere, eps from layer_norm_eps, the stem's block
    // (conv_stem.conv_3x3 / reduce_1x1) without a residual.
    const v2 = await specWith("hf_mobilenet_v2");
    assert.deepEqual([v2.layout, v2.variant, v2.bnEps, v2.stem.padding], [
      "hf",
      "mobilenet_v2",
      1e-3,
      "same",
    ]);
    assert.ok(v2.blocks.every((b) => b.padding === "same" && b.act === "relu6"));
    assert.equal(v2.blocks[0].residual, false);
    assert.deepEqual(
      v2.blocks.map((b) => b.stride),
      [1, 2, 1, 2, 1, 1, 2, 1, 1, 1, 1, 1, 1, 2, 1, 1, 1],
    );
    const pt = await specWith("hf_mobilenet_v2", { tf_padding: false });
    assert.deepEqual([pt.stem.padding, pt.blocks[1].padding], [1, 1]);
    // HF EfficientNet: its fixed pads, residual after the first block of each stage.
    const b0 = await specWith("hf_efficientnet_b0");
    assert.deepEqual([b0.variant, b0.bnEps], ["efficientnet_b0", 1e-3]);
    assert.deepEqual(b0.stem.padding, { top: 0, bottom: 1, left: 0, right: 1 });
    assert.deepEqual(b0.blocks[1].padding, { top: 0, bottom: 1, left: 0, right: 1 }); // 3x3 / 2
    assert.deepEqual(b0.blocks[3].padding, { top: 1, bottom: 2, left: 1, right: 2 }); // 5x5 / 2
    assert.equal(b0.blocks[2].padding, 1);
    assert.deepEqual(
      b0.blocks.map((b) => (b.residual ? 1 : 0)).join(""),
      // Stages of 1, 2, 2, 3, 3, 4, 1 blocks: every block but the first of its stage.
      "0" + "01" + "01" + "011" + "011" + "0111" + "0",
    );
    const keep = await specWith("hf_efficientnet_b0", { depthwise_padding: [3] });
    assert.equal(keep.blocks[3].padding, 2);
    assert.match(keep.notes.join("\n"), /blocks 3, config depthwise_padding/);
    // timm tf_*: "same" everywhere, eps 0.001.
    const tf = await specWith("timm_tf_efficientnet_b0");
    assert.deepEqual([tf.layout, tf.bnEps, tf.stem.padding], ["timm", 1e-3, "same"]);
    assert.ok(tf.blocks.every((b) => b.padding === "same"));
    const v3 = await specWith("timm_tf_mobilenetv3_large");
    assert.deepEqual([v3.variant, v3.bnEps, v3.blocks[3].padding], [
      "mobilenet_v3_large",
      1e-3,
      "same",
    ]);
    assert.match(v3.notes.join("\n"), /TensorFlow "same" padding on every convolution/);
  },
});

Deno.test({
  name:
    `mobilenet: the same weights in two layouts give bit-identical logits where the math agrees${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    for (const ref of ["tv_mobilenet_v2.ref.safetensors", "tv_mobilenet_v2.ref_odd.safetensors"]) {
      // HF MobileNetV2 with tf_padding false and torchvision's eps is torchvision's mobilenet_v2.
      const hfPt = await variant("hf_mobilenet_v2", {
        config: { tf_padding: false, layer_norm_eps: 1e-5 },
      });
      assert.deepEqual(await logitsOf(hfPt, ref), await logitsOf("tv_mobilenet_v2", ref));
    }
    // At 64x64 every stride-2 input is even: HF EfficientNet's fixed pads are TensorFlow's "same".
    const even = "hf_efficientnet_b0.ref.safetensors";
    assert.deepEqual(
      await logitsOf("hf_efficientnet_b0", even),
      await logitsOf("timm_tf_efficientnet_b0", even),
    );
    // At 67x53 they are not (the references differ too; checked against each above).
    const odd = "hf_efficientnet_b0.ref_odd.safetensors";
    assert.notDeepEqual(
      await logitsOf("hf_efficientnet_b0", odd),
      await logitsOf("timm_tf_efficientnet_b0", odd),
    );
    // Bare state dicts (no config.json): detected from names, Hugging Face's defaults (tf_padding true,
    // eps 0.001, relu6 / swish, EfficientNet stages where the width changes) give the same logits.
    for (const name of ["hf_mobilenet_v2", "hf_efficientnet_b0"]) {
      const bare = await variant(name, { config: null });
      const files = findModelFiles(bare);
      assert.equal(files.hasConfig, false);
      const names = Object.keys(await readRef(files.weights));
      assert.deepEqual(mobilenetFamily.detect(names, {}), { layout: "hf" });
      assert.deepEqual(await logitsOf(bare, odd), await logitsOf(name, odd), name);
      const spec = mobilenetSpec(indexOfFile(await readRef(files.weights)), {}, name);
      assert.match(spec.notes.join("\n"), /Hugging Face's default/);
    }
  },
});

/** A tensor index over tensors read with readRef. */
function indexOfFile(t: Record<string, { shape: number[] }>): TensorIndex {
  return indexOf(Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.shape])));
}

Deno.test({
  name:
    `mobilenet: HF MobileNetV2 with first_layer_is_expansion false (conv_stem.expand_1x1)${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    // An identity expand_1x1 (its BatchNorm the identity: var = 1 - eps) after the ReLU6 stem
    // changes nothing but rounding: the block is read with its expansion and runs it.
    const p = "mobilenet_v2.conv_stem.expand_1x1";
    const dir = await variant("hf_mobilenet_v2", {
      config: { first_layer_is_expansion: false },
      tensors: (t) => {
        const c = t["mobilenet_v2.conv_stem.first_conv.convolution.weight"].shape[0];
        const eye = new Float32Array(c * c);
        for (let i = 0; i < c; i++) eye[i * c + i] = 1;
        const fill = (v: number) => ({ data: new Float32Array(c).fill(v), shape: [c] });
        t[`${p}.convolution.weight`] = { data: eye, shape: [c, c, 1, 1] };
        t[`${p}.normalization.weight`] = fill(1);
        t[`${p}.normalization.bias`] = fill(0);
        t[`${p}.normalization.running_mean`] = fill(0);
        t[`${p}.normalization.running_var`] = fill(1 - 1e-3);
      },
    });
    const f = await SafetensorsFile.open(join(dir, "model.safetensors"));
    const spec = mobilenetSpec(f, findModelFiles(dir).config, "x");
    f.close();
    assert.equal(mb(spec.blocks[0]).expand?.weight, `${p}.convolution.weight`);
    const refPath = join(await refs(), "hf_mobilenet_v2.ref_odd.safetensors");
    const ref = await readRef(refPath);
    assert.ok(
      relDiff(await logitsOf(dir, "hf_mobilenet_v2.ref_odd.safetensors"), ref.logits.data) < 1e-4,
    );
  },
});

Deno.test({
  name: `mobilenet: Hugging Face checkpoints the loader cannot run exactly are refused${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    await refusal(
      await variant("hf_mobilenet_v2", { config: { output_stride: 16 } }),
      /output_stride 16: the dilated MobileNetV2/,
    );
    await refusal(
      await variant("hf_mobilenet_v2", { config: { hidden_act: "gelu" } }),
      /hidden_act "gelu" is not supported/,
    );
    await refusal(
      await variant("hf_efficientnet_b0", { config: { pooling_type: "max" } }),
      /pooling_type "max" is not supported/,
    );
    await refusal(
      await variant("hf_efficientnet_b0", { config: { num_block_repeats: [1, 2, 2, 3, 3, 4, 2] } }),
      /make 17 blocks, but the weights have 16/,
    );
    await refusal(
      await variant("hf_efficientnet_b0", { config: { strides: [1, 2, 2] } }),
      /config strides \[1,2,2\] must list 7 strides/,
    );
    await refusal(
      await variant("hf_efficientnet_b0", {
        tensors: (t) => delete t["efficientnet.encoder.blocks.4.squeeze_excite.expand.bias"],
      }),
      /missing tensors: efficientnet\.encoder\.blocks\.4\.squeeze_excite\.expand\.bias/,
    );
  },
});

Deno.test({
  name: `mobilenet: EfficientNetV2 fused blocks, strides, eps; timm layouts bit-identical${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    const tv = await specWith("tv_efficientnet_v2");
    assert.deepEqual([tv.arch, tv.layout, tv.bnEps, tv.variant], [
      "efficientnet_v2",
      "torchvision",
      1e-3,
      undefined,
    ]);
    // 2 fused blocks without expansion, 4 with, then MBConv + SE; strides 1,2,2,2,1,2 per stage.
    assert.deepEqual(
      tv.blocks.map((b) => b.kind === "fused" ? (b.project ? "E" : "C") : "M").join(""),
      "CCEEEEMMMMMM",
    );
    assert.deepEqual(tv.blocks.map((b) => b.stride), [1, 1, 2, 1, 2, 1, 2, 1, 1, 1, 2, 1]);
    assert.deepEqual(
      tv.blocks.map((b) => (b.residual ? 1 : 0)).join(""),
      "110101010101",
    );
    assert.ok(tv.blocks.slice(6).every((b) => mb(b).se?.act === "silu"));
    assert.match(tv.notes.join("\n"), /match no published efficientnet_v2_s\/m\/l/);
    assert.match(tv.notes.join("\n"), /EfficientNetV2 table/);
    // timm, bare state dict: detected from names (ConvBnAct first block), eps 1e-5.
    const timm = await specWith("timm_efficientnetv2");
    assert.deepEqual([timm.arch, timm.layout, timm.bnEps], ["efficientnet_v2", "timm", 1e-5]);
    assert.equal(findModelFiles(join(await refs(), "timm_efficientnetv2")).hasConfig, false);
    const tf = await specWith("timm_tf_efficientnetv2");
    assert.deepEqual([tf.bnEps, tf.blocks[2].padding, tf.stem.padding], [1e-3, "same", "same"]);
    // The same weights: timm with torchvision's eps is torchvision, bit for bit.
    const ref = "tv_efficientnet_v2.ref_odd.safetensors";
    const timmEps = await variant("timm_efficientnetv2", { config: { bn_eps: 1e-3 } });
    assert.deepEqual(await logitsOf(timmEps, ref), await logitsOf("tv_efficientnet_v2", ref));
    // A full-size efficientnet_v2_s is identified from its widths and depths (shapes only).
    const s = EFFNET_V2_S_SHAPES();
    const spec = mobilenetSpec(indexOf(s), {}, "v2_s");
    assert.deepEqual([spec.variant, spec.blocks.length], ["efficientnet_v2_s", 40]);
    await refusal(
      await variant("tv_efficientnet_v2", { config: { block_strides: [1, 2] } }),
      /must list 12 strides of 1 or 2/,
    );
  },
});

/** Tensor shapes of torchvision's efficientnet_v2_s (as its builder makes them, 1000 classes). */
function EFFNET_V2_S_SHAPES(): Record<string, number[]> {
  const t: Record<string, number[]> = {};
  const convBn = (p: string, o: number, i: number, k: number, bn = `${p.slice(0, -1)}1`) => {
    t[`${p}.weight`] = [o, i, k, k];
    for (const n of ["weight", "bias", "running_mean", "running_var"]) t[`${bn}.${n}`] = [o];
  };
  convBn("features.0.0", 24, 3, 3);
  // [fused?, expand, in, out, layers]
  const stages: [boolean, number, number, number, number][] = [
    [true, 1, 24, 24, 2],
    [true, 4, 24, 48, 4],
    [true, 4, 48, 64, 4],
    [false, 4, 64, 128, 6],
    [false, 6, 128, 160, 9],
    [false, 6, 160, 256, 15],
  ];
  stages.forEach(([fused, e, cin, cout, n], s) => {
    for (let j = 0; j < n; j++) {
      const i = j === 0 ? cin : cout, x = i * e, p = `features.${s + 1}.${j}.block`;
      if (fused && e === 1) convBn(`${p}.0.0`, cout, i, 3);
      else if (fused) {
        convBn(`${p}.0.0`, x, i, 3);
        convBn(`${p}.1.0`, cout, x, 1);
      } else {
        const sq = Math.max(1, Math.floor(i / 4));
        convBn(`${p}.0.0`, x, i, 1);
        convBn(`${p}.1.0`, x, 1, 3);
        t[`${p}.2.fc1.weight`] = [sq, x, 1, 1];
        t[`${p}.2.fc1.bias`] = [sq];
        t[`${p}.2.fc2.weight`] = [x, sq, 1, 1];
        t[`${p}.2.fc2.bias`] = [x];
        convBn(`${p}.3.0`, cout, x, 1);
      }
    }
  });
  convBn("features.7.0", 1280, 256, 1);
  t["classifier.1.weight"] = [1000, 1280];
  t["classifier.1.bias"] = [1000];
  return t;
}
