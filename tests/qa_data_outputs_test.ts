/**
 * Issue 17, data / outputs / messages: inputs that used to give a believable
 * wrong number, hang, vanish or say "internal error". Each test names the bug
 * it guards against. Data is generated here; nothing needs fixtures.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeSyntheticImages, writeSyntheticModel } from "../src/demo/synthetic.ts";
import { evaluate } from "../src/evaluate.ts";
import { openDataset } from "../src/data/datasets.ts";
import { mapLabels, modelClassesFromConfig } from "../src/data/labels.ts";
import { labelsFromConfig } from "../src/models/config.ts";
import { findModelFiles } from "../src/models/config.ts";
import { ImageDecodeError, readImage } from "../src/data/decode.ts";
import {
  applyOverrides,
  assume,
  preprocessConfigFromModelDir,
  withoutAssumptions,
} from "../src/data/preprocess.ts";
import { DataError, MetricsInputError, ModelLayoutError, UsageError } from "../src/errors.ts";
import { preprocessOverrides } from "../src/cli/options.ts";
import { SafetensorsFile, writeSafetensors } from "../src/weights/safetensors.ts";
import { decodeSnapshot } from "../src/metrics/state_file.ts";
import { StagedOutput } from "../src/report/output_dir.ts";
import { parseCsv, readCsvRecords } from "../src/csv.ts";
import { loadModel } from "../src/models/load.ts";
import { modelClasses } from "../src/models/pipeline.ts";
import type { ClassifierModel } from "../src/models/model.ts";
import { ResNet } from "../src/models/resnet/model.ts";
import { synthTimmViT } from "./_vit_synth.ts";
import { runCli as cli } from "./_helpers.ts";

const tmp = await Deno.makeTempDir({ prefix: "visioneval-qa17-" });
const synthModel = join(tmp, "model");
await writeSyntheticModel(synthModel);
const synthData = join(tmp, "images");
await writeSyntheticImages(synthData, 2, 3);
const CLASSES = ["red", "green", "blue", "yellow", "purple"];

function mkfifo(path: string): void {
  const r = new Deno.Command("mkfifo", { args: [path] }).outputSync();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
}

function exists(p: string): boolean {
  try {
    Deno.lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

Deno.test("id2label with a gap: the other names are kept; mapping by name that cannot be complete is refused", () => {
  // Bug: one missing id2label key made the model nameless, and the dataset was
  // then mapped by position with a warning blaming the model for having no names.
  const config = { id2label: { "0": "red", "1": "green", "3": "yellow", "4": "purple" } };
  assert.deepEqual(labelsFromConfig(config, 5), ["red", "green", "", "yellow", "purple"]);
  const model = modelClassesFromConfig(config, 5);
  assert.equal(model.named, true);
  const ds = openDataset(synthData);
  assert.throws(
    () => mapLabels(ds, model),
    (e) =>
      e instanceof DataError && /no name for class index\(es\) 2\b/.test(e.message) &&
      /blue found no model class/.test(e.message),
  );
  // --restrict does not turn the gap into silently dropped images.
  assert.throws(() => mapLabels(ds, model, { restrict: true }), /index\(es\) 2\b/);
  // A dataset whose classes all have names maps by name.
  const some = { ...ds, items: ds.items.filter((it) => ds.classes[it.label!] !== "blue") };
  const m = mapLabels(some, model);
  assert.equal(m.mode, "name");
  assert.equal(m.datasetToModel[ds.classes.indexOf("purple")], 4);
});

Deno.test("datasets: the same image through links in two class folders, a CSV or a glob is refused naming both", () => {
  // Bug: a symlink in another class folder scored the same image under two labels.
  const root = join(tmp, "dup");
  for (const c of ["cat", "dog"]) Deno.mkdirSync(join(root, c), { recursive: true });
  const png = Deno.readFileSync(join(synthData, "red", "000.png"));
  Deno.writeFileSync(join(root, "cat", "a.png"), png);
  Deno.writeFileSync(join(root, "dog", "b.png"), png); // same bytes, another file: fine
  assert.equal(openDataset(root).items.length, 2);
  Deno.symlinkSync(join(root, "cat", "a.png"), join(root, "dog", "c.png"));
  assert.throws(
    () => openDataset(root),
    (e) =>
      e instanceof DataError && e.message.includes(join(root, "cat", "a.png")) &&
      e.message.includes(join(root, "dog", "c.png")) && /same file/.test(e.message),
  );
  Deno.writeTextFileSync(join(root, "labels.csv"), "path,label\ncat/a.png,cat\ndog/c.png,dog\n");
  assert.throws(() => openDataset(join(root, "labels.csv")), /cat\/a\.png and .*dog\/c\.png/);
  assert.throws(() => openDataset(join(root, "*", "*.png")), /are the same file/);
  // A linked class folder holding the same files as another class.
  Deno.removeSync(join(root, "dog", "c.png"));
  Deno.symlinkSync(join(root, "cat"), join(root, "kitten"));
  assert.throws(() => openDataset(root), /cat\/a\.png and .*kitten\/a\.png are the same file/);
});

Deno.test("ImageFolder: FIFOs, dangling and looping links, GIFs are listed as skipped, and the run goes on", async () => {
  // Bug: they vanished without a line in `failed`; a link to itself aborted the whole run.
  const root = join(tmp, "odd");
  await writeSyntheticImages(root, 1, 5);
  mkfifo(join(root, "red", "pipe.png"));
  Deno.symlinkSync(join(root, "red", "gone.png"), join(root, "green", "dangling.png"));
  Deno.symlinkSync("self.jpg", join(root, "blue", "self.jpg"));
  Deno.symlinkSync(join(root, "nowhere"), join(root, "yellow", "sub")); // a lost folder link
  Deno.writeFileSync(join(root, "purple", "anim.gif"), new TextEncoder().encode("GIF89a"));
  Deno.writeTextFileSync(join(root, "purple", "notes.txt"), "not an image: ignored");
  const ds = openDataset(root);
  assert.equal(ds.items.length, 5);
  const skipped = new Map(ds.skipped!.map((s) => [s.path.slice(root.length + 1), s.reason]));
  assert.deepEqual([...skipped.keys()].sort(), [
    "blue/self.jpg",
    "green/dangling.png",
    "purple/anim.gif",
    "red/pipe.png",
    "yellow/sub",
  ]);
  assert.match(skipped.get("red/pipe.png")!, /FIFO/);
  assert.match(skipped.get("green/dangling.png")!, /target does not exist/);
  assert.match(skipped.get("blue/self.jpg")!, /refers to itself/);
  assert.match(skipped.get("purple/anim.gif")!, /GIF files are not among ImageFolder/);
  const r = await evaluate({ model: synthModel, data: root, progress: false, bootstrap: 0 });
  assert.equal(r.metrics.num_samples, 5);
  assert.deepEqual(
    r.metrics.failed.map((f) => f.path.slice(root.length + 1)).sort(),
    [...skipped.keys()].sort(),
  );
});

Deno.test("FIFOs given as image, config.json, preprocessor_config.json or weights are refused, not read", async () => {
  // Bug: reading a FIFO blocks until a writer appears: predict / explain / eval hung forever.
  const dir = join(tmp, "fifos");
  Deno.mkdirSync(dir);
  const fifo = join(dir, "img.png");
  mkfifo(fifo);
  await assert.rejects(
    () => readImage(fifo),
    (e) => e instanceof ImageDecodeError && /FIFO/.test(e.message),
  );
  await assert.rejects(() => SafetensorsFile.open(fifo), /FIFO/);
  // A model folder whose config.json / weights are FIFOs.
  const m1 = join(dir, "m1");
  Deno.mkdirSync(m1);
  Deno.copyFileSync(join(synthModel, "model.safetensors"), join(m1, "model.safetensors"));
  mkfifo(join(m1, "config.json"));
  assert.throws(
    () => findModelFiles(m1),
    (e) => e instanceof ModelLayoutError && /config\.json is a FIFO/.test(e.message),
  );
  const m2 = join(dir, "m2");
  Deno.mkdirSync(m2);
  Deno.copyFileSync(join(synthModel, "config.json"), join(m2, "config.json"));
  mkfifo(join(m2, "model.safetensors"));
  assert.throws(() => findModelFiles(m2), /model\.safetensors is a FIFO/);
  assert.throws(() => findModelFiles(join(m2, "model.safetensors")), /is a FIFO/);
  const m3 = join(dir, "m3");
  Deno.mkdirSync(m3);
  Deno.copyFileSync(join(synthModel, "config.json"), join(m3, "config.json"));
  mkfifo(join(m3, "preprocessor_config.json"));
  assert.throws(() => preprocessConfigFromModelDir(m3), /preprocessor_config\.json is a FIFO/);
  // The predict command lists it as unreadable and goes on.
  const r = await cli([
    "predict",
    "--model",
    synthModel,
    fifo,
    join(synthData, "red", "000.png"),
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err + r.out, /FIFO/);
});

Deno.test("config sizes: negative, fractional or huge image_size is a one-line error naming config.json", () => {
  // Bug: image_size -5 or 1e9 ended in "internal error" (a resize of a negative or
  // absurd size), after the model had loaded.
  for (const bad of [-5, 0, 1e9, 12.5, [224, -1]]) {
    const dir = join(tmp, `size-${String(bad)}`);
    Deno.mkdirSync(dir);
    Deno.copyFileSync(join(synthModel, "model.safetensors"), join(dir, "model.safetensors"));
    const config = JSON.parse(Deno.readTextFileSync(join(synthModel, "config.json")));
    Deno.writeTextFileSync(
      join(dir, "config.json"),
      JSON.stringify({ ...config, image_size: bad }),
    );
    assert.throws(
      () => findModelFiles(dir),
      (e) =>
        e instanceof DataError && /config\.json: image_size must be a whole number/.test(e.message),
      `image_size ${bad}`,
    );
    assert.throws(() => preprocessConfigFromModelDir(dir), /image_size must be/);
  }
});

Deno.test("merge: a state whose metadata is not JSON is a one-line error naming the file", async () => {
  // Bug: JSON.parse's SyntaxError surfaced as "internal error".
  const path = join(tmp, "bad-state.safetensors");
  await writeSafetensors(path, { x: { dtype: "F32", shape: [1], data: new Float32Array(1) } }, {
    visioneval_metric_state: "{not json",
  });
  await assert.rejects(
    () => decodeSnapshot(Deno.readFileSync(path), path),
    (e) =>
      e instanceof MetricsInputError && e.message.includes(path) &&
      /not a JSON object|not JSON/.test(e.message),
  );
  const r = await cli(["merge", "--out", join(tmp, "merged"), path]);
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.err, /internal error/);
});

Deno.test("eval CLI: --std 0,0,0 and other usage errors exit 2 before any folder is created", async () => {
  // Bug: --std 0,0,0 was a data error (exit 1) without the flag's name, and --out was
  // created before later options were parsed.
  assert.throws(
    () => preprocessOverrides({ std: "0,0,0" }),
    (e) => e instanceof UsageError && /--std/.test(e.message),
  );
  for (const bad of [["--std", "0,0,0"], ["--batch", "0"], ["--bootstrap", "-1"]]) {
    const out = join(tmp, `never-${bad[0].slice(2)}`);
    const r = await cli(["eval", "--model", synthModel, "--data", synthData, "--out", out, ...bad]);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, new RegExp(bad[0]));
    assert.equal(exists(out), false, `${out} must not be created`);
  }
});

Deno.test("eval: an unwritable --out fails before the model loads, with a message naming it", async () => {
  // Bug: an --out that could not be written failed with "internal error" after the run.
  const file = join(tmp, "plain-file");
  Deno.writeTextFileSync(file, "x");
  // The model path does not exist either: the --out error shows it was checked first.
  for (const out of [file, join(file, "sub")]) {
    await assert.rejects(
      () => evaluate({ model: join(tmp, "no-such-model"), data: synthData, out, progress: false }),
      (e) => e instanceof DataError && e.message.includes(`--out ${out}`),
    );
  }
  const r = await cli(["eval", "--model", synthModel, "--data", synthData, "--out", file]);
  assert.equal(r.code, 1);
  assert.match(r.err, /--out .*plain-file/);
  assert.doesNotMatch(r.err, /internal error/);
});

Deno.test("evaluate: a model it loaded is released when a later step fails", async () => {
  // Bug: dispose() ran only on success: a failing mapping leaked the weights.
  const disposed: string[] = [];
  const orig = ResNet.prototype.dispose;
  ResNet.prototype.dispose = function (this: ResNet) {
    disposed.push(this.path);
    orig.call(this);
  };
  try {
    const gap = join(tmp, "gap-model");
    await writeSyntheticModel(gap);
    const config = JSON.parse(Deno.readTextFileSync(join(gap, "config.json")));
    delete config.id2label["2"];
    Deno.writeTextFileSync(join(gap, "config.json"), JSON.stringify(config));
    await assert.rejects(
      () => evaluate({ model: gap, data: synthData, progress: false }),
      /no name for class index/,
    );
    assert.deepEqual(disposed, [gap]);
  } finally {
    ResNet.prototype.dispose = orig;
  }
});

/** The run an output folder's eval files belong to, or "none"; throws on a mix. */
function outputRun(out: string): string {
  if (!exists(join(out, "metrics.json"))) return "none";
  const m = JSON.parse(Deno.readTextFileSync(join(out, "metrics.json")));
  const rows = parseCsv(Deno.readTextFileSync(join(out, "predictions.csv"))).length - 1;
  assert.equal(rows, m.num_samples, "predictions.csv is from another run than metrics.json");
  const head = Deno.readFileSync(join(out, "state.safetensors"));
  assert.ok(head.length > 8, "truncated state");
  return `${m.num_samples}`;
}

