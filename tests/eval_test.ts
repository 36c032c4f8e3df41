/**
 * End-to-end evaluation: the `eval` / `demo` / `merge` commands and
 * `evaluate()` on the synthetic set (always) and on fixture subsets (ResNet-20
 * on CIFAR-10 JPEGs, ViT-Ti on ImageNet JPEGs) against the PyTorch reference
 * predictions; plus the documented behaviour on bad inputs.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { evaluate } from "../src/evaluate.ts";
import { writeSyntheticImages, writeSyntheticModel } from "../src/demo/synthetic.ts";
import { DataError, UsageError } from "../src/errors.ts";
import { parseCsv } from "../src/report/csv.ts";
import { fixture, fixtureTest } from "./_helpers.ts";
import { runCli as cli } from "./_helpers.ts";

const tmp = await Deno.makeTempDir({ prefix: "visioneval-eval-" });
const synthModel = join(tmp, "model");
const synthData = join(tmp, "images");
await writeSyntheticModel(synthModel);
await writeSyntheticImages(synthData, 6, 7);

function readPredictions(path: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(Deno.readTextFileSync(path)).filter((r) => r.length > 1);
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

Deno.test("eval: synthetic set end to end, outputs consistent with each other", async () => {
  const out = join(tmp, "synth-out");
  const { code, out: text } = await cli([
    "eval",
    "--model",
    synthModel,
    "--data",
    synthData,
    "--out",
    out,
    "--batch",
    "7",
    "--bootstrap",
    "50",
  ]);
  assert.equal(code, 0, text);
  assert.match(text, /top-1/);
  const m = JSON.parse(Deno.readTextFileSync(join(out, "metrics.json")));
  const preds = readPredictions(join(out, "predictions.csv"));
  assert.equal(m.num_samples, 30);
  assert.equal(preds.length, 30);
  const correct = preds.filter((p) => p.label === p.pred).length;
  assert.equal(m.top1, correct / 30);
  // the designed model classifies most images right, not all
  assert.ok(m.top1 > 0.5 && m.top1 < 1, `top1 ${m.top1}`);
  for (const p of preds) {
    assert.equal(p.top5.split(" ")[0], p.pred);
    assert.equal(p.top5.split(" ").length, 5);
    assert.ok(Number(p.confidence) > 0.2 && Number(p.confidence) <= 1);
    assert.ok(["red", "green", "blue", "yellow", "purple"].includes(p.pred_name));
  }
  const cm: number[][] = m.confusion_matrix;
  assert.equal(cm.flat().reduce((a, b) => a + b, 0), 30);
  assert.equal(cm.reduce((s, row, i) => s + row[i], 0), correct);
  assert.ok(m.run.adapter && m.run.preprocessing && m.run.images_per_second > 0);
  assert.deepEqual(m.failed, []);
  const html = Deno.readTextFileSync(join(out, "report.html"));
  assert.match(html, /Reliability diagram/i);
  assert.ok(!/src="http|href="http/.test(html), "report must be self-contained");
});

Deno.test("eval: a corrupt image among good ones is skipped, counted and listed", async () => {
  const data = join(tmp, "with-corrupt");
  await writeSyntheticImages(data, 3, 11);
  await Deno.writeFile(join(data, "red", "broken.png"), new Uint8Array([137, 80, 78, 71, 1, 2, 3]));
  await Deno.writeTextFile(join(data, "green", "notes.png"), "not an image");
  const r = await evaluate({ model: synthModel, data, progress: false, bootstrap: 0 });
  assert.equal(r.metrics.num_samples, 15);
  assert.equal(r.metrics.failed.length, 2);
  assert.deepEqual(
    r.metrics.failed.map((f) => f.path.split("/").slice(-2).join("/")).sort(),
    ["green/notes.png", "red/broken.png"],
  );
  for (const f of r.metrics.failed) assert.ok(f.reason.length > 5, f.reason);
});

Deno.test("eval: shards merge into the metrics of one pass", async () => {
  const whole = await evaluate({
    model: synthModel,
    data: synthData,
    progress: false,
    bootstrap: 0,
    out: join(tmp, "whole"),
    report: false,
  });
  const states: string[] = [];
  for (const i of [0, 1, 2]) {
    const dir = join(tmp, `shard${i}`);
    await evaluate({
      model: synthModel,
      data: synthData,
      progress: false,
      bootstrap: 0,
      shard: { index: i, count: 3 },
      out: dir,
      report: false,
      batch: 4,
    });
    states.push(join(dir, "state.safetensors"));
  }
  const merged = join(tmp, "merged");
  const { code } = await cli(["merge", ...states, "--out", merged, "--bootstrap", "0"]);
  assert.equal(code, 0);
  const m = JSON.parse(Deno.readTextFileSync(join(merged, "metrics.json")));
  for (const key of ["num_samples", "top1", "top5", "mcc", "cohen_kappa", "ece", "mce"] as const) {
    assert.ok(Math.abs(m[key] - (whole.metrics[key] as number)) < 1e-9, key);
  }
  assert.ok(Math.abs(m.log_loss - whole.metrics.log_loss) < 1e-6);
  assert.deepEqual(m.confusion_matrix, whole.metrics.confusion_matrix);
  assert.ok(Math.abs(m.auroc.macro - whole.metrics.auroc.macro!) < 1e-9);

  // A shard given twice, or copied under another name, would count its samples twice.
  const twice = await cli(["merge", ...states, states[1], "--out", merged, "--bootstrap", "0"]);
  assert.notEqual(twice.code, 0);
  assert.match(twice.err, /shard1.*is the same file as .*shard1.*twice/);
  const copy = join(tmp, "shard1-copy.safetensors");
  Deno.copyFileSync(states[1], copy);
  const copied = await cli(["merge", ...states, copy, "--out", merged, "--bootstrap", "0"]);
  assert.notEqual(copied.code, 0);
  assert.match(
    copied.err,
    /shard1-copy\.safetensors has the same contents as .*shard1.*count those samples twice/,
  );
});

Deno.test("eval: documented errors for bad inputs", async () => {
  // usage errors exit 2
  assert.equal((await cli(["eval", "--data", synthData])).code, 2);
  assert.equal(
    (await cli(["eval", "--model", synthModel, "--data", synthData, "--batch", "0"])).code,
    2,
  );
  assert.equal((await cli(["eval", "--bogus"])).code, 2);
  // a missing model is a one-line runtime error (exit 1) naming the path
  const missing = await cli(["eval", "--model", join(tmp, "nope"), "--data", synthData]);
  assert.equal(missing.code, 1);
  assert.match(missing.err, /nope/);
  assert.ok(!/\n\s+at /.test(missing.err), "no stack trace without --debug");
  // a labels file naming images that do not exist
  const labels = join(tmp, "labels.csv");
  await Deno.writeTextFile(labels, "path,label\nmissing-1.png,0\nmissing-2.png,1\n");
  await assert.rejects(
    () => evaluate({ model: synthModel, data: labels, progress: false }),
    (e: Error) => e instanceof DataError && /missing-1\.png/.test(e.message),
  );
  // an empty folder
  const empty = join(tmp, "empty");
  await Deno.mkdir(empty);
  await assert.rejects(
    () => evaluate({ model: synthModel, data: empty, progress: false }),
    DataError,
  );
});

Deno.test("demo: runs the main job on generated data from a bare clone", async () => {
  const out = join(tmp, "demo");
  const { code, out: text } = await cli([
    "demo",
    "--synthetic",
    "--out",
    out,
    "--per-class",
    "3",
    "--explain",
    "2",
  ]);
  assert.equal(code, 0, text);
  const m = JSON.parse(Deno.readTextFileSync(join(out, "metrics.json")));
  assert.equal(m.num_samples, 15);
  const html = Deno.readTextFileSync(join(out, "report.html"));
  assert.match(html, /gradcam/i);
});

/** Stratified labels CSV: the first `perClass` images of each class of a fixture labels.csv. */
function stratified(root: string, perClass: number, out: string): string[] {
  const rows = Deno.readTextFileSync(join(root, "labels.csv")).trim().split("\n").slice(1);
  const taken = new Map<string, number>();
  const lines = ["path,label"];
  const paths: string[] = [];
  for (const row of rows) {
    const [path, label] = row.split(",");
    if ((taken.get(label) ?? 0) >= perClass) continue;
    taken.set(label, (taken.get(label) ?? 0) + 1);
    lines.push(`${join(root, path)},${label}`);
    paths.push(path);
  }
  Deno.writeTextFileSync(out, lines.join("\n") + "\n");
  return paths;
}

