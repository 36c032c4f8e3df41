/**
 * ResNet loading and forward pass: PyTorch reference outputs from the
 * fixtures (random HF models, real CIFAR ResNet-20/56), synthetic
 * torchvision / CIFAR checkpoints (F32, F16, BF16, grouped convs) against a
 * float64 forward, batch chunking, and the layout errors a user can hit.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { GpuLimitError, ModelLayoutError, VisionEvalError } from "../src/errors.ts";
import { Engine } from "../src/gpu/engine.ts";
import { inputSizeFromConfig, labelsFromConfig } from "../src/models/config.ts";
import { loadModel } from "../src/models/load.ts";
import { loadResNet, type ResNet } from "../src/models/resnet/model.ts";
import { detectResNetLayout, resnetSpec, type TensorIndex } from "../src/models/resnet/layouts.ts";
import { SafetensorsFile, writeSafetensors } from "../src/weights/safetensors.ts";
import { cifarAgreement } from "../bench/cifar_accuracy.ts";
import {
  assertRelClose,
  fixture,
  fixtureTest,
  FULL,
  HAVE_FIXTURES,
  maxAbs,
  maxAbsDiff,
  randomF32,
} from "./_helpers.ts";
import {
  encodeWeights,
  RESNET50,
  resnetReference,
  type SynthResNet,
  synthResNetWeights,
  type SynthTensor,
} from "./resnet_synth.ts";

const engine = await Engine.create();

function argmaxRows(a: ArrayLike<number>, cols: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < a.length / cols; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (a[r * cols + c] > a[r * cols + best]) best = c;
    out.push(best);
  }
  return out;
}

async function readRef(path: string, ...names: string[]) {
  const f = await SafetensorsFile.open(path);
  try {
    const out: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const n of names) out[n] = { data: await f.readF32(n), shape: f.info(n).shape };
    return out;
  } finally {
    f.close();
  }
}

// ---------------------------------------------------------------------------
// PyTorch references

for (const kind of ["basic", "bottleneck"]) {
  fixtureTest(
    `HF ResNet (${kind}, random) matches PyTorch logits, feature map and pooled`,
    async () => {
      const name = `resnet-tiny-hf-${kind}`;
      const summary = JSON.parse(
        await Deno.readTextFile(fixture("reference", "random-models", "summary.json")),
      )[name];
      const ref = await readRef(
        fixture("reference", "random-models", `${name}.safetensors`),
        "pixel_values",
        "logits",
        "features",
        "pooled",
      );
      const model = await loadModel(fixture("models", name), engine);
      try {
        assert.equal(model.architecture, "resnet");
        assert.equal(model.numClasses, 10);
        assert.deepEqual(model.labels?.slice(0, 2), ["LABEL_0", "LABEL_1"]);
        const cfg = JSON.parse(await Deno.readTextFile(fixture("models", name, "config.json")));
        const inferred = model.config.resnet as Record<string, unknown>;
        assert.deepEqual(inferred.depths, cfg.depths);
        assert.deepEqual(inferred.widths, cfg.hidden_sizes);
        assert.equal(inferred.blockType, cfg.layer_type);

        const x = engine.upload(ref.pixel_values.data, ref.pixel_values.shape);
        const out = model.forward(engine, x, { features: true, featureMap: true });
        assert.deepEqual(out.featureMap!.shape, ref.features.shape);
        const [logits, fmap, pooled] = await engine.read(
          out.logits,
          out.featureMap!,
          out.features!,
        );
        const tol = 1e-4 * summary.max_abs_logit_before_bias;
        const d = maxAbsDiff(logits, ref.logits.data);
        assert.ok(d <= tol, `logits max |diff| ${d} > ${tol}`);
        assert.deepEqual(argmaxRows(logits, 10), summary.top1);
        assertRelClose(fmap, ref.features.data, 1e-3, "feature map");
        assertRelClose(pooled, ref.pooled.data, 1e-3, "pooled");
        console.log(
          `  ${name}: logits max|diff| ${d.toExponential(2)} (bound ${tol.toExponential(2)})`,
        );
        for (const t of [x, out.logits, out.featureMap!, out.features!]) t.release();
      } finally {
        model.dispose();
      }
    },
  );
}

fixtureTest(
  "CIFAR ResNet-20 and ResNet-56 (option A) match PyTorch on 64 real images",
  async () => {
    const ref = await readRef(
      fixture("reference", "resnet-cifar10", "inputs_and_logits.safetensors"),
      "pixel_values",
      "logits_resnet20",
      "logits_resnet56",
    );
    const x = engine.upload(ref.pixel_values.data, ref.pixel_values.shape);
    for (const depth of [20, 56]) {
      const model = await loadModel(fixture("models", "resnet-cifar10", `resnet${depth}`), engine);
      try {
        assert.deepEqual(model.inputSize, [32, 32]);
        assert.equal(model.labels?.[9], "truck");
        // Preprocessing comes from the CIFAR config.json: 32x32, x/255, ImageNet mean/std.
        assert.deepEqual(model.preprocess?.size, [32, 32]);
        assert.deepEqual(model.preprocess?.mean, [0.485, 0.456, 0.406]);
        const inferred = model.config.resnet as Record<string, unknown>;
        assert.equal(inferred.shortcut, "A");
        assert.deepEqual(inferred.depths, Array(3).fill((depth - 2) / 6));
        const out = model.forward(engine, x);
        const logits = await engine.readF32(out.logits);
        const refLogits = ref[`logits_resnet${depth}`].data;
        const rel = assertRelClose(logits, refLogits, 1e-3, `ResNet-${depth} logits`);
        assert.deepEqual(argmaxRows(logits, 10), argmaxRows(refLogits, 10));
        console.log(`  ResNet-${depth}: max|diff| / max|ref| = ${rel.toExponential(2)}`);
        out.logits.release();
      } finally {
        model.dispose();
      }
    }
    x.release();
  },
);

fixtureTest(
  "CIFAR-10 JPEGs through the data pipeline: ResNet-20 agrees with PyTorch (40 images)",
  async () => {
    const r = await cifarAgreement({ model: "resnet20", limit: 40, batch: 20, workers: 0, engine });
    assert.equal(r.n, 40);
    assert.equal(r.failed, 0);
    assert.deepEqual(r.disagreements, []);
    assert.equal(r.top1, r.refTop1);
  },
);

// ---------------------------------------------------------------------------
// Synthetic checkpoints vs a float64 forward

const TMP = await Deno.makeTempDir({ prefix: "visioneval-resnet-" });
globalThis.addEventListener("unload", () => {
  try {
    Deno.removeSync(TMP, { recursive: true });
  } catch { /* already gone */ }
});