Deno.test("output folder: a commit cut at any step leaves the old outputs or the new, never a mix", async () => {
  // Bug: files were written one by one into --out: a run killed half-way left a new
  // metrics.json beside the old state, or a truncated state beside a complete metrics.json.
  const names = ["metrics.json", "predictions.csv", "state.safetensors", "report.html"];
  const write = async (out: StagedOutput, tag: string, report = true) => {
    for (const n of names) {
      if (n === "report.html" && !report) continue;
      await Deno.writeTextFile(out.path(n), `${tag}\n`);
    }
  };
  const tags = (dir: string) =>
    names.filter((n) => exists(join(dir, n))).map((n) =>
      Deno.readTextFileSync(join(dir, n)).trim()
    );
  for (let cut = 0; cut < 10; cut++) {
    const dir = join(tmp, `commit-${cut}`);
    const first = await StagedOutput.open(dir, names);
    await write(first, "old");
    await first.commit("metrics.json");
    Deno.writeTextFileSync(join(dir, "notes.txt"), "another tool's file");
    const second = await StagedOutput.open(dir, names);
    await write(second, "new", false); // --no-report: the old report must not stay beside
    let killed = false;
    try {
      await second.commit("metrics.json", {
        beforeStep: (s) => {
          if (s === cut) throw new Error("killed");
        },
      });
    } catch {
      killed = true;
    }
    const seen = tags(dir);
    if (exists(join(dir, "metrics.json"))) {
      const run = Deno.readTextFileSync(join(dir, "metrics.json")).trim();
      assert.ok(seen.every((t) => t === run), `cut ${cut}: mixed outputs ${seen}`);
      assert.equal(seen.length, run === "old" ? 4 : 3, `cut ${cut}: ${seen}`);
    } else {
      assert.ok(killed, `cut ${cut}`);
    }
    assert.equal(Deno.readTextFileSync(join(dir, "notes.txt")), "another tool's file");
    if (!killed) {
      assert.deepEqual(seen, ["new", "new", "new"]);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), [
        "metrics.json",
        "notes.txt",
        "predictions.csv",
        "state.safetensors",
      ]);
    }
  }
  // A run that fails before the commit leaves the old outputs and no staging folder.
  const dir = join(tmp, "commit-0");
  const before = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  const failed = await StagedOutput.open(dir, names);
  await write(failed, "broken");
  await failed.discard();
  assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name).sort(), before);
});