fixtureTest(
  "eval: ResNet-20 on CIFAR-10 JPEGs matches the PyTorch reference predictions",
  async () => {
    const root = fixture("data/cifar10-test");
    const csv = join(tmp, "cifar.csv");
    const paths = stratified(root, 4, csv);
    const r = await evaluate({
      model: fixture("models/resnet-cifar10/resnet20"),
      data: csv,
      progress: false,
      bootstrap: 0,
    });
    const ref = new Map(
      readPredictions(fixture("reference/resnet-cifar10/predictions_resnet20.csv")).map((
        p,
      ) => [p.path, p]),
    );
    let refCorrect = 0, agree = 0;
    r.predictions.forEach((p, i) => {
      const e = ref.get(paths[i])!;
      assert.ok(p.path.endsWith(paths[i]));
      refCorrect += Number(e.pred) === Number(e.label) ? 1 : 0;
      agree += Number(e.pred) === p.pred ? 1 : 0;
    });
    assert.equal(agree, paths.length, `top-1 agreement ${agree}/${paths.length}`);
    assert.equal(r.metrics.top1, refCorrect / paths.length);
  },
);

fixtureTest("eval: ViT-Ti (timm folder) on ImageNet JPEGs matches the reference", async () => {
  const root = fixture("data/imagenet-sample");
  const all = Deno.readTextFileSync(join(root, "labels.csv")).trim().split("\n");
  const n = 6;
  const csv = join(tmp, "imagenet.csv");
  Deno.writeTextFileSync(
    csv,
    [
      "path,label",
      ...all.slice(1, n + 1).map((l) => {
        const [path, label] = l.split(",");
        return `${join(root, path)},${label}`;
      }),
    ].join("\n") + "\n",
  );
  const r = await evaluate({
    model: fixture("models/vit-tiny-in1k/timm"),
    data: csv,
    progress: false,
    bootstrap: 0,
    batch: 3,
  });
  const ref = readPredictions(fixture("reference/vit-tiny-in1k/predictions.csv")).slice(0, n);
  const refTop1 = ref.filter((p) => p.pred === p.label).length / n;
  ref.forEach((e, i) => {
    assert.ok(
      r.predictions[i].path.endsWith(e.filename),
      `${r.predictions[i].path} vs ${e.filename}`,
    );
    assert.equal(r.predictions[i].pred, Number(e.pred), e.filename);
    assert.deepEqual(r.predictions[i].top5, e.top5.split(" ").map(Number));
    assert.ok(Math.abs(r.predictions[i].confidence - Number(e.max_prob)) < 2e-3);
  });
  assert.equal(r.metrics.top1, refTop1);
  assert.equal(r.metrics.num_classes, 1000);
});

