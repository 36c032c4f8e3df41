/**
 * The f16 weight-storage guarantee (issue 16): with `--weights f16` a
 * model's logits stay within 1e-3 relative (max |diff| / max |f32 logit|)
 * of the f32-weight run, on the real ViT-Ti/16 (every projection and MLP is
 * a linear layer) and the real CIFAR ResNet-20 / ResNet-56 (their GEMM
 * convolutions and linear head), and the f32 run itself matches PyTorch. The kernel path follows the adapter, or
 * VISIONEVAL_KERNELS (=gpu forces the GPU-class kernels on lavapipe).
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { getGpu } from "../src/gpu/device.ts";
import type { WeightStorage } from "../src/gpu/kernel_path.ts";
import { loadModel } from "../src/models/load.ts";
import { SafetensorsFile } from "../src/weights/safetensors.ts";
import { UsageError } from "../src/errors.ts";
import { packLinear } from "../src/nn/layers.ts";
import { fixture, HAVE_FIXTURES } from "./_helpers.ts";
import { relDiff } from "./_family_refs.ts";

const HAS_F16 = (await getGpu()).hasF16;
const skip = !HAS_F16
  ? " (skipped: this adapter lacks shader-f16)"
  : !HAVE_FIXTURES
  ? ` (skipped: ${fixture()} not found)`
  : "";

/** Logits of `model` (a fixtures folder) on `pixels`, with linear and conv weights stored as `weights`. */
async function logitsWith(
  weights: WeightStorage,
  model: string,
  pixels: Float32Array,
  shape: number[],
): Promise<Float32Array> {
  const engine = await Engine.create({ weights });
  const m = await loadModel(fixture("models", model), engine);
  try {
    const { logits } = m.forward(engine, engine.upload(pixels, shape, "pixels"));
    return await engine.readF32(logits);
  } finally {
    m.dispose();
  }
}

/** Reads `count` images' pixels and the PyTorch logits named `logitsName` from a reference file. */
async function reference(path: string, logitsName: string, count: number) {
  const f = await SafetensorsFile.open(fixture("reference", path));
  try {
    const [, c, h, w] = f.info("pixel_values").shape;
    const classes = f.info(logitsName).shape[1];
    return {
      pixels: (await f.readF32("pixel_values")).subarray(0, count * c * h * w),
      shape: [count, c, h, w],
      logits: (await f.readF32(logitsName)).subarray(0, count * classes),
    };
  } finally {
    f.close();
  }
}

const CASES = [
  {
    model: "vit-tiny-in1k/timm",
    ref: "vit-tiny-in1k/first16_inputs_and_logits.safetensors",
    logits: "logits",
    count: 4,
  },
  {
    model: "resnet-cifar10/resnet20",
    ref: "resnet-cifar10/inputs_and_logits.safetensors",
    logits: "logits_resnet20",
    count: 64,
  },
  {
    model: "resnet-cifar10/resnet56", // 55 f16 convolutions deep
    ref: "resnet-cifar10/inputs_and_logits.safetensors",
    logits: "logits_resnet56",
    count: 32,
  },
];

for (const c of CASES) {
  Deno.test(`${c.model}: f16-weight logits within 1e-3 of the f32 run${skip}`, {
    ignore: skip !== "",
  }, async () => {
    const ref = await reference(c.ref, c.logits, c.count);
    const f32 = await logitsWith("f32", c.model, ref.pixels, ref.shape);
    const f16 = await logitsWith("f16", c.model, ref.pixels, ref.shape);
    const vsTorch = relDiff(f32, ref.logits);
    assert.ok(vsTorch <= 1e-3, `f32 run vs PyTorch: ${vsTorch}`);
    const d = relDiff(f16, f32);
    assert.ok(d <= 1e-3, `f16 weights vs f32: ${d} > 1e-3`);
    // The weights were really rounded: the logits moved.
    assert.ok(d > 0, "f16 and f32 logits are identical: the f16 path was not taken");
    console.log(
      `${c.model}: f16 vs f32 ${d.toExponential(2)}, f32 vs PyTorch ${vsTorch.toExponential(2)}`,
    );
  });
}

Deno.test(
  `a weight beyond the f16 range is refused with a UsageError naming the tensor${
    HAS_F16 ? "" : " (skipped: this adapter lacks shader-f16)"
  }`,
  {
    ignore: !HAS_F16,
  },
  async () => {
    const engine = await Engine.create({ weights: "f16" });
    const w = new Float32Array([1, -7e4, 0, 2]);
    assert.throws(
      () => packLinear(engine, w, [2, 2], "head.weight"),
      (e) =>
        e instanceof UsageError && /head\.weight/.test(e.message) &&
        /--weights f32/.test(e.message),
    );
  },
);