async function writeCheckpoint(
  dir: string,
  weights: Record<string, SynthTensor>,
  dtype: "F32" | "F16" | "BF16",
  config?: Record<string, unknown>,
): Promise<Record<string, SynthTensor>> {
  await Deno.mkdir(dir, { recursive: true });
  const { tensors, stored } = encodeWeights(weights, dtype);
  await writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
  if (config) await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config));
  return stored;
}

const BASIC_TV: SynthResNet = {
  layout: "torchvision",
  block: "basic",
  stemChannels: 8,
  stemKernel: 7,
  depths: [2, 2],
  widths: [8, 16],
  numClasses: 5,
};
const RESNEXT_TV: SynthResNet = {
  layout: "torchvision",
  block: "bottleneck",
  stemChannels: 8,
  stemKernel: 7,
  depths: [2, 1, 1],
  widths: [16, 24, 32],
  mids: [8, 12, 16],
  groups: 2,
  numClasses: 7,
};
const CIFAR_TINY: SynthResNet = {
  layout: "cifar",
  block: "basic",
  stemChannels: 4,
  stemKernel: 3,
  depths: [1, 2, 1],
  widths: [4, 8, 16],
  numClasses: 3,
};

async function checkAgainstReference(
  model: ResNet,
  arch: SynthResNet,
  stored: Record<string, SynthTensor>,
  shape: number[],
  seed: number,
): Promise<void> {
  const pixels = randomF32(shape.reduce((a, b) => a * b), seed);
  const ref = resnetReference(arch, stored, pixels, shape);
  const x = engine.upload(pixels, shape);
  const out = model.forward(engine, x, { features: true, featureMap: true });
  assert.deepEqual(out.featureMap!.shape, ref.featureMapShape);
  const [logits, fmap, pooled] = await engine.read(out.logits, out.featureMap!, out.features!);
  assertRelClose(logits, ref.logits, 1e-4, "logits");
  assertRelClose(fmap, ref.featureMap, 1e-4, "feature map");
  assertRelClose(pooled, ref.pooled, 1e-4, "pooled");
  for (const t of [x, out.logits, out.featureMap!, out.features!]) t.release();
}