Deno.test("eval: killed while writing, --out holds the earlier run's outputs or the new ones, never a mix", async () => {
  const out = join(tmp, "killed-out");
  const base = ["run", "-A", new URL("../cli.ts", import.meta.url).pathname, "eval"];
  const args = (limit: number) => [
    ...base,
    "--model",
    synthModel,
    "--data",
    synthData,
    "--out",
    out,
    "--limit",
    String(limit),
    "--bootstrap",
    "0",
  ];
  const first = await new Deno.Command(Deno.execPath(), { args: args(4), stderr: "piped" })
    .output();
  assert.equal(first.code, 0, new TextDecoder().decode(first.stderr));
  assert.equal(outputRun(out), "4");
  // Kill the next runs once they have started writing into the staging folder.
  for (const delay of [0, 30, 120]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: args(10),
      stdout: "null",
      stderr: "null",
    }).spawn();
    const t0 = Date.now();
    let staging: string | undefined;
    while (Date.now() - t0 < 120_000) {
      staging = [...Deno.readDirSync(out)].find((e) => e.name.startsWith(".visioneval-staging"))
        ?.name;
      if (staging && exists(join(out, staging, "metrics.json"))) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    await new Promise((r) => setTimeout(r, delay));
    try {
      child.kill("SIGKILL");
    } catch { /* already done */ }
    await child.status;
    const run = outputRun(out); // throws on a mix
    console.log(`killed ${delay} ms after the first staged file: outputs of run ${run}`);
    assert.ok(["4", "10", "none"].includes(run), run);
    if (run === "none") {
      // Killed inside the commit's few renames: the earlier files wait in the hidden folder.
      assert.ok([...Deno.readDirSync(out)].some((e) => e.name.startsWith(".visioneval-previous")));
    }
  }
  const last = await new Deno.Command(Deno.execPath(), { args: args(10), stderr: "piped" })
    .output();
  assert.equal(last.code, 0, new TextDecoder().decode(last.stderr));
  assert.equal(outputRun(out), "10");
});

