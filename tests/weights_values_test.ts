/**
 * Issue 17: weights that would make every logit NaN are refused at load,
 * naming the tensor (non-finite values, a negative BatchNorm variance), on
 * the float32 read path every family uses; logits that still come out NaN /
 * infinite (here: a tiny --std) make `evaluate` fail naming the first image,
 * instead of reporting log loss 0 and `pred 4294967295`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeSyntheticImages, writeSyntheticModel } from "../src/demo/synthetic.ts";
import { SafetensorsFile, writeSafetensors } from "../src/weights/safetensors.ts";
import type { SafetensorsTensorData } from "../src/weights/safetensors.ts";
import { loadModel } from "../src/models/load.ts";
import { evaluate } from "../src/evaluate.ts";
import { NonFiniteValuesError, SafetensorsError } from "../src/errors.ts";
import { checkWeightValues } from "../src/weights/values.ts";
import { Engine } from "../src/gpu/engine.ts";

const tmp = await Deno.makeTempDir({ prefix: "visioneval-weights-" });
const good = join(tmp, "good");
await writeSyntheticModel(good);
const engine = await Engine.create();

/** A copy of the synthetic model with one value of one tensor replaced. */
async function variant(name: string, tensor: string, index: number, value: number) {
  const dir = join(tmp, name);
  await Deno.mkdir(dir, { recursive: true });
  for (const f of ["config.json", "preprocessor_config.json"]) {
    await Deno.copyFile(join(good, f), join(dir, f));
  }
  using st = await SafetensorsFile.open(join(good, "model.safetensors"));
  const t: Record<string, SafetensorsTensorData> = {};
  for (const n of st.names()) {
    const data = await st.readF32(n);
    if (n === tensor) data[index] = value;
    t[n] = { dtype: "F32", shape: st.info(n).shape, data };
  }
  await writeSafetensors(join(dir, "model.safetensors"), t);
  return dir;
}

Deno.test("weights: NaN / Inf values and negative BatchNorm variances are refused at load, naming the tensor", async () => {
  const nan = await variant("nan", "classifier.1.weight", 3, NaN);
  await assert.rejects(
    () => loadModel(nan, engine),
    (e: Error) =>
      e instanceof SafetensorsError &&
      /tensor "classifier.1.weight" holds 1 NaN or infinite value \(first at index 3: NaN\)/.test(
        e.message,
      ),
  );
  const inf = await variant("inf", "resnet.embedder.embedder.convolution.weight", 0, -Infinity);
  await assert.rejects(() => loadModel(inf, engine), /convolution.weight" holds 1 NaN or infinite/);
  const bn = "resnet.encoder.stages.0.layers.0.layer.0.normalization.running_var";
  const neg = await variant("negvar", bn, 2, -0.5);
  await assert.rejects(
    () => loadModel(neg, engine),
    new RegExp(`BatchNorm variance "${bn.replaceAll(".", "\\.")}" is negative at channel 2`),
  );
  // float64 values beyond the float32 range become infinite.
  assert.throws(
    () => checkWeightValues(Float32Array.from([1, 1e39]), "w", "f"),
    /index 1: Infinity/,
  );
  checkWeightValues(Float32Array.from([0, 3.4e38, -1e-45]), "x.weight", "f");
  checkWeightValues(Float32Array.from([0, 1e-30, 5]), "x.running_var", "f");
  (await loadModel(good, engine)).dispose();
});

Deno.test("evaluate: NaN / infinite logits fail with the count and the first image path", async () => {
  const images = join(tmp, "images");
  await writeSyntheticImages(images, 2, 3);
  await assert.rejects(
    () =>
      evaluate({
        model: good,
        data: images,
        engine,
        progress: false,
        bootstrap: 0,
        exact: false,
        preprocess: { std: [1e-38, 1e-38, 1e-38] },
      }),
    (e: Error) => {
      assert.ok(e instanceof NonFiniteValuesError, String(e));
      assert.match(e.message, /\d+ of \d+ images gave NaN or infinite logits \(first: .*\.png\)/);
      assert.ok(e.count > 0);
      return true;
    },
  );
});
