/**
 * Datasets where users keep them: Hugging Face parquet, WebDataset tar
 * shards, ImageNet-style validation folders with a ground-truth file, ReaL
 * labels. Test data: scripts/data/make_datasets.ts writes each format from
 * the fixture images beside an ImageFolder of the same files; every reader
 * must give the same images and labels as the folder, and an evaluation the
 * same predictions and metrics (and the PyTorch reference predictions).
 */
import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { makeDatasets } from "../scripts/data/make_datasets.ts";
import { ByteWriter, parquetWrite } from "hyparquet-writer";
import {
  CIFAR10_CLASSES,
  type Dataset,
  type DatasetItem,
  openDataset,
} from "../src/data/datasets.ts";
import { readImage } from "../src/data/decode.ts";
import { readItemImage } from "../src/data/item_image.ts";
import { mapLabels, modelClassesFromConfig } from "../src/data/labels.ts";
import { loadBatches } from "../src/data/loader.ts";
import { preprocessConfigFromModelDir } from "../src/data/preprocess.ts";
import { loadDataset } from "../src/data/open.ts";
import { ParquetRowReader } from "../src/data/parquet_rows.ts";
import { parseRecordName, recordName } from "../src/data/record_name.ts";
import { listTar } from "../src/data/tar.ts";
import { expandBraces, sampleKey } from "../src/data/webdataset.ts";
import { DataError } from "../src/errors.ts";
import { evaluate, type EvaluationResult, shardRangeByFile } from "../src/evaluate.ts";
import { readRealLabels, realLabelAccuracy } from "../src/metrics/real_labels.ts";
import { parseCsv } from "../src/report/csv.ts";
import { fixture, FIXTURES, fixtureTest, HAVE_FIXTURES } from "./_helpers.ts";
import { PYTHON } from "./_scipy_ref.ts";
import { runCli as cli } from "./_helpers.ts";

const out = await Deno.makeTempDir({ prefix: "visioneval-sources-" });
const manifest: Record<string, string> = HAVE_FIXTURES ? makeDatasets(out) : {};
globalThis.addEventListener("unload", () => Deno.removeSync(out, { recursive: true }));
/** The devkit copy make_datasets.ts writes when python3 can import scipy (meta.mat by savemat). */
const devkit = join(out, "mat", "ILSVRC2012_devkit_t12");
const HAVE_META = HAVE_FIXTURES && (() => {
  try {
    return Deno.statSync(join(devkit, "data", "meta.mat")).isFile;
  } catch {
    return false;
  }
})();

/** A test that needs the fixtures and the scipy-written meta.mat. */
function devkitTest(name: string, fn: () => Promise<void> | void): void {
  Deno.test({
    name: HAVE_META
      ? name
      : `${name} (skipped: needs ${FIXTURES} and ${PYTHON} with scipy for meta.mat)`,
    ignore: !HAVE_META,
    fn,
  });
}

/** The fixture image (class/name.jpg) behind a record name. */
function source(item: DatasetItem): string {
  const r = parseRecordName(item.path)!;
  const key = `${relative(out, r.file)}#${r.record}`;
  assert.ok(manifest[key], `no manifest entry for ${key}`);
  return manifest[key];
}

/** label names by fixture image, from the ImageFolder copy. */
function folderTruth(): Map<string, string> {
  const folder = openDataset(join(out, "cifar-folder"));
  return new Map(
    folder.items.map((it) => [relative(folder.root, it.path), folder.classes[it.label!]]),
  );
}

/** Every item has the folder's label (by name) and the folder file's pixels. */
async function assertSameAsFolder(ds: Dataset, truth: Map<string, string>) {
  assert.equal(ds.items.length, truth.size);
  const seen = new Set<string>();
  for (const it of ds.items) {
    const rel = source(it);
    seen.add(rel);
    const name = ds.labelKind === "index"
      ? ds.classes[it.label!] ?? String(it.label)
      : ds.classes[it.label!];
    const want = truth.get(rel)!;
    assert.ok(
      name === want || Number(name) === [...new Set(truth.values())].sort().indexOf(want),
      `${it.path}: ${name} vs ${want}`,
    );
    const a = await readItemImage(it);
    const b = await readImage(join(out, "cifar-folder", rel));
    assert.deepEqual([a.width, a.height], [b.width, b.height]);
    assert.ok(a.data.every((v, i) => v === b.data[i]), `${it.path}: pixels differ`);
  }
  assert.equal(seen.size, truth.size, "every folder image appears once");
}