Deno.test("calibrate --model --data: temperature, before/after numbers and diagrams", async () => {
  const out = join(tmp, "calibrate");
  const { code } = await cli([
    "calibrate",
    "--model",
    synthModel,
    "--data",
    synthData,
    "--out",
    out,
  ]);
  assert.equal(code, 0);
  const c = JSON.parse(Deno.readTextFileSync(join(out, "calibration.json")));
  const r = await evaluate({ model: synthModel, data: synthData, progress: false, bootstrap: 0 });
  const ts = r.metrics.temperature_scaling!;
  assert.ok(Math.abs(c.temperature - ts.temperature) < 1e-9);
  assert.ok(c.nll_after <= c.nll_before + 1e-12, "fitted T cannot raise the NLL");
  for (const f of ["reliability_before.svg", "reliability_after.svg"]) {
    assert.match(Deno.readTextFileSync(join(out, f)), /^<svg[\s\S]*<\/svg>\s*$/);
  }
  assert.equal((await cli(["calibrate", "--model", synthModel])).code, 2);
});

Deno.test("model.predict agrees with the evaluation's predictions", async () => {
  const { loadModel } = await import("../src/models/load.ts");
  const model = await loadModel(synthModel);
  const r = await evaluate({ model, data: synthData, progress: false, bootstrap: 0, limit: 6 });
  const preds = await model.predict(r.predictions.map((p) => p.path), { topk: 3 });
  preds.forEach((p, i) => {
    assert.equal(p.path, r.predictions[i].path);
    assert.equal(p.top.length, 3);
    assert.equal(p.top[0].class, r.predictions[i].pred);
    assert.ok(Math.abs(p.top[0].probability - r.predictions[i].confidence) < 1e-6);
    assert.ok(["red", "green", "blue", "yellow", "purple"].includes(p.top[0].name));
  });
  // Options outside their documented ranges are usage errors, not another run: a negative
  // limit evaluated every image, topk 11 gave 10 classes, topk 0 a RangeError.
  const image = [r.predictions[0].path];
  for (const topk of [0, 11, 2.5]) {
    await assert.rejects(
      () => model.predict(image, { topk }),
      (e: Error) => e instanceof UsageError && /topk must be an integer in 1\.\.10/.test(e.message),
    );
  }
  for (const bad of [{ limit: -3 }, { limit: 0 }, { topk: 11 }, { batch: 0 }]) {
    await assert.rejects(
      () => evaluate({ model, data: synthData, progress: false, ...bad }),
      (e: Error) => e instanceof UsageError && e.message.startsWith(Object.keys(bad)[0]),
    );
  }
  model.dispose();
});