Deno.test("torchvision basic ResNet (F32, no config.json) matches a float64 forward", async () => {
  const weights = synthResNetWeights(BASIC_TV, 11);
  const dir = join(TMP, "tv-basic");
  const stored = await writeCheckpoint(dir, weights, "F32");
  const model = await loadModel(dir, engine) as ResNet;
  try {
    assert.equal(model.spec.layout, "torchvision");
    assert.equal(model.spec.blockType, "basic");
    assert.deepEqual(model.spec.depths, BASIC_TV.depths);
    assert.equal(model.labels, undefined);
    // Odd input size: every stride-2 layer rounds.
    await checkAgainstReference(model, BASIC_TV, stored, [2, 3, 37, 29], 12);
    // The weights file itself is a model path too.
    const again = await loadModel(join(dir, "model.safetensors"), engine);
    assert.equal(again.numClasses, 5);
    assert.deepEqual(again.classifierWeight(), weights["fc.weight"].data);
    again.dispose();
  } finally {
    model.dispose();
  }
});

Deno.test("ResNeXt-style bottleneck (groups 2) in F16 with a timm config matches a float64 forward", async () => {
  const weights = synthResNetWeights(RESNEXT_TV, 21);
  const dir = join(TMP, "tv-resnext-f16");
  const labels = ["a", "b", "c", "d", "e", "f", "g"];
  const stored = await writeCheckpoint(dir, weights, "F16", {
    architecture: "resnext_tiny",
    num_classes: 7,
    label_names: labels.map((l) => `n0${l}`),
    label_descriptions: labels,
    pretrained_cfg: { input_size: [3, 40, 40], classifier: "fc" },
  });
  const model = await loadModel(dir, engine) as ResNet;
  try {
    assert.equal(model.spec.blockType, "bottleneck");
    assert.equal(model.spec.stages[0][0].convs[1].groups, 2);
    assert.deepEqual(model.labels, labels);
    assert.deepEqual(model.inputSize, [40, 40]);
    await checkAgainstReference(model, RESNEXT_TV, stored, [3, 3, 40, 33], 22);
  } finally {
    model.dispose();
  }
});

