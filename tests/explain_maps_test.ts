/** End-to-end explanations through loadModel: maps vs torch references, overlays, PNGs. */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { loadModel } from "../src/models/load.ts";
import {
  explainImages,
  explainPixels,
  explanationExample,
  inputRegion,
} from "../src/explain/explain.ts";
import type { PreprocessConfig } from "../src/data/preprocess.ts";
import { fixture, fixtureTest } from "./_helpers.ts";
import { readFixtureTensors } from "./_explain_fixture.ts";

/** max over images of max|a - ref| / max|ref| within each map. */
function worstRel(maps: Float32Array[], ref: ArrayLike<number>): number {
  let worst = 0;
  maps.forEach((m, b) => {
    let d = 0, mx = 0;
    for (let i = 0; i < m.length; i++) {
      d = Math.max(d, Math.abs(m[i] - ref[b * m.length + i]));
      mx = Math.max(mx, Math.abs(ref[b * m.length + i]));
    }
    worst = Math.max(worst, d / (mx || 1));
  });
  return worst;
}

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];

for (const variant of ["basic", "bottleneck"]) {
  fixtureTest(
    `explainPixels on resnet-tiny-hf-${variant}: forward + Grad-CAM(++) vs torch`,
    async () => {
      const engine = await Engine.create();
      const model = await loadModel(fixture("models", `resnet-tiny-hf-${variant}`), engine);
      const ref = await readFixtureTensors(
        fixture("reference", "random-models", `resnet-tiny-hf-${variant}.safetensors`),
      );
      const px = ref.get("pixel_values")!;
      const shape = px.shape as [number, number, number, number];
      const target = [...ref.get("target_class")!.data];
      for (const [method, key] of [["gradcam", "gradcam"], ["gradcam++", "gradcampp"]] as const) {
        const ex = await explainPixels(engine, model, px.data as Float32Array, shape, {
          method,
          normalization: { mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
        });
        assert.deepEqual(ex.map((e) => e.predicted), target);
        assert.deepEqual(ex.map((e) => e.class), target);
        const rel = worstRel(ex.map((e) => e.map.data), ref.get(key)!.data);
        console.log(`  ${variant} ${method}: max |diff| / map max = ${rel.toExponential(2)}`);
        assert.ok(rel <= 1e-4, `${method} ${rel}`);
        for (const e of ex) {
          assert.equal(e.inputOverlay.width, 112);
          assert.equal(e.inputOverlay.height, 112);
          assert.deepEqual([...e.inputOverlayPng!.slice(0, 8)], PNG_SIGNATURE);
        }
      }
      // An explicit class: the map changes with it, the prediction does not.
      const forced = await explainPixels(engine, model, px.data as Float32Array, shape, {
        classes: 0,
      });
      assert.deepEqual(forced.map((e) => e.class), [0, 0, 0, 0]);
      assert.deepEqual(forced.map((e) => e.predicted), target);
      model.dispose();
    },
  );
}

fixtureTest(
  "explainPixels rollout on vit-cifar-random equals rollout of the torch attention",
  async () => {
    const engine = await Engine.create();
    const model = await loadModel(fixture("models", "vit-cifar-random"), engine);
    const ref = await readFixtureTensors(
      fixture("reference", "random-models", "vit-cifar-random.safetensors"),
    );
    const px = ref.get("pixel_values")!;
    const ex = await explainPixels(engine, model, px.data as Float32Array, [4, 3, 32, 32], {
      method: "rollout",
    });
    // Float64 rollout from the reference attention [4, 2, 65, 65]: (A + I) / rowsum, product, CLS row.
    const attn = ref.get("attn_mean")!.data;
    const T = 65, L = 2;
    ex.forEach((e, b) => {
      let v = new Float64Array(T);
      v[0] = 1;
      for (let l = 0; l < L; l++) {
        const next = new Float64Array(T);
        for (let i = 0; i < T; i++) {
          let s = 1;
          for (let j = 0; j < T; j++) s += attn[((b * L + l) * T + i) * T + j];
          for (let j = 0; j < T; j++) {
            next[j] += v[i] * (attn[((b * L + l) * T + i) * T + j] + (i === j ? 1 : 0)) / s;
          }
        }
        v = next;
      }
      assert.equal(e.map.width, 8);
      assert.equal(e.map.height, 8);
      for (let k = 0; k < 64; k++) assert.ok(Math.abs(e.map.data[k] - v[k + 1]) < 1e-4);
      const last = ((b * L + L - 1) * T) * T;
      for (let k = 0; k < 64; k++) {
        assert.ok(Math.abs(e.lastLayerCls!.data[k] - attn[last + 1 + k]) < 1e-4);
      }
    });
    model.dispose();
  },
);

fixtureTest(
  "explainImages on CIFAR JPEGs (resnet20): predictions, overlays on the originals",
  async () => {
    const engine = await Engine.create();
    const model = await loadModel(fixture("models", "resnet-cifar10", "resnet20"), engine);
    const csv = (await Deno.readTextFile(
      fixture("reference", "resnet-cifar10", "predictions_resnet20.csv"),
    )).trim().split("\n").slice(1).map((l) => l.split(","));
    const rows = [csv[0], csv[600], csv[1234], csv[4999]];
    const paths = rows.map((r) => fixture("data", "cifar10-test", r[0]));
    const ex = await explainImages(engine, model, paths, { method: "gradcam++", batchSize: 3 });
    assert.equal(ex.length, 4);
    ex.forEach((e, i) => {
      assert.equal(e.path, paths[i]);
      assert.equal(e.predicted, Number(rows[i][2]));
      assert.ok(Math.abs(e.confidence - Number(rows[i][3])) < 1e-3);
      assert.equal(e.map.width, 8); // 32 / 4 at the last stage
      assert.equal(e.originalOverlay!.width, 32);
      assert.deepEqual([...e.originalOverlayPng!.slice(0, 8)], PNG_SIGNATURE);
      // The model input is the original (exact 32x32 pipeline): same picture under the map.
      assert.deepEqual(e.originalOverlay!.data, e.inputOverlay.data);
      const card = explanationExample(e, Number(rows[i][1]));
      assert.equal(card.path, paths[i]);
      assert.equal(card.label, Number(rows[i][1]));
      assert.equal(card.pred, e.predicted);
      assert.equal(card.overlay, e.inputOverlayPng);
    });
    model.dispose();
  },
);

Deno.test("inputRegion maps a center crop back onto the original image", () => {
  const cfg = {
    resizeMode: "shortest",
    size: [256, 256],
    crop: [224, 224],
    cropRounding: "half-even",
  } as unknown as PreprocessConfig;
  // 512x384 -> 341x256, crop left = round((341 - 224) / 2) = 58 (58.5 -> 58), top = 16
  const r = inputRegion(cfg, 512, 384);
  assert.ok(Math.abs(r.x - 58 * 512 / 341) < 1e-9 && Math.abs(r.y - 16 * 1.5) < 1e-9);
  assert.ok(Math.abs(r.width - 224 * 512 / 341) < 1e-9 && Math.abs(r.height - 224 * 1.5) < 1e-9);
});