Deno.test("pipeline warnings: an assumption the flags replace is not printed", async () => {
  // Bug: "assumed mean ... (ImageNet)" and "no image_size ...: assumed 224x224" were
  // printed even with --mean/--std/--size given.
  const dir = join(tmp, "plain-config");
  Deno.mkdirSync(dir);
  Deno.writeTextFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "mynet" }));
  const cfg = preprocessConfigFromModelDir(dir);
  assert.equal(cfg.warnings.length, 2);
  assert.match(cfg.warnings.join("\n"), /assumed 224x224/);
  assert.match(cfg.warnings.join("\n"), /assumed mean .* \(ImageNet\)/);
  const sized = preprocessConfigFromModelDir(dir, { size: [64, 64] });
  assert.deepEqual(sized.warnings, [cfg.warnings[1]]);
  const stats = applyOverrides(cfg, { mean: [0, 0, 0], std: [1, 1, 1] });
  assert.deepEqual(stats.warnings, [cfg.warnings[0]]);
  assert.deepEqual(
    applyOverrides(cfg, { mean: [0, 0, 0] }).warnings,
    cfg.warnings,
    "std still assumed",
  );
  assert.deepEqual(
    applyOverrides(cfg, { size: 70, mean: [0, 0, 0], std: [1, 1, 1] }).warnings,
    [],
  );
  // Plain notes stay; family pipelines record theirs the same way.
  const noted = { ...cfg, warnings: [...cfg.warnings, "a note"] };
  assume(noted, "assumed bicubic", ["interpolation"]);
  assert.deepEqual(withoutAssumptions(noted, ["interpolation", "size"]).warnings, [
    cfg.warnings[1],
    "a note",
  ]);
  // A ResNet folder without preprocessor_config.json: the defaults are assumed and said so,
  // unless every setting they stand for is given.
  const bare = join(tmp, "bare-resnet");
  Deno.mkdirSync(bare);
  for (const f of ["config.json", "model.safetensors"]) {
    Deno.copyFileSync(join(synthModel, f), join(bare, f));
  }
  const run = (flags: string[]) =>
    cli([
      "eval",
      "--model",
      bare,
      "--data",
      synthData,
      "--out",
      join(tmp, "warn-out"),
      "--no-report",
      "--bootstrap",
      "0",
      ...flags,
    ]);
  const assumed = await run(["--mean", "0,0,0", "--std", "1,1,1"]);
  assert.equal(assumed.code, 0, assumed.err);
  assert.match(assumed.err, /assumed Hugging Face ConvNextImageProcessor defaults/);
  const given = await run([
    "--mean",
    "0,0,0",
    "--std",
    "1,1,1",
    "--size",
    "64x64",
    "--crop",
    "0",
    "--interpolation",
    "bilinear",
  ]);
  assert.equal(given.code, 0, given.err);
  assert.doesNotMatch(given.err, /assumed/);
});