Deno.test("CIFAR option-A ResNet in BF16 matches a float64 forward; chunked batches equal one pass", async () => {
  const weights = synthResNetWeights(CIFAR_TINY, 31);
  const dir = join(TMP, "cifar-bf16");
  const stored = await writeCheckpoint(dir, weights, "BF16", {
    architecture: "cifar_resnet",
    depth: 10,
    shortcut: "A",
    num_classes: 3,
    image_size: 32,
  });
  const model = await loadResNet(dir, { engine });
  try {
    assert.equal(model.spec.layout, "cifar");
    assert.deepEqual(model.spec.stages[1][0].shortcut, {
      kind: "zeroPad",
      stride: 2,
      padBefore: 2,
      padAfter: 2,
    });
    await checkAgainstReference(model, CIFAR_TINY, stored, [2, 3, 17, 15], 32);

    // Cap tensors at 2.5 images' worth: a batch of 5 runs as chunks of 2, 2, 1.
    const shape = [5, 3, 16, 16];
    const x = engine.upload(randomF32(5 * 3 * 16 * 16, 33), shape);
    const whole = model.forward(engine, x, { features: true, featureMap: true });
    const [l1, p1, m1] = await engine.read(whole.logits, whole.features!, whole.featureMap!);
    model.maxTensorBytes = model.activationBytesPerImage(16, 16) * 2.5;
    assert.equal(model.maxBatch(engine, 16, 16), 2);
    const chunked = model.forward(engine, x, { features: true, featureMap: true });
    assert.deepEqual(chunked.logits.shape, [5, 3]);
    const [l2, p2, m2] = await engine.read(chunked.logits, chunked.features!, chunked.featureMap!);
    assert.ok(maxAbsDiff(l1, l2) <= 1e-6 * maxAbs(l1), "chunked logits differ");
    assert.ok(maxAbsDiff(p1, p2) <= 1e-6 * maxAbs(p1), "chunked pooled features differ");
    assert.ok(maxAbsDiff(m1, m2) <= 1e-6 * maxAbs(m1), "chunked feature maps differ");
    // The caller's input is not consumed.
    assert.equal(x.released, false);
    // Not even one image fits: a clear limit error instead of a failed dispatch.
    model.maxTensorBytes = 1024;
    assert.throws(
      () => model.forward(engine, x),
      (e: Error) => e instanceof GpuLimitError && /One 16x16 image needs 4\.0 KiB/.test(e.message),
    );
    for (const r of [whole, chunked]) for (const t of Object.values(r)) t.release();
    x.release();
  } finally {
    model.dispose();
  }
});

// ---------------------------------------------------------------------------
// Layout detection and errors (no GPU work)

/** A TensorIndex over synthetic weights, with edits. */
function indexOf(weights: Record<string, { shape: number[] }>): TensorIndex {
  return {
    names: () => Object.keys(weights),
    info: (n) => ({ dtype: "F32", shape: weights[n].shape }),
  };
}

function layoutError(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof ModelLayoutError, `expected ModelLayoutError, got ${e}`);
    return e.message;
  }
  assert.fail("expected a ModelLayoutError");
}

Deno.test("a disposed model refuses to run with a typed error naming it", async () => {
  const dir = join(TMP, "cifar-disposed");
  await writeCheckpoint(dir, synthResNetWeights(CIFAR_TINY, 41), "F32", {
    architecture: "cifar_resnet",
    depth: 10,
    shortcut: "A",
    num_classes: 3,
    image_size: 32,
  });
  const model = await loadResNet(dir, { engine });
  model.dispose();
  const x = engine.upload(randomF32(3 * 16 * 16, 42), [1, 3, 16, 16]);
  try {
    assert.throws(
      () => model.forward(engine, x),
      (e) =>
        e instanceof VisionEvalError && /disposed.*load it again with loadModel/.test(e.message),
    );
  } finally {
    x.release();
  }
});

Deno.test("layout detection from config.json and tensor names", () => {
  const tv = Object.keys(synthResNetWeights(BASIC_TV, 1));
  const cifar = Object.keys(synthResNetWeights(CIFAR_TINY, 1));
  assert.equal(detectResNetLayout(tv), "torchvision");
  assert.equal(detectResNetLayout(cifar), "cifar");
  assert.equal(detectResNetLayout(tv, { architecture: "cifar_resnet" }), "cifar");
  assert.equal(detectResNetLayout(["x.weight"], { model_type: "resnet" }), "hf");
  assert.equal(detectResNetLayout(["resnet.embedder.embedder.convolution.weight"]), "hf");
  assert.equal(detectResNetLayout(["vit.embeddings.cls_token", "classifier.weight"]), undefined);
  assert.equal(
    detectResNetLayout(["conv1.0.weight"], { architecture: "resnet50d" }),
    "torchvision",
  );
});

