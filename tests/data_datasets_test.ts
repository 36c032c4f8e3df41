/**
 * Dataset and label-mapping tests: ImageFolder, labels CSV (index and name
 * labels, quoting, extra columns, missing images), CIFAR-10/100 binary
 * batches with known pixels, image lists and globs, clear errors; class
 * mapping by WordNet id / name / synonym / file / index, restriction.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  cifarToRgb,
  type Dataset,
  globToRegExp,
  openDataset,
  parseCsv,
  readCifarRecord,
} from "../src/data/datasets.ts";
import {
  applyLabelMapping,
  mapLabels,
  modelClassesFromConfig,
  modelClassesFromNames,
  readModelClasses,
} from "../src/data/labels.ts";
import { DataError } from "../src/errors.ts";
import { fixture, fixtureTest } from "./_helpers.ts";

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "visioneval-data-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

fixtureTest("datasets: ImageFolder of CIFAR-10 JPEGs agrees with its labels.csv", () => {
  const root = fixture("data", "cifar10-test");
  const folder = openDataset(root);
  assert.equal(folder.kind, "imagefolder");
  assert.equal(folder.labelKind, "name");
  assert.deepEqual(folder.classes, [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
  ]);
  assert.equal(folder.items.length, 5000);
  const csv = openDataset(join(root, "labels.csv"));
  assert.equal(csv.labelKind, "index");
  assert.equal(csv.items.length, 5000);
  assert.equal(csv.classes[3], "cat");
  const byPath = new Map(csv.items.map((it) => [it.path, it.label]));
  for (const it of folder.items) assert.equal(byPath.get(it.path), it.label, it.path);
});

fixtureTest("datasets: ImageNet sample labels.csv (numeric labels, name column)", () => {
  const ds = openDataset(fixture("data", "imagenet-sample"));
  assert.equal(ds.kind, "csv");
  assert.equal(ds.labelKind, "index");
  assert.equal(ds.items.length, 500);
  assert.equal(ds.items[0].label, 0);
  assert.equal(ds.items[1].label, 2);
  assert.equal(ds.classes[2], "great_white_shark");
  assert.equal(ds.classes[1], "");
  const limited = openDataset(fixture("data", "imagenet-sample"), { limit: 10 });
  assert.equal(limited.items.length, 10);
});

Deno.test("datasets: CSV with names, quotes, extra columns; missing images are an error", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "img", "sub"), { recursive: true });
    for (const f of ["a.jpg", "b, c.png", "sub/d.jpeg"]) {
      await Deno.writeFile(join(dir, "img", f), new Uint8Array(1));
    }
    await Deno.writeTextFile(
      join(dir, "labels.csv"),
      'filename,extra,label\r\nimg/a.jpg,1,dog\r\n"img/b, c.png",2,"cat"\r\nimg/sub/d.jpeg,3,dog\r\n',
    );
    const ds = openDataset(join(dir, "labels.csv"));
    assert.deepEqual(ds.classes, ["cat", "dog"]);
    assert.deepEqual(ds.items.map((i) => [i.path.slice(dir.length + 1), i.label]), [
      ["img/a.jpg", 1],
      ["img/b, c.png", 0],
      ["img/sub/d.jpeg", 1],
    ]);
    // Same CSV given next to a folder with --labels.
    assert.equal(
      openDataset(join(dir, "img"), { labels: join(dir, "labels.csv") }).items.length,
      3,
    );
    // Bug: a CSV kept beside the image folder, listing paths relative to that folder
    // (--data val --labels val_labels.csv), was refused: the paths are now looked up under
    // --data when not all exist beside the CSV, and the header says which base it used.
    await Deno.writeTextFile(join(dir, "img_labels.csv"), "path,label\na.jpg,1\nsub/d.jpeg,0\n");
    const beside = openDataset(join(dir, "img"), { labels: join(dir, "img_labels.csv") });
    assert.deepEqual(beside.items.map((i) => i.path), [
      join(dir, "img", "a.jpg"),
      join(dir, "img", "sub", "d.jpeg"),
    ]);
    assert.match(beside.description, /\(paths relative to --data .*img\)/);
    // Found under neither: both bases are named.
    assert.throws(
      () => openDataset(join(dir, "img", "sub"), { labels: join(dir, "img_labels.csv") }),
      (e: unknown) =>
        e instanceof DataError && e.message.includes(`relative to ${dir} (or to --data `),
    );
    // Paths that resolve beside the CSV keep that base, whatever --data says.
    const own = openDataset(join(dir, "img", "sub"), { labels: join(dir, "labels.csv") });
    assert.equal(own.items[0].path, join(dir, "img", "a.jpg"));
    assert.doesNotMatch(own.description, /--data/);

    await Deno.writeTextFile(join(dir, "bad.csv"), "path,label\nimg/a.jpg,0\nimg/nope.jpg,1\n");
    assert.throws(
      () => openDataset(join(dir, "bad.csv")),
      (e: unknown) =>
        e instanceof DataError && /names 1 image\(s\) that do not exist/.test(e.message) &&
        e.message.includes("img/nope.jpg (line 3)"),
    );
    // The same image twice, once through a "./" path: it would be counted twice.
    await Deno.writeTextFile(
      join(dir, "twice.csv"),
      "path,label\nimg/a.jpg,0\nimg/sub/d.jpeg,1\n./img/a.jpg,1\n",
    );
    assert.throws(
      () => openDataset(join(dir, "twice.csv")),
      (e: unknown) =>
        e instanceof DataError && e.message.includes("lists img/a.jpg twice (lines 2 and 4)"),
    );
    await Deno.writeTextFile(join(dir, "nolabel.csv"), "path,label\nimg/a.jpg,\n");
    assert.throws(() => openDataset(join(dir, "nolabel.csv")), /line 2: no label/);
    await Deno.writeTextFile(join(dir, "empty.csv"), "path,label\n");
    assert.throws(() => openDataset(join(dir, "empty.csv")), /contains no images/);
  });
  assert.deepEqual(parseCsv('a,"b ""q"", c"\n\n1,2'), [["a", 'b "q", c'], ["1", "2"]]);
});

/** Writes a CIFAR batch whose pixel bytes are a known function of (record, byte). */
function cifarBatch(labels: number[][], seed: number): Uint8Array {
  const row = labels[0].length + 3072;
  const out = new Uint8Array(labels.length * row);
  labels.forEach((ls, r) => {
    out.set(ls, r * row);
    for (let i = 0; i < 3072; i++) out[r * row + ls.length + i] = (i * 7 + r * 13 + seed) & 255;
  });
  return out;
}