Deno.test("record names: FILE#ROW[:STORED] round trip", () => {
  assert.equal(recordName("/d/test.parquet", 17), "/d/test.parquet#17");
  assert.deepEqual(parseRecordName(recordName("/d/a#b.parquet", 3, "x:y/z.png")), {
    file: "/d/a#b.parquet",
    record: "3",
    stored: "x:y/z.png",
  });
  assert.deepEqual(parseRecordName("/d/shard-000001.tar#a/b/key.x"), {
    file: "/d/shard-000001.tar",
    record: "a/b/key.x",
  });
  assert.equal(parseRecordName("/d/image.jpg"), null);
});

Deno.test("webdataset: brace ranges and sample keys", () => {
  assert.deepEqual(expandBraces("s-{008..011}.tar"), [
    "s-008.tar",
    "s-009.tar",
    "s-010.tar",
    "s-011.tar",
  ]);
  assert.deepEqual(expandBraces("{a,b}-{1..2}"), ["a-1", "a-2", "b-1", "b-2"]);
  assert.deepEqual(sampleKey("d/e/k01.seg.PNG"), { key: "d/e/k01", ext: "seg.png" });
});

fixtureTest(
  "parquet: two HF files (Image struct, ClassLabel, Snappy) = the ImageFolder",
  async () => {
    await assert.rejects(
      () => loadDataset(join(out, "parquet")),
      (e: Error) => e instanceof DataError && /splits \(test, train\).*--split/.test(e.message),
    );
    await assert.rejects(
      () => loadDataset(join(out, "parquet"), { split: "validation" }),
      (e: Error) => /splits found: test, train/.test(e.message),
    );
    const ds = await loadDataset(join(out, "parquet"), { split: "test" });
    assert.equal(ds.kind, "parquet");
    assert.equal(ds.labelKind, "name");
    assert.deepEqual(ds.classes.slice(0, 3), ["airplane", "automobile", "bird"]);
    await assertSameAsFolder(ds, folderTruth());
    // The first file stores each image's path, the second does not.
    assert.equal(parseRecordName(ds.items[0].path)!.stored, source(ds.items[0]));
    assert.equal(parseRecordName(ds.items[39].path)!.stored, undefined);
    const glob = await loadDataset(join(out, "parquet/plain_text/test-*.parquet"));
    assert.deepEqual(glob.items.map((i) => i.path), ds.items.map((i) => i.path));
    const list = await loadDataset([
      join(out, "parquet/plain_text/test-00000-of-00002.parquet"),
      join(out, "parquet/plain_text/test-00001-of-00002.parquet"),
    ]);
    assert.deepEqual(list.items.map((i) => i.label), ds.items.map((i) => i.label));
  },
);

fixtureTest("parquet: ZSTD and GZIP pages read the same images", async () => {
  const truth = folderTruth();
  for (const codec of ["zstd", "gzip"]) {
    const ds = await loadDataset(join(out, `parquet-${codec}`, "test.parquet"));
    const ref = await loadDataset(join(out, "parquet"), { split: "test" });
    assert.deepEqual(ds.items.map((i) => i.label), ref.items.map((i) => i.label));
    for (const [i, it] of ds.items.entries()) {
      const a = await readItemImage(it), b = await readItemImage(ref.items[i]);
      assert.ok(a.data.every((v, j) => v === b.data[j]), `${codec} row ${i}`);
    }
    assert.equal(ds.items.length, truth.size);
  }
});

fixtureTest("parquet: rows in order decode each row group once, one held at a time", async () => {
  const ds = await loadDataset(join(out, "parquet"), { split: "test" });
  const reader = new ParquetRowReader();
  let most = 0;
  for (const it of ds.items) {
    await reader.cell(it.parquet!);
    most = Math.max(most, reader.rowsHeld);
  }
  // 2 files of 20 rows in groups of 6: 4 row groups each.
  assert.equal(reader.groupsRead, 8);
  assert.equal(most, 6);
});