Deno.test("ViT: an input far above the trained size warns with its token count and cost", async () => {
  const dir = join(tmp, "vit32");
  Deno.mkdirSync(dir);
  const size = { D: 64, depth: 1, heads: 1, mlp: 32, classes: 3, patch: 16, grid: 2 };
  await writeSafetensors(join(dir, "model.safetensors"), synthTimmViT(size, 5).tensors);
  const model = await loadModel(dir);
  try {
    assert.deepEqual(model.inputSize, [32, 32]);
    assert.deepEqual(model.inputSizeWarnings!([32, 32]), []);
    assert.deepEqual(model.inputSizeWarnings!([48, 48]), []);
    const [w] = model.inputSizeWarnings!([1024, 1024]);
    assert.match(w, /1024x1024 gives 4097 tokens/);
    assert.match(w, /trained on 32x32: 5 tokens/);
    assert.match(w, /FLOP/);
    // The evaluation prints it before the run.
    const data = join(tmp, "vit-data");
    await writeSyntheticImages(data, 1, 2);
    const labels = CLASSES.slice(0, 3).map((c, i) => `${c}/000.png,${i}`).join("\n");
    Deno.writeTextFileSync(join(data, "labels.csv"), `path,label\n${labels}\n`);
    const r = await cli([
      "eval",
      "--model",
      dir,
      "--data",
      join(data, "labels.csv"),
      "--out",
      join(tmp, "vit-out"),
      "--size",
      "128x128",
      "--bootstrap",
      "0",
      "--no-report",
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /128x128 gives 65 tokens/);
  } finally {
    model.dispose();
  }
});

Deno.test("CSV: one reader for every file, quotes respected, line numbers kept", () => {
  // Bug: three readers existed; the metrics input one split on commas inside quotes.
  const text = '\ufeffpath,label\n"a, b.png",3\n\n"multi\nline.png","x ""y"""\r\nlast,1';
  assert.deepEqual(parseCsv(text), [
    ["path", "label"],
    ["a, b.png", "3"],
    ["multi\nline.png", 'x "y"'],
    ["last", "1"],
  ]);
  assert.deepEqual(readCsvRecords(text).map((r) => r.line), [1, 2, 4, 6]);
  assert.deepEqual(parseCsv("a\tb\n1\t2", { separator: "\t" }), [["a", "b"], ["1", "2"]]);
});

Deno.test("eval: --explain with no mistake and --embed on under 4 images say why the report lacks them", async () => {
  // Bug: both sections were silently left out of report.html, as if the flags were ignored.
  const run = (flags: string[]) =>
    cli([
      "eval",
      "--model",
      synthModel,
      "--data",
      synthData,
      "--out",
      join(tmp, "sections-out"),
      "--bootstrap",
      "0",
      ...flags,
    ]);
  const few = await run(["--limit", "3", "--embed", "pca"]);
  assert.equal(few.code, 0, few.err);
  assert.match(few.err, /--embed pca: an embedding needs at least 4 images, this run has 3/);
  assert.doesNotMatch(
    Deno.readTextFileSync(join(tmp, "sections-out", "report.html")),
    /<h2>Embedding/,
  );
  // Only the images that run got right: nothing to explain.
  const predictions = Deno.readTextFileSync(join(tmp, "sections-out", "predictions.csv"));
  const right = predictions.trim().split("\n").slice(1).map((l) => l.split(","))
    .filter((r) => r[1] === r[2]);
  assert.ok(right.length > 0, predictions);
  const labels = join(tmp, "right.csv");
  Deno.writeTextFileSync(labels, "path,label\n" + right.map((r) => `${r[0]},${r[5]}`).join("\n"));
  const none = await run(["--labels", labels, "--explain", "2"]);
  assert.equal(none.code, 0, none.err);
  assert.match(none.err, /--explain 2: no image is misclassified, no maps/);
  const html = Deno.readTextFileSync(join(tmp, "sections-out", "report.html"));
  assert.doesNotMatch(html, /<h2>Explanation maps/);
  // With enough images the embedding is drawn and nothing is said.
  const enough = await run(["--limit", "4", "--embed", "pca"]);
  assert.equal(enough.code, 0, enough.err);
  assert.doesNotMatch(enough.err, /--embed|--explain/);
  assert.match(Deno.readTextFileSync(join(tmp, "sections-out", "report.html")), /<h2>Embedding/);
});

Deno.test("model classes: config names of another count than the head's outputs are said to be ignored", () => {
  // Bug: a timm config listing 7 label_names for a 5-output head made the model
  // "have no class names" in the warning, hiding why the folder names were not used.
  const config = { label_names: [...CLASSES, "cyan", "white"] };
  const model = { config, numClasses: 5, labels: undefined } as unknown as ClassifierModel;
  const classes = modelClasses(model);
  assert.equal(classes.named, false);
  assert.equal(classes.count, 5);
  const why = "config.json names 7 classes but the head has 5 outputs, so its names are not used";
  assert.equal(classes.namesIgnored, why);
  const mapping = mapLabels(openDataset(synthData), classes);
  assert.equal(mapping.mode, "index");
  assert.ok(mapping.warnings.some((w) => w.startsWith(`model has no class names (${why})`)));
  assert.throws(
    () => mapLabels(openDataset(synthData), classes, { by: "name" }),
    /names 7 classes/,
  );
  // A config whose names fit is used as before, with no such note.
  const fits = modelClasses({ ...model, config: { label_names: CLASSES } } as ClassifierModel);
  assert.equal(fits.named, true);
  assert.equal(fits.namesIgnored, undefined);
});
