import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { loadModel } from "../src/models/load.ts";
import { openDataset } from "../src/data/datasets.ts";
import {
  collectFeatures,
  embeddingInput,
  FeatureCollector,
  projectEmbeddings,
} from "../src/explain/embeddings.ts";
import { umap } from "../src/explain/umap.ts";
import { fixture, fixtureTest, randomF32 } from "./_helpers.ts";
import { blobs, neighbourPurity } from "./_explain_data.ts";

Deno.test("FeatureCollector keeps batches on the GPU across chunk boundaries, one readback", async () => {
  const engine = await Engine.create();
  const D = 7, C = 5;
  // 3 rows per chunk: batches of 4, 1 and 5 straddle chunk boundaries.
  const collector = new FeatureCollector(engine, 3 * D * 4);
  const all: number[] = [], preds: number[] = [];
  let row = 0;
  for (const B of [4, 1, 5]) {
    const f = randomF32(B * D, 10 + B);
    const logits = randomF32(B * C, 20 + B);
    for (let b = 0; b < B; b++) {
      const l = logits.subarray(b * C, (b + 1) * C);
      preds.push(l.indexOf(Math.max(...l)));
    }
    all.push(...f);
    const tf = engine.upload(f, [B, D]), tl = engine.upload(logits, [B, C]);
    collector.add(tf, tl, Array.from({ length: B }, (_, i) => (row + i) % 3));
    row += B;
    engine.submit();
    tf.release();
    tl.release();
  }
  const set = await collector.finish();
  assert.equal(set.rows, 10);
  assert.equal(set.dims, D);
  assert.deepEqual([...set.features], [...Float32Array.from(all)]);
  assert.deepEqual([...set.preds], preds);
  assert.deepEqual([...set.labels], [...Array(10).keys()].map((i) => i % 3));
});

Deno.test("projectEmbeddings: pca / umap / tsne are seeded, reproducible and keep clusters apart", async () => {
  const engine = await Engine.create();
  const { x, labels, rows } = blobs(3, 30, 64, 5, 0.5);
  const set = { features: x, rows, dims: 64 };
  for (const method of ["pca", "umap", "tsne"] as const) {
    const opts = { method, seed: 7, iterations: 300, pcaDims: 20 };
    const a = await projectEmbeddings(engine, set, opts);
    const b = await projectEmbeddings(engine, set, opts);
    assert.deepEqual(a.coords, b.coords, `${method} reproducible`);
    assert.equal(a.coords.length, 2 * rows);
    assert.ok(neighbourPurity(a.coords, labels) >= 0.95, `${method} keeps the clusters`);
    if (method !== "pca") {
      const c = await projectEmbeddings(engine, set, { ...opts, seed: 8 });
      assert.notDeepEqual(a.coords, c.coords, `${method} depends on the seed`);
      assert.equal(a.details.pca_dims, 20);
    }
  }
  const direct = umap(x, rows, 64, { seed: 1, nNeighbors: 10 });
  assert.deepEqual(direct, umap(x, rows, 64, { seed: 1, nNeighbors: 10 }));
});

fixtureTest(
  "collectFeatures on CIFAR JPEGs (resnet20): predictions match torch, points for the plot",
  async () => {
    const engine = await Engine.create();
    const model = await loadModel(fixture("models", "resnet-cifar10", "resnet20"), engine);
    const ds = openDataset(fixture("data", "cifar10-test"), { limit: 5000 });
    const csv = new Map(
      (await Deno.readTextFile(fixture("reference", "resnet-cifar10", "predictions_resnet20.csv")))
        .trim().split("\n").slice(1).map((l) => l.split(",")).map((r) => [r[0], Number(r[2])]),
    );
    // One image of each class (every 500th file is a new class), in two
    // batches, decoded by one loader worker.
    const items = ds.items.filter((_, i) => i % 500 === 7);
    const set = await collectFeatures(engine, model, items, { batchSize: 6, workers: 1 });
    assert.equal(set.rows, items.length);
    assert.equal(set.dims, 64);
    assert.equal(set.failed.length, 0);
    set.paths.forEach((p, i) => {
      const rel = p.slice(p.indexOf("cifar10-test/") + "cifar10-test/".length);
      assert.equal(set.preds[i], csv.get(rel), rel);
    });
    // Pooled post-ReLU features are non-negative.
    assert.ok(set.features.every((v) => v >= 0));
    const proj = await projectEmbeddings(engine, set, { method: "pca" });
    const emb = embeddingInput(set, proj);
    assert.equal(emb.points.length, items.length);
    assert.equal(emb.points[0].label, items[0].label);
    model.dispose();
  },
);