fixtureTest("parquet: a row that does not decode is skipped and listed as FILE#ROW", async () => {
  const ds = await loadDataset(join(out, "parquet-broken", "test.parquet"));
  const failed: string[] = [];
  let ok = 0;
  for await (
    const b of loadBatches(ds.items, {
      preprocess: preprocessConfigFromModelDir(fixture("models/resnet-cifar10/resnet20")),
      batchSize: 3,
      workers: 0,
    })
  ) {
    ok += b.items.length;
    failed.push(...b.failed.map((f) => `${f.path}: ${f.reason}`));
  }
  assert.equal(ok, 3);
  assert.equal(failed.length, 1);
  assert.match(failed[0], /parquet-broken\/test\.parquet#2: not an image/);
});

fixtureTest(
  "webdataset: cls / json / txt labels over GNU, pax and ustar shards = the ImageFolder",
  async () => {
    const truth = folderTruth();
    const cls = await loadDataset(join(out, "wds-cls", "shard-{000000..000002}.tar"));
    assert.equal(cls.labelKind, "index");
    await assertSameAsFolder(cls, truth);
    assert.deepEqual(cls.skipped!.map((s) => s.path.split("#")[1]), ["nolabel", "noimage"]);
    // GNU long names (over 100 characters) come back whole.
    assert.ok(listTar(join(out, "wds-cls", "shard-000000.tar"))[0].name.length > 100);
    const json = await loadDataset(join(out, "wds-json", "*.tar"), { labelField: "name" });
    assert.equal(json.labelKind, "name");
    await assertSameAsFolder(json, truth);
    const byIndex = await loadDataset(join(out, "wds-json", "*.tar"), { labelField: "y" });
    assert.deepEqual(byIndex.items.map((i) => i.label), cls.items.map((i) => i.label));
    await assert.rejects(
      () => loadDataset(join(out, "wds-json", "*.tar")),
      (e: Error) => /no field "label".*--label-field/.test(e.message),
    );
    const txt = await loadDataset(join(out, "wds-txt", "shard-000000.tar"));
    await assertSameAsFolder(txt, truth);
    await assert.rejects(
      () => loadDataset(join(out, "wds-cls", "shard-{000000..000004}.tar")),
      (e: Error) => /shard\(s\) not found: .*shard-000003\.tar/.test(e.message),
    );
  },
);

fixtureTest("webdataset: --shard i/n splits by tar file when there are enough files", async () => {
  const ds = await loadDataset(join(out, "wds-cls", "*.tar"));
  const files = (
    r: [number, number],
  ) => [...new Set(ds.items.slice(...r).map((i) => i.slice!.file.slice(-10)))];
  const parts = [0, 1, 2].map((index) => shardRangeByFile(ds.items, { index, count: 3 }));
  assert.deepEqual(parts.map(files), [["000000.tar"], ["000001.tar"], ["000002.tar"]]);
  assert.equal(parts[2][1], ds.items.length);
  // More shards than files: contiguous ranges of items.
  const five = [0, 1, 2, 3, 4].map((index) => shardRangeByFile(ds.items, { index, count: 5 }));
  assert.deepEqual(five.map(([a, b]) => b - a), [8, 8, 8, 8, 8]);
});

fixtureTest(
  "imagenet val: Kaggle, name-label and devkit ground truth = the wnid folders",
  async () => {
    const folder = openDataset(join(out, "imagenet-folder"));
    const truth = new Map(
      folder.items.map((it) => [it.path.split("/").at(-1)!, folder.classes[it.label!]]),
    );
    const index = JSON.parse(Deno.readTextFileSync(fixture("data/imagenet_class_index.json")));
    const gt = (f: string) => join(out, "imagenet-gt", f);
    const val = join(out, "imagenet-val");
    const check = (ds: Dataset) => {
      assert.equal(ds.items.length, truth.size);
      for (const it of ds.items) {
        const wnid = ds.labelKind === "index" ? index[String(it.label)][0] : ds.classes[it.label!];
        assert.equal(wnid, truth.get(it.path.split("/").at(-1)!), it.path);
      }
    };
    check(await loadDataset(val, { labels: gt("LOC_val_solution.csv") }));
    check(await loadDataset(val, { labels: gt("val.txt") }));
    const devkit = await loadDataset(val, {
      labels: gt("ILSVRC2012_validation_ground_truth.txt"),
      synsets: gt("synsets_test_order.txt"),
    });
    check(devkit);
    assert.match(devkit.description, /3 entries of the file have no image here/);
    // Without the id -> wnid table, or with the sorted one, the ids are refused, never used as indices.
    await assert.rejects(
      () => loadDataset(val, { labels: gt("ILSVRC2012_validation_ground_truth.txt") }),
      (e: Error) => /--synsets/.test(e.message),
    );
    await assert.rejects(
      () =>
        loadDataset(val, {
          labels: gt("ILSVRC2012_validation_ground_truth.txt"),
          synsets: gt("synsets_sorted.txt"),
        }),
      (e: Error) => /sorted order/.test(e.message),
    );
  },
);

fixtureTest("ReaL labels: sets, empty sets left out and counted", () => {
  const real = readRealLabels(join(out, "imagenet-gt", "real.json"));
  const preds = real.slice(0, 10).map((set, i) => ({
    path: `/v/ILSVRC2012_val_${String(i + 1).padStart(8, "0")}.JPEG`,
    // Even images: the second class of the set first (a ReaL hit where it exists); odd: a miss.
    top5: i % 2 === 0 && set.length
      ? [set.at(-1)!, 998, 997, 996, 995]
      : [999, 998, 997, 996, set[0] ?? 0],
  }));
  preds.push({ path: "/v/other.JPEG", top5: [1, 2, 3, 4, 5] });
  const r = realLabelAccuracy(preds, real, "real.json");
  const scored = real.slice(0, 10).map((s, i) => ({ s, i })).filter(({ s }) => s.length);
  assert.equal(r.images, scored.length);
  assert.equal(r.excluded_no_label, 10 - scored.length);
  assert.equal(r.excluded_not_in_file, 1);
  assert.equal(r.top1, scored.filter(({ i }) => i % 2 === 0).length / scored.length);
  assert.equal(r.top5, 1);
});

function readPredictions(path: string): Record<string, string>[] {
  const [header, ...rows] = parseCsv(Deno.readTextFileSync(path)).filter((r) => r.length > 1);
  return rows.map((r) => Object.fromEntries(header.map((h, i) => [h, r[i]])));
}

fixtureTest(
  "eval: ResNet-20 on the parquet and WebDataset copies = the ImageFolder run and PyTorch",
  async () => {
    const model = fixture("models/resnet-cifar10/resnet20");
    const run = (data: string, extra = {}) =>
      evaluate({ model, data, progress: false, bootstrap: 0, batch: 16, ...extra });
    const folder = await run(join(out, "cifar-folder"));
    const ref = new Map(
      readPredictions(fixture("reference/resnet-cifar10/predictions_resnet20.csv")).map((p) => [
        p.path,
        Number(p.pred),
      ]),
    );
    const byImage = new Map(
      folder.predictions.map((p) => [relative(join(out, "cifar-folder"), p.path), p]),
    );
    for (const [rel, p] of byImage) assert.equal(p.pred, ref.get(rel), rel);
    for (
      const r of [
        await run(join(out, "parquet"), { split: "test" }),
        await run(join(out, "wds-cls", "shard-{000000..000002}.tar")),
      ]
    ) {
      assert.equal(r.predictions.length, 40);
      for (const p of r.predictions) {
        const rel = source({ path: p.path });
        const f = byImage.get(rel)!;
        assert.equal(p.pred, f.pred, p.path);
        assert.equal(p.label, f.label, p.path);
        assert.ok(Math.abs(p.confidence - f.confidence) < 1e-6, p.path);
      }
      for (const k of ["top1", "balanced_accuracy", "log_loss", "brier", "ece", "mcc"] as const) {
        assert.ok(Math.abs((r.metrics[k] as number) - (folder.metrics[k] as number)) < 1e-9, k);
      }
      assert.deepEqual(r.metrics.confusion_matrix, folder.metrics.confusion_matrix);
    }
  },
);

/** ViT-Ti on the ImageNet val copy labelled by LOC_val_solution.csv (run once, shared). */
let kaggleRun: Promise<EvaluationResult> | undefined;
function vitKaggleRun(): Promise<EvaluationResult> {
  kaggleRun ??= evaluate({
    model: fixture("models/vit-tiny-in1k/timm"),
    progress: false,
    bootstrap: 0,
    batch: 5,
    data: join(out, "imagenet-val"),
    labels: join(out, "imagenet-gt", "LOC_val_solution.csv"),
    realLabels: join(out, "imagenet-gt", "real.json"),
  });
  return kaggleRun;
}

fixtureTest(
  "eval: ViT-Ti on an ImageNet val folder + LOC_val_solution.csv = PyTorch; ReaL beside top-1",
  async () => {
    const r = await vitKaggleRun();
    // The script copied the first 10 sample images (sorted) to ILSVRC2012_val_00000001...
    const ref = readPredictions(fixture("reference/vit-tiny-in1k/predictions.csv"))
      .sort((a, b) => (a.filename < b.filename ? -1 : 1)).slice(0, 10);
    assert.equal(r.predictions.length, 10);
    r.predictions.forEach((p, i) => {
      assert.equal(p.pred, Number(ref[i].pred), `${p.path} vs ${ref[i].filename}`);
      assert.equal(p.label, Number(ref[i].label), `${p.path} vs ${ref[i].filename}`);
    });
    assert.equal(r.metrics.top1, ref.filter((e) => e.pred === e.label).length / 10);
    // ReaL top-1 by hand: images whose set is non-empty, a hit when the top class is in the set.
    const real = readRealLabels(join(out, "imagenet-gt", "real.json"));
    const sets = r.predictions.map((p) => real[Number(/val_(\d{8})/.exec(p.path)![1]) - 1]);
    const scored = sets.filter((s) => s.length).length;
    const hits = r.predictions.filter((p, i) => sets[i].includes(p.pred)).length;
    assert.equal(r.metrics.real!.top1, hits / scored);
    assert.equal(r.metrics.real!.images, 8);
    assert.equal(r.metrics.real!.excluded_no_label, 2);
  },
);

fixtureTest(
  "eval CLI: parquet rows named FILE#ROW[:path] in predictions.csv; tar shards merge",
  async () => {
    const model = fixture("models/resnet-cifar10/resnet20");
    const pq = join(out, "cli-parquet");
    const common = ["--model", model, "--bootstrap", "0", "--no-report"];
    const r = await cli([
      "eval",
      ...common,
      "--data",
      join(out, "parquet"),
      "--split",
      "test",
      "--out",
      pq,
    ]);
    assert.equal(r.code, 0, r.err);
    const rows = readPredictions(join(pq, "predictions.csv"));
    const file0 = join(out, "parquet/plain_text/test-00000-of-00002.parquet");
    const file1 = join(out, "parquet/plain_text/test-00001-of-00002.parquet");
    assert.equal(rows[0].path, `${file0}#0:${manifest[`${relative(out, file0)}#0`]}`);
    assert.equal(rows[39].path, `${file1}#19`);
    // Bad split names are a usage problem with the data: exit 1 and the splits listed.
    const bad = await cli(["eval", ...common, "--data", join(out, "parquet"), "--out", pq]);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /several splits \(test, train\)/);

    const shards = join(out, "wds-cls", "shard-{000000..000002}.tar");
    const whole = join(out, "cli-wds");
    assert.equal((await cli(["eval", ...common, "--data", shards, "--out", whole])).code, 0);
    const states: string[] = [];
    for (const i of [0, 1, 2]) {
      const dir = join(out, `cli-wds-${i}`);
      const s = await cli(["eval", ...common, "--data", shards, "--shard", `${i}/3`, "--out", dir]);
      assert.equal(s.code, 0, s.err);
      // Whole tar files per shard: every row of shard i's predictions is from shard-00000i.tar.
      const paths = readPredictions(join(dir, "predictions.csv")).map((p) => p.path);
      assert.ok(paths.every((p) => p.includes(`shard-00000${i}.tar#`)), `shard ${i}`);
      states.push(join(dir, "state.safetensors"));
    }
    const merged = join(out, "cli-wds-merged");
    const m = await cli(["merge", ...states, "--out", merged, "--bootstrap", "0"]);
    assert.equal(m.code, 0, m.err);
    const a = JSON.parse(Deno.readTextFileSync(join(merged, "metrics.json")));
    const b = JSON.parse(Deno.readTextFileSync(join(whole, "metrics.json")));
    for (const k of ["num_samples", "top1", "mcc", "ece"]) {
      assert.ok(Math.abs(a[k] - b[k]) < 1e-9, k);
    }
    assert.deepEqual(a.confusion_matrix, b.confusion_matrix);
  },
);

devkitTest(
  "imagenet val: devkit meta.mat (--devkit, found beside the ground truth, --synsets) = Kaggle",
  async () => {
    const val = join(out, "imagenet-val");
    const gt = (f: string) => join(out, "imagenet-gt", f);
    const mat = (f: string) => join(out, "mat", f);
    const devkitTruth = join(devkit, "data", "ILSVRC2012_validation_ground_truth.txt");
    const kaggle = await loadDataset(val, { labels: gt("LOC_val_solution.csv") });
    const labelled = (ds: Dataset) => ds.items.map((it) => [it.path, ds.classes[it.label!]]);
    const found = await loadDataset(val, { labels: devkitTruth });
    const variants = [
      await loadDataset(val, { devkit }),
      await loadDataset(val, { devkit: join(devkit, "data") }),
      found,
      await loadDataset(val, {
        labels: gt("ILSVRC2012_validation_ground_truth.txt"),
        synsets: mat("meta_uncompressed.mat"),
      }),
    ];
    for (const ds of variants) {
      assert.equal(ds.labelKind, "name");
      assert.deepEqual(labelled(ds), labelled(kaggle));
      assert.match(ds.description, /devkit, ids mapped through meta(_uncompressed)?\.mat/);
    }
    // Found rather than given: the run header says which file mapped the ids.
    assert.deepEqual(found.notes, [
      `ILSVRC2012_IDs of ${devkitTruth} mapped to WordNet ids through ` +
      `${join(devkit, "data", "meta.mat")}, found beside it`,
    ]);
    assert.deepEqual(variants[0].notes, []);

    const refused = (opts: Record<string, string>, pattern: RegExp, data = val) =>
      assert.rejects(
        () => loadDataset(data, opts),
        (e: Error) => e instanceof DataError && pattern.test(e.message),
        JSON.stringify(opts),
      );
    const devkitGt = gt("ILSVRC2012_validation_ground_truth.txt");
    await refused({ devkit, synsets: mat("meta_uncompressed.mat") }, /--devkit or --synsets/);
    await refused({ devkit, labels: gt("LOC_val_solution.csv") }, /names its classes itself/);
    await refused(
      { devkit },
      /--synsets \/ --devkit map the ids/,
      join(out, "wds-cls", "shard-000000.tar"),
    );
    await refused({ labels: devkitGt, synsets: mat("meta_sorted.mat") }, /sorted order/);
    await refused(
      { labels: devkitGt, synsets: mat("wrong_variable.mat") },
      /wrong_variable\.mat holds no variable "synsets"/,
    );
    // A truncated meta.mat found beside the ground truth is refused, not skipped.
    const cut = join(out, "devkit-cut", "data");
    Deno.mkdirSync(cut, { recursive: true });
    Deno.copyFileSync(devkitTruth, join(cut, "ILSVRC2012_validation_ground_truth.txt"));
    const meta = Deno.readFileSync(join(devkit, "data", "meta.mat"));
    Deno.writeFileSync(join(cut, "meta.mat"), meta.slice(0, meta.length >> 1));
    await refused(
      { labels: join(cut, "ILSVRC2012_validation_ground_truth.txt") },
      /devkit-cut\/data\/meta\.mat: .*corrupt or truncated/,
    );
    await refused({ devkit: join(out, "devkit-cut") }, /corrupt or truncated/);
  },
);

devkitTest(
  "eval CLI: ViT-Ti, devkit ground truth + meta.mat beside it = the Kaggle run; header says so",
  async () => {
    const dir = join(out, "cli-devkit");
    const truth = join(devkit, "data", "ILSVRC2012_validation_ground_truth.txt");
    const r = await cli([
      "eval",
      "--model",
      fixture("models/vit-tiny-in1k/timm"),
      "--data",
      join(out, "imagenet-val"),
      "--labels",
      truth,
      "--batch",
      "5",
      "--bootstrap",
      "0",
      "--no-report",
      "--out",
      dir,
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(
      r.err,
      /visioneval: data: ILSVRC2012_IDs of .* mapped .*meta\.mat, found beside it/,
    );
    assert.match(r.out, /data .*\(devkit, ids mapped through meta\.mat\): 10 images/);
    const k = await vitKaggleRun();
    const rows = readPredictions(join(dir, "predictions.csv"));
    assert.deepEqual(
      rows.map((p) => [p.path, Number(p.label), Number(p.pred)]),
      k.predictions.map((p) => [p.path, p.label, p.pred]),
    );
    rows.forEach((p, i) =>
      assert.ok(Math.abs(Number(p.confidence) - k.predictions[i].confidence) < 1e-6)
    );
    const m = JSON.parse(Deno.readTextFileSync(join(dir, "metrics.json")));
    for (const key of ["num_samples", "top1", "top5", "log_loss", "brier", "ece", "mcc"] as const) {
      assert.ok(Math.abs(m[key] - (k.metrics[key] as number)) < 1e-9, key);
    }
    assert.deepEqual(m.confusion_matrix, k.metrics.confusion_matrix);
  },
);

devkitTest(
  "embed CLI: --devkit labels an ImageNet val folder (dataset flags shared with eval)",
  async () => {
    const dir = join(out, "embed-devkit");
    const r = await cli([
      "embed",
      "--model",
      fixture("models/resnet-cifar10/resnet20"),
      "--data",
      join(out, "imagenet-val"),
      "--devkit",
      devkit,
      "--workers",
      "0",
      "--out",
      dir,
    ]);
    assert.equal(r.code, 0, r.err);
    // A CIFAR model has no ImageNet classes: points are colored by the devkit's wnids.
    assert.match(r.err, /coloring by dataset label/);
    const folder = openDataset(join(out, "imagenet-folder"));
    const truth = new Map(
      folder.items.map((it) => [it.path.split("/").at(-1)!, folder.classes[it.label!]]),
    );
    const rows = readPredictions(join(dir, "embedding_pca.csv"));
    assert.equal(rows.length, 10);
    for (const p of rows) assert.equal(p.label_name, truth.get(p.path.split("/").at(-1)!), p.path);
    const usage = await cli([
      "embed",
      "--model",
      "m",
      "--data",
      "d",
      "--devkit",
      devkit,
      "--synsets",
      "s",
    ]);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /--devkit or --synsets, not both/);
  },
);

Deno.test("dataset flags: eval, embed and compare parse and document one table", async () => {
  const { DATA_HELP } = await import("../src/cli/options.ts");
  for (const cmd of ["eval", "embed", "compare"]) {
    const { HELP } = await import(`../src/cli/${cmd}.ts`);
    assert.ok(HELP.includes(DATA_HELP), `${cmd} help lists the dataset options`);
    const both = await cli([
      cmd,
      "--model",
      "a",
      "--model",
      "b",
      "--data",
      "d",
      "--devkit",
      "k",
      "--synsets",
      "s",
    ]);
    assert.equal(both.code, 2, `${cmd}: ${both.err}`);
    assert.match(both.err, /--devkit or --synsets, not both/);
  }
  // Run folders are compared without reading data: dataset flags are refused there.
  const runs = await cli(["compare", "runA", "runB", "--split", "test", "--label-field", "y"]);
  assert.equal(runs.code, 2);
  assert.match(runs.err, /--split, --label-field go with --model/);
});

/** A parquet file of an `image` Image feature and one more column, with `datasets` metadata. */
function hfParquet(
  file: string,
  images: { bytes: Uint8Array | null; path: string | null }[],
  other: { name: string; type: "INT64" | "UTF8"; data: unknown[]; feature: unknown },
) {
  const w = new ByteWriter();
  const features = { image: { _type: "Image" }, [other.name]: other.feature };
  parquetWrite({
    writer: w,
    schema: [
      { name: "schema", num_children: 2 },
      { name: "image", repetition_type: "OPTIONAL", num_children: 2 },
      { name: "bytes", type: "BYTE_ARRAY", repetition_type: "OPTIONAL" },
      { name: "path", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
      other.type === "INT64" ? { name: other.name, type: "INT64", repetition_type: "OPTIONAL" } : {
        name: other.name,
        type: "BYTE_ARRAY",
        converted_type: "UTF8",
        repetition_type: "OPTIONAL",
      },
    ],
    columnData: [{ name: "image", data: images }, { name: other.name, data: other.data }],
    kvMetadata: [{ key: "huggingface", value: JSON.stringify({ info: { features } }) }],
  });
  Deno.writeFileSync(file, new Uint8Array(w.getBuffer()));
}

fixtureTest(
  "parquet: an Image feature that stores only a path reads the file beside the parquet file",
  async () => {
    const dir = await Deno.makeTempDir({ dir: out });
    const rels = ["cat/0000.jpg", "ship/0001.jpg"];
    Deno.mkdirSync(join(dir, "imgs"));
    rels.forEach((r, i) =>
      Deno.copyFileSync(fixture("data", "cifar10-test", r), join(dir, "imgs", `${i}.jpg`))
    );
    hfParquet(join(dir, "test.parquet"), [
      { bytes: null, path: "imgs/0.jpg" },
      { bytes: null, path: "imgs/1.jpg" },
      { bytes: null, path: "imgs/missing.jpg" },
    ], {
      name: "label",
      type: "INT64",
      data: [3n, 8n, 1n],
      feature: { names: [...CIFAR10_CLASSES], _type: "ClassLabel" },
    });
    const ds = await loadDataset(join(dir, "test.parquet"));
    assert.deepEqual(ds.items.map((it) => ds.classes[it.label!]), ["cat", "ship", "automobile"]);
    for (const [i, rel] of rels.entries()) {
      const a = await readItemImage(ds.items[i]);
      const b = await readImage(fixture("data", "cifar10-test", rel));
      assert.ok(a.data.every((v, j) => v === b.data[j]), `${rel}: pixels differ`);
    }
    await assert.rejects(
      () => readItemImage(ds.items[2]),
      (e: Error) =>
        /only the path imgs\/missing\.jpg/.test(e.message) &&
        e.message.includes(join(dir, "imgs", "missing.jpg")),
    );
  },
);

fixtureTest(
  "parquet: a string label column is never taken unasked, and eval's refusal names it",
  async () => {
    const dir = await Deno.makeTempDir({ dir: out });
    const bytes = Deno.readFileSync(fixture("data", "cifar10-test", "cat", "0000.jpg"));
    hfParquet(join(dir, "test.parquet"), [{ bytes, path: null }, { bytes, path: null }], {
      name: "label",
      type: "UTF8",
      data: ["Abyssinian", "beagle"],
      feature: { dtype: "string", _type: "Value" },
    });
    const file = join(dir, "test.parquet");
    const unlabelled = await loadDataset(file);
    assert.equal(unlabelled.labelKind, "none");
    assert.match(
      unlabelled.description,
      /string column\(s\) label could hold class names: name one with --label-column/,
    );
    await assert.rejects(
      () =>
        evaluate({
          model: fixture("models", "resnet-cifar10", "resnet20"),
          data: file,
          progress: false,
        }),
      (e: Error) => e instanceof DataError && /--label-column/.test(e.message),
    );
    const named = await loadDataset(file, { labelColumn: "label" });
    assert.deepEqual(named.items.map((it) => named.classes[it.label!]), ["Abyssinian", "beagle"]);
  },
);

/** A tar shard of the given members (name -> bytes), written by GNU tar. */
function shard(file: string, members: Record<string, Uint8Array | string>) {
  const stage = Deno.makeTempDirSync({ dir: out });
  for (const [name, v] of Object.entries(members)) {
    if (typeof v === "string") Deno.writeTextFileSync(join(stage, name), v);
    else Deno.writeFileSync(join(stage, name), v);
  }
  const r = new Deno.Command("tar", { args: ["-cf", file, "-C", stage, ...Object.keys(members)] })
    .outputSync();
  assert.ok(r.success, new TextDecoder().decode(r.stderr));
}

fixtureTest(
  "webdataset: --label-field reaches nested json; dotted member names are explained",
  async () => {
    const jpg = Deno.readFileSync(fixture("data", "cifar10-test", "cat", "0000.jpg"));
    const nested = join(out, "nested.tar");
    shard(nested, {
      "y1.jpg": jpg,
      "y1.json": '{"annotation": {"label": 3}}',
      "y2.jpg": jpg,
      "y2.json": '{"annotation.label": 5, "annotation": {"label": 1}}',
    });
    const ds = await loadDataset(nested, { labelField: "annotation.label" });
    assert.deepEqual(ds.items.map((it) => it.label), [3, 5], "a key with a dot wins over the path");
    const dotted = join(out, "dotted.tar");
    shard(dotted, { "a.b.c.jpg": jpg, "a.b.c.cls": "3\n", "a.b.d.jpg": jpg, "a.b.d.cls": "5\n" });
    await assert.rejects(
      () => loadDataset(dotted),
      (e: Error) =>
        e instanceof DataError &&
        e.message.includes(`a.b.c.jpg is key "a", extension "b.c.jpg"`),
    );
  },
);

fixtureTest(
  'parquet: ImageNet-1k ClassLabel names (two "crane"s) map to an HF model by position there',
  async () => {
    const config = JSON.parse(
      Deno.readTextFileSync(fixture("models", "vit-tiny-in1k", "hf", "config.json")),
    );
    const model = modelClassesFromConfig(config);
    const names = Array.from({ length: 1000 }, (_, i) => String(config.id2label[i]));
    assert.deepEqual(
      [names[134], names[517]],
      ["crane", "crane"],
      "the fixture's list repeats crane",
    );
    const bytes = Deno.readFileSync(fixture("data", "cifar10-test", "cat", "0000.jpg"));
    const file = join(await Deno.makeTempDir({ dir: out }), "validation.parquet");
    const rows = [0, 134, 517, 639];
    hfParquet(file, rows.map(() => ({ bytes, path: null })), {
      name: "label",
      type: "INT64",
      data: rows.map(BigInt),
      feature: { names, _type: "ClassLabel" },
    });
    const mapping = mapLabels(await loadDataset(file), model);
    assert.deepEqual(rows.map((r) => mapping.datasetToModel[r]), rows);
    assert.equal(mapping.warnings.filter((w) => w.includes(`"crane"`)).length, 2);
    // One "crane" in the dataset's list (a folder of that name) stays ambiguous: no position to go by.
    const folder = { ...(await loadDataset(file)), classes: ["crane", "tench, Tinca tinca"] };
    assert.throws(() => mapLabels(folder, model), /matches several model classes/);
  },
);

fixtureTest("webdataset: a key repeated in a shard is skipped and listed, not merged", async () => {
  const img = (r: string) => Deno.readFileSync(fixture("data", "cifar10-test", r));
  const dup = join(out, "dup.tar");
  shard(dup, {
    "a.jpg": img("cat/0000.jpg"),
    "a.cls": "3",
    "b.jpg": img("dog/0001.jpg"),
    "b.cls": "5",
  });
  const stage = Deno.makeTempDirSync({ dir: out });
  Deno.writeFileSync(join(stage, "a.jpg"), img("ship/0002.jpg"));
  const r = new Deno.Command("tar", { args: ["-rf", dup, "-C", stage, "a.jpg"] }).outputSync();
  assert.ok(r.success);
  const ds = await loadDataset(dup);
  assert.deepEqual(ds.items.map((it) => [parseRecordName(it.path)!.record, it.label]), [["b", 5]]);
  const skipped = ds.skipped ?? [];
  assert.deepEqual(skipped.map((s) => parseRecordName(s.path)!.record), ["a"]);
  assert.match(skipped[0].reason, /holds a\.jpg more than once/);
});