Deno.test("ResNet-50 key set is recognised from names and shapes alone", () => {
  const spec = resnetSpec(indexOf(synthResNetWeights({ ...RESNET50, numClasses: 2 }, 3, true)));
  assert.equal(spec.blockType, "bottleneck");
  assert.deepEqual(spec.depths, [3, 4, 6, 3]);
  assert.deepEqual(spec.widths, [256, 512, 1024, 2048]);
  assert.equal(spec.head.features, 2048);
  assert.ok(spec.stemPool);
  // V1.5: the stride of a downsampling bottleneck sits on its 3x3 conv.
  assert.deepEqual(spec.stages[1][0].convs.map((c) => c.stride), [1, 2, 1]);
});

/** Tensor shapes of a Hugging Face ResNetForImageClassification, written from its modeling code. */
function hfShapes(cfg: {
  embedding_size: number;
  hidden_sizes: number[];
  depths: number[];
  layer_type: "basic" | "bottleneck";
  num_labels: number;
}): Record<string, { shape: number[] }> {
  const out: Record<string, { shape: number[] }> = {};
  const convLayer = (p: string, o: number, i: number, k: number) => {
    out[`${p}.convolution.weight`] = { shape: [o, i, k, k] };
    for (const b of ["weight", "bias", "running_mean", "running_var"]) {
      out[`${p}.normalization.${b}`] = { shape: [o] };
    }
  };
  convLayer("resnet.embedder.embedder", cfg.embedding_size, 3, 7);
  let inC = cfg.embedding_size;
  cfg.depths.forEach((d, s) => {
    const o = cfg.hidden_sizes[s];
    for (let l = 0; l < d; l++) {
      const p = `resnet.encoder.stages.${s}.layers.${l}`;
      const i = l === 0 ? inC : o;
      // Shortcut where channels or stride change (every first layer here).
      if (l === 0) convLayer(`${p}.shortcut`, o, i, 1);
      if (cfg.layer_type === "basic") {
        convLayer(`${p}.layer.0`, o, i, 3);
        convLayer(`${p}.layer.1`, o, o, 3);
      } else {
        convLayer(`${p}.layer.0`, o / 4, i, 1);
        convLayer(`${p}.layer.1`, o / 4, o / 4, 3);
        convLayer(`${p}.layer.2`, o, o / 4, 1);
      }
    }
    inC = o;
  });
  out["classifier.1.weight"] = { shape: [cfg.num_labels, inC] };
  out["classifier.1.bias"] = { shape: [cfg.num_labels] };
  return out;
}