Deno.test("datasets: CIFAR-10 and CIFAR-100 binary batches", async () => {
  await withTempDir(async (dir) => {
    const c10 = join(dir, "cifar-10-batches-bin");
    await Deno.mkdir(c10);
    await Deno.writeFile(join(c10, "test_batch.bin"), cifarBatch([[3], [9], [0]], 1));
    await Deno.writeFile(join(c10, "data_batch_1.bin"), cifarBatch([[1]], 2));
    await Deno.writeFile(join(c10, "data_batch_2.bin"), cifarBatch([[2], [4]], 3));
    const test = openDataset(dir);
    assert.equal(test.kind, "cifar10");
    assert.deepEqual(test.items.map((i) => i.label), [3, 9, 0]);
    assert.equal(test.classes[3], "cat");
    const train = openDataset(c10, { cifarSplit: "train" });
    assert.deepEqual(train.items.map((i) => i.label), [1, 2, 4]);
    assert.equal(openDataset(c10, { cifarSplit: "all" }).items.length, 6);
    // Pixels: planar R, G, B planes -> HWC.
    const img = await readCifarRecord(test.items[1].record!);
    assert.equal(img.width, 32);
    for (const [y, x, c] of [[0, 0, 0], [5, 7, 1], [31, 31, 2]]) {
      const planar = c * 1024 + y * 32 + x;
      assert.equal(img.data[(y * 32 + x) * 3 + c], (planar * 7 + 13 + 1) & 255);
    }
    assert.deepEqual(
      cifarToRgb(new Uint8Array(3072).fill(5)).data.slice(0, 3),
      new Uint8Array([5, 5, 5]),
    );

    const c100 = join(dir, "c100");
    await Deno.mkdir(c100);
    await Deno.writeFile(join(c100, "test.bin"), cifarBatch([[4, 30], [19, 99]], 4));
    const fine = openDataset(c100);
    assert.equal(fine.kind, "cifar100");
    assert.deepEqual(fine.items.map((i) => i.label), [30, 99]);
    assert.equal(fine.classes[99], "worm");
    const coarse = openDataset(join(c100, "test.bin"), { cifarLabel: "coarse" });
    assert.deepEqual(coarse.items.map((i) => i.label), [4, 19]);
    assert.equal(coarse.classes[19], "vehicles_2");
    const px = await readCifarRecord(fine.items[0].record!);
    assert.equal(px.data[0], (0 + 0 + 4) & 255);

    await Deno.writeFile(join(dir, "odd.bin"), new Uint8Array(3000));
    assert.throws(() => openDataset(join(dir, "odd.bin")), /not a whole number of/);
    await Deno.writeFile(join(dir, "bad.bin"), cifarBatch([[200]], 0));
    assert.throws(() => openDataset(join(dir, "bad.bin")), /label 200/);
  });
});