Deno.test("predict and evaluate run a model on the engine loadModel loaded it on", async () => {
  const { loadModel } = await import("../src/models/load.ts");
  const { Engine } = await import("../src/gpu/engine.ts");
  // The documented way to a correct run after a KernelCheckError: a software-path engine.
  const engine = await Engine.create({ kernels: "software" });
  let uploads = 0;
  const upload = engine.upload.bind(engine);
  engine.upload = (...args: Parameters<typeof upload>) => (uploads++, upload(...args));
  const model = await loadModel(synthModel, engine);
  try {
    assert.equal(model.engine, engine);
    const before = uploads;
    const r = await evaluate({ model, data: synthData, progress: false, bootstrap: 0, limit: 4 });
    const afterEval = uploads;
    assert.ok(afterEval > before, "evaluate ran on another engine");
    await model.predict([r.predictions[0].path]);
    assert.ok(uploads > afterEval, "model.predict ran on another engine");
  } finally {
    model.dispose();
  }
});

Deno.test("eval: more shards than images gives empty shard states that still merge", async () => {
  const data = join(tmp, "tiny");
  await writeSyntheticImages(data, 1, 3); // 5 images
  const states: string[] = [];
  for (let i = 0; i < 7; i++) {
    const dir = join(tmp, `tiny-shard${i}`);
    const r = await evaluate({
      model: synthModel,
      data,
      progress: false,
      bootstrap: 0,
      shard: { index: i, count: 7 },
      out: dir,
      report: false,
    });
    assert.ok(r.metrics.num_samples <= 1);
    states.push(join(dir, "state.safetensors"));
  }
  const whole = await evaluate({ model: synthModel, data, progress: false, bootstrap: 0 });
  const merged = join(tmp, "tiny-merged");
  assert.equal((await cli(["merge", ...states, "--out", merged, "--bootstrap", "0"])).code, 0);
  const m = JSON.parse(Deno.readTextFileSync(join(merged, "metrics.json")));
  assert.equal(m.num_samples, 5);
  assert.equal(m.top1, whole.metrics.top1);
  assert.deepEqual(m.confusion_matrix, whole.metrics.confusion_matrix);
});

Deno.test("eval: a model with placeholder class names shows the dataset's names", async () => {
  const model = join(tmp, "model-no-names");
  await Deno.mkdir(model, { recursive: true });
  for (const f of ["model.safetensors", "preprocessor_config.json"]) {
    await Deno.copyFile(join(synthModel, f), join(model, f));
  }
  const config = JSON.parse(await Deno.readTextFile(join(synthModel, "config.json")));
  config.id2label = Object.fromEntries([0, 1, 2, 3, 4].map((i) => [String(i), `LABEL_${i}`]));
  delete config.label2id;
  await Deno.writeTextFile(join(model, "config.json"), JSON.stringify(config));
  // ImageFolder classes sorted by name: blue, green, purple, red, yellow -> model 0..4 by index
  const r = await evaluate({ model, data: synthData, progress: false, bootstrap: 0 });
  assert.deepEqual(r.classNames, ["blue", "green", "purple", "red", "yellow"]);
});