Deno.test("HF config options: downsample_in_first_stage and downsample_in_bottleneck move the strides", () => {
  const cfg = {
    model_type: "resnet",
    embedding_size: 8,
    hidden_sizes: [16, 32, 48],
    depths: [1, 3, 2],
    layer_type: "bottleneck" as const,
    num_labels: 4,
  };
  const names = indexOf(hfShapes(cfg));
  const strides = (spec: ReturnType<typeof resnetSpec>) =>
    spec.stages.map((st) => st[0].convs.map((c) => c.stride));
  // Default: stage 0 keeps the resolution; later stages stride on the 3x3 (layer.1).
  let spec = resnetSpec(names, cfg);
  assert.deepEqual(spec.depths, [1, 3, 2]);
  assert.deepEqual(strides(spec), [[1, 1, 1], [1, 2, 1], [1, 2, 1]]);
  spec = resnetSpec(names, { ...cfg, downsample_in_bottleneck: true });
  assert.deepEqual(strides(spec), [[1, 1, 1], [2, 1, 1], [2, 1, 1]]);
  spec = resnetSpec(names, { ...cfg, downsample_in_first_stage: true });
  assert.deepEqual(strides(spec), [[1, 2, 1], [1, 2, 1], [1, 2, 1]]);
  const sc = spec.stages[0][0].shortcut;
  assert.ok(sc.kind === "conv" && sc.conv.stride === 2);
  // Without config.json fields the structure comes from the names and shapes alone.
  spec = resnetSpec(names, { model_type: "resnet" });
  assert.deepEqual(spec.widths, [16, 32, 48]);
  assert.equal(spec.blockType, "bottleneck");
  const basic = { ...cfg, layer_type: "basic" as const };
  spec = resnetSpec(indexOf(hfShapes(basic)), basic);
  assert.deepEqual(strides(spec), [[1, 1], [2, 1], [2, 1]]);
  // A layer_type that disagrees with the weights is reported, not guessed around.
  const msg = layoutError(() => resnetSpec(indexOf(hfShapes(basic)), cfg));
  assert.match(msg, /missing tensors: .*layer\.2\.convolution\.weight/);
  // Config fields of the wrong type are named, with what was found.
  for (
    const [bad, want] of [
      [{ depths: [1, 0, 2] }, /"depths" must be a list of positive integers, found \[1,0,2\]/],
      [{ embedding_size: "8" }, /"embedding_size" must be a positive integer, found "8"/],
      [{ downsample_in_first_stage: 1 }, /"downsample_in_first_stage" must be true or false/],
    ] as const
  ) {
    assert.match(layoutError(() => resnetSpec(names, { ...cfg, ...bad })), want);
  }
});

Deno.test("incomplete or foreign checkpoints fail listing missing, unexpected and mis-shaped tensors", async () => {
  const base = synthResNetWeights(BASIC_TV, 5);
  const shapes = Object.fromEntries(Object.entries(base).map(([k, v]) => [k, { shape: v.shape }]));

  const missing = { ...shapes };
  delete missing["layer2.0.downsample.0.weight"];
  delete missing["layer1.1.bn2.running_var"];
  let msg = layoutError(() => resnetSpec(indexOf(missing)));
  assert.match(msg, /missing tensors: .*layer2\.0\.downsample\.0\.weight/);
  assert.match(msg, /layer1\.1\.bn2\.running_var/);

  const extra = { ...shapes, "layer1.0.se.fc.weight": { shape: [2, 8] } };
  msg = layoutError(() => resnetSpec(indexOf(extra)));
  assert.match(msg, /unexpected tensors: layer1\.0\.se\.fc\.weight/);

  const bad = { ...shapes, "layer1.1.conv1.weight": { shape: [8, 9, 3, 3] } };
  msg = layoutError(() => resnetSpec(indexOf(bad)));
  assert.match(
    msg,
    /shape mismatches: layer1\.1\.conv1\.weight: expected \[8,8,3,3\], found \[8,9,3,3\]/,
  );

  // num_batches_tracked counters are harmless and ignored.
  resnetSpec(indexOf({ ...shapes, "bn1.num_batches_tracked": { shape: [] } }));

  msg = layoutError(() =>
    resnetSpec(indexOf({ "conv1.0.weight": { shape: [8, 3, 3, 3] } }), {
      architecture: "resnet50d",
    })
  );
  assert.match(msg, /deep-stem/);

  msg = layoutError(() =>
    resnetSpec(indexOf(synthResNetWeights(CIFAR_TINY, 2)), {
      architecture: "cifar_resnet",
      depth: 20,
    })
  );
  assert.match(msg, /depth 20 but the weights hold 1\+2\+1 blocks \(depth 10\)/);

  // HF config that disagrees with the weights.
  if (HAVE_FIXTURES) {
    const f = await SafetensorsFile.open(
      fixture("models", "resnet-tiny-hf-basic", "model.safetensors"),
    );
    const cfg = JSON.parse(
      await Deno.readTextFile(fixture("models", "resnet-tiny-hf-basic", "config.json")),
    );
    msg = layoutError(() => resnetSpec(f, { ...cfg, depths: [2, 2, 3, 2] }));
    assert.match(msg, /missing tensors: resnet\.encoder\.stages\.2\.layers\.2\./);
    msg = layoutError(() => resnetSpec(f, { ...cfg, hidden_sizes: [16, 32, 64, 96] }));
    assert.match(msg, /shape mismatches: .*expected \[96,64,3,3\], found \[128,64,3,3\]/);
    f.close();
  }

  // Through loadModel: a file no loader recognises, and a missing path.
  const dir = join(TMP, "foreign");
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensors(join(dir, "model.safetensors"), {
    "encoder.blocks.0.weight": { dtype: "F32", shape: [2, 2], data: new Float32Array(4) },
  });
  await assert.rejects(
    () => loadModel(dir, engine),
    (e: Error) =>
      e instanceof ModelLayoutError && /Cannot tell which architecture/.test(e.message) &&
      /encoder\.blocks/.test(e.message),
  );
  await assert.rejects(
    () => loadModel(join(TMP, "no-such-model"), engine),
    (e: Error) => e instanceof ModelLayoutError && /does not exist/.test(e.message),
  );
});