Deno.test("datasets: single image, lists, globs, empty and missing paths", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(join(dir, "a", "b"), { recursive: true });
    for (const f of ["x.jpg", "y.PNG", "a/z.jpg", "a/b/w.jpeg", "notes.txt"]) {
      await Deno.writeFile(join(dir, f), new Uint8Array(1));
    }
    const mixed = openDataset(dir); // top-level images win over sub-folders, with a warning
    assert.equal(mixed.kind, "images");
    assert.equal(mixed.items.length, 2);
    assert.match(mixed.warnings[0], /sub-folder\(s\) \(a\) are not read as classes/);
    const one = openDataset(join(dir, "x.jpg"));
    assert.equal(one.kind, "images");
    assert.equal(one.labelKind, "none");
    assert.deepEqual(one.items, [{ path: join(dir, "x.jpg") }]);
    const list = openDataset([join(dir, "x.jpg"), join(dir, "a", "z.jpg")]);
    assert.equal(list.items.length, 2);
    // Folder order as torchvision's sorted(os.walk()): by path string, so
    // ".../a" < ".../a-c" < ".../a/b" ("-" sorts before "/").
    await Deno.mkdir(join(dir, "a-c"));
    await Deno.writeFile(join(dir, "a-c", "v.jpg"), new Uint8Array(1));
    await Deno.writeFile(join(dir, "a", "zz.jpg"), new Uint8Array(1));
    const walked = openDataset([dir]);
    assert.deepEqual(walked.items.map((i) => i.path.slice(dir.length + 1)), [
      "x.jpg",
      "y.PNG",
      "a/z.jpg",
      "a/zz.jpg",
      "a-c/v.jpg",
      "a/b/w.jpeg",
    ]);
    await Deno.remove(join(dir, "a-c"), { recursive: true });
    await Deno.remove(join(dir, "a", "zz.jpg"));
    const glob = openDataset(join(dir, "**/*.jp*g"));
    assert.deepEqual(glob.items.map((i) => i.path.slice(dir.length + 1)).sort(), [
      "a/b/w.jpeg",
      "a/z.jpg",
      "x.jpg",
    ]);
    assert.ok(globToRegExp("/d/*.[jp]pg").test("/d/a.jpg"));
    assert.ok(!globToRegExp("/d/*.jpg").test("/d/e/a.jpg"));
    assert.throws(() => openDataset(join(dir, "*.gif")), /matches nothing/);
    assert.throws(() => openDataset(join(dir, "nope")), /does not exist/);
    assert.throws(() => openDataset(join(dir, "notes.txt")), /not a folder, labels \.csv/);
    await Deno.mkdir(join(dir, "empty"));
    assert.throws(() => openDataset(join(dir, "empty")), DataError);
    await Deno.mkdir(join(dir, "classes", "cat"), { recursive: true });
    await Deno.mkdir(join(dir, "classes", "dog"), { recursive: true });
    assert.throws(() => openDataset(join(dir, "classes")), /contains no images/);
    await Deno.writeFile(join(dir, "classes", "dog", "1.jpg"), new Uint8Array(1));
    const folder = openDataset(join(dir, "classes"));
    assert.deepEqual(folder.classes, ["cat", "dog"]);
    assert.equal(folder.warnings.length, 1, "an empty class folder is reported");
    // Symlinked class folders are followed; a link cycle is not walked twice.
    await Deno.mkdir(join(dir, "elsewhere"));
    await Deno.writeFile(join(dir, "elsewhere", "2.jpg"), new Uint8Array(1));
    await Deno.symlink(join(dir, "elsewhere"), join(dir, "classes", "hound"));
    await Deno.symlink(join(dir, "classes", "dog"), join(dir, "classes", "dog", "loop"));
    const linked = openDataset(join(dir, "classes"));
    assert.deepEqual(linked.classes, ["cat", "dog", "hound"]);
    assert.deepEqual(linked.items.map((i) => i.label), [1, 2]);
    // The same image under two class folders (a link to another class) is refused.
    await Deno.symlink(join(dir, "classes", "dog"), join(dir, "classes", "puppy"));
    assert.throws(
      () => openDataset(join(dir, "classes")),
      /dog\/1\.jpg and .*puppy\/1\.jpg are the same file/,
    );
  });
});

