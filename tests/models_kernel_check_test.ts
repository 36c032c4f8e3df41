/**
 * The model-level kernel check of the GPU path (src/models/kernel_check.ts):
 * a real model on the GPU path passes it and says so in its notes; a network
 * whose GPU-path kernels compute something else is refused with a
 * KernelCheckError, before any result is produced; the software path is not
 * checked (it is the reference).
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { KernelCheckError } from "../src/errors.ts";
import { Classifier } from "../src/models/classifier.ts";
import { checkKernelPath, KERNEL_CHECK_TOLERANCE } from "../src/models/kernel_check.ts";
import type { ForwardResult } from "../src/models/model.ts";
import { loadModel } from "../src/models/load.ts";
import { elementwise } from "../src/ops/elementwise.ts";
import type { Tensor } from "../src/tensor.ts";
import { fixture, HAVE_FIXTURES } from "./_helpers.ts";

/**
 * A 3-class "network" whose logits are the first three pixel values, scaled
 * by `gpuScale` on the GPU kernel path: a stand-in for a GPU kernel that is
 * off on some adapter.
 */
class ScaledOnGpu extends Classifier {
  readonly architecture = "test";
  constructor(readonly gpuScale: number) {
    super({ path: "scaled-on-gpu", numClasses: 3, inputSize: [4, 4], inChannels: 3, config: {} });
  }
  classifierWeight(): Float32Array {
    return new Float32Array(3);
  }
  activationBytesPerImage(): number {
    return 256;
  }
  protected forwardBatch(engine: Engine, pixels: Tensor): ForwardResult {
    const b = pixels.shape[0];
    const first = engine.empty([b, 3], "f32", "logits");
    for (let i = 0; i < b; i++) engine.copy(pixels, first, 12, i * 48 * 4, i * 12); // bytes
    const scale = engine.kernels.name === "gpu" ? this.gpuScale : 1;
    const logits = elementwise(engine, "affine", first, first, scale);
    first.release();
    return { logits };
  }
  dispose(): void {}
}

Deno.test("kernel check: GPU-path logits off by more than the tolerance are refused, naming --kernels software", async () => {
  const engine = await Engine.create({ kernels: "gpu" });
  const ok = await checkKernelPath(engine, new ScaledOnGpu(1 + KERNEL_CHECK_TOLERANCE / 10));
  assert.ok(ok && ok.relDiff > 0 && ok.relDiff <= KERNEL_CHECK_TOLERANCE);
  assert.match(ok.note, /kernel check: .* two random 4x4 images/);
  await assert.rejects(
    () => checkKernelPath(engine, new ScaledOnGpu(1.01)),
    (e) => {
      assert.ok(e instanceof KernelCheckError);
      assert.match(
        (e as Error).message,
        /scaled-on-gpu: two random 4x4 images give logits 0\.0100 apart/,
      );
      assert.match((e as Error).message, /--kernels software/);
      return true;
    },
  );
  await assert.rejects(() => checkKernelPath(engine, new ScaledOnGpu(NaN)), KernelCheckError);
  // The software path is the reference: nothing to check.
  assert.equal(
    await checkKernelPath(await Engine.create({ kernels: "software" }), new ScaledOnGpu(2)),
    undefined,
  );
});

Deno.test({
  name: `kernel check: a ViT and a ResNet loaded on the GPU path pass it and say so${
    HAVE_FIXTURES ? "" : ` (skipped: ${fixture()} not found)`
  }`,
  ignore: !HAVE_FIXTURES,
  async fn() {
    for (const folder of ["vit-tiny-in1k/hf", "resnet-cifar10/resnet20"]) {
      const engine = await Engine.create({ kernels: "gpu" });
      const model = await loadModel(fixture("models", folder), engine);
      try {
        const note = model.notes?.find((n) => n.startsWith("kernel check:"));
        assert.ok(note, `${folder}: no kernel-check note in ${JSON.stringify(model.notes)}`);
        const rel = Number(/\(([\d.e+-]+) relative\)/.exec(note!)![1]);
        assert.ok(rel <= 1e-5, `${folder}: GPU vs software kernels ${rel}`);
      } finally {
        model.dispose();
      }
    }
    const software = await loadModel(
      fixture("models", "resnet-cifar10/resnet20"),
      await Engine.create({ kernels: "software" }),
    );
    assert.ok(!software.notes?.some((n) => n.startsWith("kernel check:")));
    software.dispose();
  },
});