Deno.test("timm choices the weights do not record: anti-aliased archs and math-only model_args are refused", () => {
  // A resnet18-shaped state dict is also exactly what timm's resnetblur18 / resnetaa* hold.
  const weights = indexOf(synthResNetWeights(BASIC_TV, 1));
  for (const arch of ["resnetblur18", "resnetaa50", "seresnextaa101d_32x8d.sw_in12k"]) {
    assert.match(
      layoutError(() => resnetSpec(weights, { architecture: arch })),
      new RegExp(`timm ${arch.split(".")[0]} is an anti-aliased ResNet`),
    );
  }
  const withArgs = (model_args: Record<string, unknown>, extra = {}) =>
    resnetSpec(weights, { architecture: "resnet18", model_args, ...extra });
  for (
    const [args, want] of [
      [{ output_stride: 8 }, /model_args\.output_stride = 8: .*only with output_stride 32/],
      [{ global_pool: "max" }, /model_args\.global_pool = "max": .*only with global_pool "avg"/],
      [{ act_layer: "silu" }, /model_args\.act_layer = "silu": .*only with act_layer "relu"/],
      [{ aa_layer: "blurpool" }, /model_args\.aa_layer = "blurpool"/],
      [{ block_args: { attn_layer: "se" } }, /model_args\.block_args/],
      [{ some_new_option: 1 }, /model_args\.some_new_option = 1 is a timm ResNet option/],
    ] as const
  ) {
    assert.match(layoutError(() => withArgs(args)), want);
  }
  assert.match(
    layoutError(() => resnetSpec(weights, { architecture: "resnet18", global_pool: "avgmax" })),
    /global_pool "avgmax": only "avg"/,
  );
  assert.match(
    layoutError(() => resnetSpec(weights, { replace_stride_with_dilation: [false, true, true] })),
    /replace_stride_with_dilation \[false,true,true\] makes stages dilated/,
  );
  resnetSpec(weights, { replace_stride_with_dilation: [false, false, false] });
  // Training-only options, shape options the weights settle, and the defaults spelled out run.
  const spec = withArgs({
    drop_rate: 0.2,
    drop_path_rate: 0.1,
    zero_init_last: true,
    layers: [1, 1],
    output_stride: 32,
    global_pool: "avg",
    act_layer: "ReLU",
    aa_layer: null,
    block_args: {},
  });
  assert.deepEqual(spec.depths, BASIC_TV.depths);
});