/** A dataset object with the given class names, one item per class. */
function namedDataset(classes: string[]): Dataset {
  return {
    kind: "imagefolder",
    root: "/x",
    items: classes.map((c, i) => ({ path: `/x/${c}/0.jpg`, label: i })),
    labelKind: "name",
    classes,
    description: "test",
    warnings: [],
  };
}

fixtureTest("labels: names, WordNet ids and synonyms map to the timm ImageNet classes", () => {
  const timm = readModelClasses(fixture("models", "vit-tiny-in1k", "timm"));
  assert.equal(timm.count, 1000);
  assert.ok(timm.named);
  const ds = namedDataset([
    "n01440764", // wnid -> 0
    "Great_White_Shark", // full first synonym, other case/underscores -> 2
    "Carassius auratus", // a later synonym -> 1 goldfish
    "tiger shark", // -> 3
    "man-eater", // later synonym of great white shark -> 2
  ]);
  const m = mapLabels(ds, timm);
  assert.equal(m.mode, "name");
  assert.deepEqual(Array.from(m.datasetToModel), [0, 2, 1, 3, 2]);
  assert.equal(m.modelSubset, null);
  assert.equal(m.warnings.length, 1, "two dataset classes on one model class is reported");

  // The HF config (id2label only) gives the same by name; the class index json agrees.
  const hf = readModelClasses(fixture("models", "vit-tiny-in1k", "hf"));
  const index = JSON.parse(Deno.readTextFileSync(fixture("data", "imagenet_class_index.json")));
  const names = [0, 2, 94, 998].map((i) => index[String(i)][1] as string);
  assert.deepEqual(Array.from(mapLabels(namedDataset(names), hf).datasetToModel), [0, 2, 94, 998]);
  const wnids = [0, 2, 94, 998].map((i) => index[String(i)][0] as string);
  assert.deepEqual(Array.from(mapLabels(namedDataset(wnids), timm).datasetToModel), [
    0,
    2,
    94,
    998,
  ]);

  // "crane" is two ImageNet classes (bird and machine): ambiguous.
  assert.throws(() => mapLabels(namedDataset(["crane"]), hf), /matches several model classes/);
  // Classes the model lacks: error, or dropped when restricting.
  const mixed = namedDataset(["tench", "unicorn", "goldfish"]);
  assert.throws(() => mapLabels(mixed, timm), /not among the model's 1000 classes: unicorn/);
  const r = mapLabels(mixed, timm, { restrict: true });
  assert.deepEqual(r.modelSubset, [0, 1]);
  assert.deepEqual(r.missing, ["unicorn"]);
  const applied = applyLabelMapping(mixed.items, r, mixed);
  assert.deepEqual(applied.items.map((i) => i.label), [0, 1]);
  assert.equal(applied.dropped.length, 1);
  assert.match(applied.dropped[0].reason, /unicorn/);
});

fixtureTest("labels: CIFAR folders to the CIFAR ResNet, indices, placeholders, files", async () => {
  const resnet = readModelClasses(fixture("models", "resnet-cifar10", "resnet20"));
  const folder = openDataset(fixture("data", "cifar10-test"));
  const m = mapLabels(folder, resnet);
  assert.deepEqual(Array.from(m.datasetToModel), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);

  // Numeric labels map by index.
  const csv = openDataset(fixture("data", "imagenet-sample", "labels.csv"));
  const timm = readModelClasses(fixture("models", "vit-tiny-in1k", "timm"));
  const byIndex = mapLabels(csv, timm);
  assert.equal(byIndex.mode, "index");
  assert.equal(byIndex.datasetToModel[998], 998);
  assert.throws(() => mapLabels(csv, modelClassesFromNames(undefined, 10)), /not among the model/);

  // Numeric labels whose names are other classes (a re-numbered subset) map by name.
  const subset: Dataset = {
    ...namedDataset(["goldfish", "tench"]),
    labelKind: "index",
  };
  const renumbered = mapLabels(subset, timm);
  assert.equal(renumbered.mode, "name");
  assert.deepEqual(Array.from(renumbered.datasetToModel), [1, 0]);
  assert.match(renumbered.warnings[0], /mapped by name/);
  assert.equal(mapLabels(subset, timm, { by: "index" }).mode, "index");

  // HF placeholder names (LABEL_0...) are not names: map by position, with a warning.
  const random = readModelClasses(fixture("models", "vit-cifar-random"));
  assert.equal(random.named, false);
  const pos = mapLabels(folder, random);
  assert.equal(pos.mode, "index");
  assert.equal(pos.warnings.length, 1);
  assert.throws(() => mapLabels(folder, random, { by: "name" }), /no class names/);

  await withTempDir(async (dir) => {
    const ds = namedDataset(["plane", "car"]);
    await Deno.writeTextFile(join(dir, "map.json"), JSON.stringify({ plane: "airplane", car: 1 }));
    const f = mapLabels(ds, resnet, { mappingFile: join(dir, "map.json") });
    assert.equal(f.mode, "file");
    assert.deepEqual(Array.from(f.datasetToModel), [0, 1]);
    await Deno.writeTextFile(join(dir, "map.csv"), "dataset,model\nplane,ship\n");
    assert.throws(
      () => mapLabels(ds, resnet, { mappingFile: join(dir, "map.csv") }),
      /not among the model's 10 classes: car/,
    );
    await Deno.writeTextFile(join(dir, "bad.json"), JSON.stringify({ plane: "zeppelin" }));
    assert.throws(
      () => mapLabels(ds, resnet, { mappingFile: join(dir, "bad.json") }),
      /"zeppelin" \(for "plane"\) is not a model class/,
    );
  });
  const cfg = modelClassesFromConfig({
    label_names: ["a", "b"],
    label_descriptions: ["x, y", "z"],
  });
  assert.deepEqual(cfg.names, ["x, y", "z"]);
  assert.deepEqual(cfg.ids, ["a", "b"]);
});