Deno.test("labels and input size from HF, timm and plain configs", () => {
  assert.deepEqual(labelsFromConfig({ id2label: { "0": "cat", "1": "dog" } }, 2), ["cat", "dog"]);
  // A gap keeps the other names (issue 17); no name at all is no list.
  assert.deepEqual(labelsFromConfig({ id2label: { "0": "cat" } }, 2), ["cat", ""]);
  // A key outside the head's outputs is an inconsistent config, refused (was: ignored).
  assert.throws(() => labelsFromConfig({ id2label: { "5": "cat" } }, 2), ModelLayoutError);
  assert.deepEqual(
    labelsFromConfig({ label_names: ["n1", "n2"], label_descriptions: ["one", "two"] }, 2),
    ["one", "two"],
  );
  assert.deepEqual(labelsFromConfig({ label_names: ["n1", "n2"] }, 2), ["n1", "n2"]);
  assert.deepEqual(inputSizeFromConfig({ pretrained_cfg: { input_size: [3, 288, 256] } }, [1, 1]), [
    288,
    256,
  ]);
  assert.deepEqual(inputSizeFromConfig({ image_size: 32 }, [1, 1]), [32, 32]);
  assert.deepEqual(
    inputSizeFromConfig({ preprocessor_config: { crop_size: { height: 224, width: 224 } } }, [
      1,
      1,
    ]),
    [224, 224],
  );
  assert.deepEqual(
    inputSizeFromConfig({ preprocessor_config: { size: { shortest_edge: 224 } } }, [1, 1]),
    [224, 224],
  );
  assert.deepEqual(inputSizeFromConfig({}, [7, 9]), [7, 9]);
});

// ---------------------------------------------------------------------------
// Opt-in: all 5,000 CIFAR-10 JPEGs, full-size ResNet-50 (slow on a software adapter)

Deno.test({
  name: "CIFAR-10 5,000 JPEGs: ResNet-20 agrees with PyTorch on >= 99.5%, top-1 within 0.1 pt",
  ignore: !FULL || !HAVE_FIXTURES,
  fn: async () => {
    const r = await cifarAgreement({ model: "resnet20", engine });
    const summary = JSON.parse(
      await Deno.readTextFile(fixture("reference", "resnet-cifar10", "summary.json")),
    );
    console.log(
      `  agreement ${(100 * r.agree / r.n).toFixed(2)}%, top-1 ${(100 * r.top1).toFixed(2)}% ` +
        `(reference ${(100 * summary.models.resnet20.top1).toFixed(2)}%), ${
          r.seconds.toFixed(0)
        } s`,
    );
    assert.equal(r.n, 5000);
    assert.equal(r.failed, 0);
    assert.ok(r.agree / r.n >= 0.995, `agreement ${r.agree}/${r.n}`);
    assert.ok(Math.abs(r.top1 - summary.models.resnet20.top1) <= 0.001, `top-1 ${r.top1}`);
  },
});

Deno.test({
  name: "ResNet-50 (torchvision layout, random weights): batch 32 and batch 1 give the same logits",
  ignore: !FULL,
  fn: async () => {
    const dir = join(TMP, "resnet50");
    await writeCheckpoint(dir, synthResNetWeights(RESNET50, 50), "F32");
    const model = await loadModel(dir, engine) as ResNet;
    try {
      const shape = [32, 3, 224, 224];
      const pixels = randomF32(32 * 3 * 224 * 224, 51);
      const x = engine.upload(pixels, shape);
      const all = model.forward(engine, x);
      const batchLogits = await engine.readF32(all.logits);
      assert.ok(batchLogits.every(Number.isFinite));
      const per = 3 * 224 * 224;
      for (const i of [0, 17, 31]) {
        const xi = engine.upload(pixels.subarray(i * per, (i + 1) * per), [1, 3, 224, 224]);
        const one = model.forward(engine, xi);
        const l = await engine.readF32(one.logits);
        const row = batchLogits.subarray(i * 1000, (i + 1) * 1000);
        assertRelClose(l, row, 1e-5, `image ${i} logits`);
        xi.release();
        one.logits.release();
      }
      x.release();
      all.logits.release();
    } finally {
      model.dispose();
    }
  },
});
