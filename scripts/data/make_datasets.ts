/**
 * Writes the test datasets of the parquet / WebDataset / ImageNet-validation
 * readers from the fixture images, each beside an ImageFolder of the very
 * same image files (the reference they must agree with):
 *
 *   cifar-folder/<class>/<n>.jpg        40 CIFAR-10 JPEGs (4 per class)
 *   parquet/plain_text/test-0000{0,1}-of-00002.parquet
 *                                        the 40 images in a shuffled order, Hugging Face
 *                                        `datasets` layout: `img` Image struct (bytes, path;
 *                                        path only in the first file), `label` ClassLabel
 *                                        (names in the `huggingface` metadata), Snappy pages,
 *                                        row groups of 6 rows
 *   parquet/plain_text/train-00000-of-00001.parquet   4 rows (a second split)
 *   parquet-zstd/test.parquet, parquet-gzip/test.parquet   the same rows, ZSTD / GZIP
 *   parquet-broken/test.parquet        4 rows, row 2 not an image
 *   wds-cls/shard-00000{0..2}.tar       WebDataset, `cls` labels, GNU tar (long keys in
 *                                        shard 0), plus a sample with no image and one with
 *                                        no label
 *   wds-json/shard-000000.tar          `json` labels ({"name": class, "y": index}), pax tar
 *   wds-txt/shard-000000.tar           `txt` labels (class names), ustar
 *   imagenet-folder/<wnid>/ILSVRC2012_val_0000000N.JPEG   10 ImageNet JPEGs
 *   imagenet-val/ILSVRC2012_val_0000000N.JPEG             the same, flat
 *   imagenet-gt/LOC_val_solution.csv, val.txt, ILSVRC2012_validation_ground_truth.txt,
 *     synsets_test_order.txt (a fixed permutation of the 1000 wnids standing in for
 *     meta.mat's ILSVRC2012_ID order), synsets_sorted.txt, real.json
 *   mat/                               MAT files written by scipy.io.savemat
 *                                        (scripts/data/make_meta_mat.py, with that permutation
 *                                        as the leaves' ILSVRC2012_ID order), among them
 *                                        ILSVRC2012_devkit_t12/data/meta.mat beside a copy of the
 *                                        ground truth; absent when python3 cannot import scipy
 *   manifest.json                      for each record name, the source image (relative)
 *
 * Parquet is written with hyparquet-writer, tar files with GNU tar.
 *
 * With `--big-mb N`, instead writes big.parquet: ImageNet JPEGs repeated to N
 * MB in row groups of 100 rows (the `datasets` default for images), written
 * one row group at a time (for the memory measurement in bench/RESULTS.md).
 *
 * Usage: deno run -A scripts/data/make_datasets.ts OUT_DIR [--big-mb N]
 */
import { basename, join } from "node:path";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { ByteWriter, fileWriter, parquetWrite, ParquetWriter } from "hyparquet-writer";
import { CIFAR10_CLASSES } from "../../src/data/datasets.ts";

export const FIXTURES: string = Deno.env.get("VISIONEVAL_FIXTURES") ??
  new URL("../../../shared/fixtures", import.meta.url).pathname;
const CIFAR = join(FIXTURES, "data", "cifar10-test");
export const IMAGENET: string = join(FIXTURES, "data", "imagenet-sample");
const CLASSES = [...CIFAR10_CLASSES];

/** Parquet schema of the `datasets` Image + ClassLabel layout. */
const SCHEMA = [
  { name: "schema", num_children: 2 },
  { name: "img", repetition_type: "OPTIONAL", num_children: 2 },
  { name: "bytes", type: "BYTE_ARRAY", repetition_type: "OPTIONAL" },
  { name: "path", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
  { name: "label", type: "INT64", repetition_type: "OPTIONAL" },
] as const;

function hfMetadata(names: string[]) {
  const features = {
    img: { _type: "Image" },
    label: { names, _type: "ClassLabel" },
  };
  return [{ key: "huggingface", value: JSON.stringify({ info: { features } }) }];
}

/** One row of the `datasets` Image + ClassLabel layout. */
export interface Row {
  bytes: Uint8Array;
  path: string | null;
  label: number;
}

/** A parquet file of `rows` in the `datasets` layout (hyparquet-writer). */
export function parquetBytes(
  rows: Row[],
  codec: "SNAPPY" | "ZSTD" | "GZIP" = "SNAPPY",
  rowGroupSize = 6,
  names: string[] = CLASSES,
): Uint8Array {
  const writer = new ByteWriter();
  parquetWrite({
    writer,
    // deno-lint-ignore no-explicit-any
    schema: SCHEMA as any,
    columnData: [
      { name: "img", data: rows.map((r) => ({ bytes: r.bytes, path: r.path })) },
      { name: "label", data: rows.map((r) => BigInt(r.label)) },
    ],
    codec,
    compressors: {
      ZSTD: (b: Uint8Array) => zstdCompressSync(b),
      GZIP: (b: Uint8Array) => gzipSync(b),
    },
    rowGroupSize,
    kvMetadata: hfMetadata(names),
  });
  return new Uint8Array(writer.getBuffer());
}

function tar(out: string, dir: string, members: string[], format: "gnu" | "pax" | "ustar") {
  const r = new Deno.Command("tar", {
    args: [`--format=${format}`, "-cf", out, "-C", dir, "--no-recursion", ...members],
  }).outputSync();
  if (!r.success) throw new Error(`tar failed: ${new TextDecoder().decode(r.stderr)}`);
}

/** Writes the small datasets into `out` (see the module comment); returns the manifest. */
export function makeDatasets(out: string): Record<string, string> {
  const manifest: Record<string, string> = {};
  Deno.mkdirSync(out, { recursive: true });
  // 4 images per class, in a shuffled (class-interleaved) order as CIFAR's test set is.
  const images: { rel: string; label: number }[] = [];
  for (let j = 0; j < 4; j++) {
    for (let c = 0; c < 10; c++) {
      images.push({ rel: `${CLASSES[c]}/${String(j).padStart(4, "0")}.jpg`, label: c });
    }
  }
  const bytes = (rel: string) => Deno.readFileSync(join(CIFAR, rel));
  for (const im of images) {
    Deno.mkdirSync(join(out, "cifar-folder", CLASSES[im.label]), { recursive: true });
    Deno.writeFileSync(join(out, "cifar-folder", im.rel), bytes(im.rel));
  }

  // Parquet: two test files (stored paths in the first only) and a train file.
  const pq = join(out, "parquet", "plain_text");
  Deno.mkdirSync(pq, { recursive: true });
  const halves = [images.slice(0, 20), images.slice(20)];
  halves.forEach((half, f) => {
    const name = join(pq, `test-0000${f}-of-00002.parquet`);
    const rows = half.map((im) => ({
      bytes: bytes(im.rel),
      path: f === 0 ? im.rel : null,
      label: im.label,
    }));
    Deno.writeFileSync(name, parquetBytes(rows));
    half.forEach((im, row) => (manifest[`parquet/plain_text/${basename(name)}#${row}`] = im.rel));
  });
  const train = images.slice(0, 4).map((im) => ({
    bytes: bytes(im.rel),
    path: im.rel,
    label: im.label,
  }));
  Deno.writeFileSync(join(pq, "train-00000-of-00001.parquet"), parquetBytes(train));
  for (const codec of ["ZSTD", "GZIP"] as const) {
    const dir = join(out, `parquet-${codec.toLowerCase()}`);
    Deno.mkdirSync(dir, { recursive: true });
    const rows = images.map((im) => ({ bytes: bytes(im.rel), path: null, label: im.label }));
    Deno.writeFileSync(join(dir, "test.parquet"), parquetBytes(rows, codec));
  }
  const broken = images.slice(0, 4).map((im, i) => ({
    bytes: i === 2 ? new TextEncoder().encode("not an image") : bytes(im.rel),
    path: null,
    label: im.label,
  }));
  Deno.mkdirSync(join(out, "parquet-broken"), { recursive: true });
  Deno.writeFileSync(join(out, "parquet-broken", "test.parquet"), parquetBytes(broken));

  // WebDataset: cls labels over 3 GNU-tar shards (long keys in shard 0), json (pax), txt (ustar).
  const stage = Deno.makeTempDirSync({ prefix: "wds-stage-" });
  const wds = (
    kind: "cls" | "json" | "txt",
    shards: number,
    format: "gnu" | "pax" | "ustar",
  ) => {
    const dir = join(out, `wds-${kind}`);
    Deno.mkdirSync(dir, { recursive: true });
    const per = Math.ceil(images.length / shards);
    for (let s = 0; s < shards; s++) {
      const members: string[] = [];
      const part = images.slice(s * per, (s + 1) * per);
      part.forEach((im, i) => {
        const deep = kind !== "txt" && s === 0 ? "deep/".repeat(25) : "";
        const key = `${deep}sample${String(s * per + i).padStart(6, "0")}`;
        Deno.mkdirSync(join(stage, key, ".."), { recursive: true });
        Deno.writeFileSync(join(stage, `${key}.jpg`), bytes(im.rel));
        const label = kind === "cls"
          ? String(im.label)
          : kind === "json"
          ? JSON.stringify({ name: CLASSES[im.label], y: im.label })
          : CLASSES[im.label];
        Deno.writeTextFileSync(join(stage, `${key}.${kind}`), label);
        members.push(`${key}.${kind}`, `${key}.jpg`);
        manifest[`wds-${kind}/shard-${String(s).padStart(6, "0")}.tar#${key}`] = im.rel;
      });
      if (kind === "cls" && s === shards - 1) {
        // A sample without an image and one without a label: skipped and listed.
        Deno.writeFileSync(join(stage, "nolabel.jpg"), bytes(images[0].rel));
        Deno.writeTextFileSync(join(stage, "noimage.cls"), "3");
        members.push("nolabel.jpg", "noimage.cls");
      }
      tar(join(dir, `shard-${String(s).padStart(6, "0")}.tar`), stage, members, format);
    }
  };
  wds("cls", 3, "gnu");
  wds("json", 1, "pax");
  wds("txt", 1, "ustar");
  Deno.removeSync(stage, { recursive: true });

  // ImageNet validation style: 10 images named ILSVRC2012_val_0000000N.JPEG.
  const index = JSON.parse(
    Deno.readTextFileSync(join(FIXTURES, "data", "imagenet_class_index.json")),
  );
  const wnids: string[] = Array.from({ length: 1000 }, (_, i) => index[String(i)][0]);
  const sources = [...Deno.readDirSync(IMAGENET)].map((e) => e.name).filter((n) =>
    n.endsWith(".JPEG")
  )
    .sort().slice(0, 10);
  const val = join(out, "imagenet-val"), gt = join(out, "imagenet-gt");
  Deno.mkdirSync(val, { recursive: true });
  Deno.mkdirSync(gt, { recursive: true });
  // A fixed permutation standing in for meta.mat's ILSVRC2012_ID order (337 is prime to 1000).
  const idOrder = Array.from({ length: 1000 }, (_, k) => wnids[((k + 1) * 337) % 1000]);
  const ilsvrcId = new Map(idOrder.map((w, k) => [w, k + 1]));
  const kaggle = ["ImageId,PredictionString"], valTxt: string[] = [], devkit: string[] = [];
  const real: number[][] = [];
  sources.forEach((src, i) => {
    const wnid = src.split("_")[0];
    const cls = wnids.indexOf(wnid);
    const name = `ILSVRC2012_val_${String(i + 1).padStart(8, "0")}`;
    const b = Deno.readFileSync(join(IMAGENET, src));
    Deno.writeFileSync(join(val, `${name}.JPEG`), b);
    Deno.mkdirSync(join(out, "imagenet-folder", wnid), { recursive: true });
    Deno.writeFileSync(join(out, "imagenet-folder", wnid, `${name}.JPEG`), b);
    kaggle.push(`${name},${wnid} 10 20 200 220 ${wnid} 5 5 50 50 `);
    valTxt.push(`${name}.JPEG ${cls}`);
    devkit.push(String(ilsvrcId.get(wnid)));
    // ReaL sets: some empty (left out), some with a second accepted class.
    real.push(i % 4 === 3 ? [] : i % 3 === 0 ? [cls, (cls + 2) % 1000] : [cls]);
  });
  // Entries for images not copied here (a partial validation set).
  for (let i = 11; i <= 13; i++) {
    const name = `ILSVRC2012_val_${String(i).padStart(8, "0")}`;
    kaggle.push(`${name},${wnids[i]} 1 1 9 9`);
    devkit.push(String(ilsvrcId.get(wnids[i])));
    real.push([i]);
  }
  Deno.writeTextFileSync(join(gt, "LOC_val_solution.csv"), kaggle.join("\n") + "\n");
  Deno.writeTextFileSync(join(gt, "val.txt"), valTxt.join("\n") + "\n");
  Deno.writeTextFileSync(
    join(gt, "ILSVRC2012_validation_ground_truth.txt"),
    devkit.join("\n") + "\n",
  );
  Deno.writeTextFileSync(join(gt, "synsets_test_order.txt"), idOrder.join("\n") + "\n");
  if (makeMetaMats(join(out, "mat"), join(gt, "synsets_test_order.txt"))) {
    Deno.copyFileSync(
      join(gt, "ILSVRC2012_validation_ground_truth.txt"),
      join(out, "mat", "ILSVRC2012_devkit_t12", "data", "ILSVRC2012_validation_ground_truth.txt"),
    );
  }
  Deno.writeTextFileSync(join(gt, "synsets_sorted.txt"), wnids.join("\n") + "\n");
  Deno.writeTextFileSync(join(gt, "real.json"), JSON.stringify(real));
  Deno.writeTextFileSync(join(out, "manifest.json"), JSON.stringify(manifest, null, 1));
  return manifest;
}

/** The Python with scipy ($VISIONEVAL_PYTHON or Debian's). */
const PYTHON = Deno.env.get("VISIONEVAL_PYTHON") ?? "/usr/bin/python3";

/**
 * Writes the MAT files of scripts/data/make_meta_mat.py into `out` (leaf
 * synsets in the order of `leafOrder`); false, writing nothing, when Python
 * cannot import scipy.
 */
export function makeMetaMats(out: string, leafOrder: string): boolean {
  try {
    const probe = new Deno.Command(PYTHON, { args: ["-c", "import scipy.io"], stderr: "null" });
    if (!probe.outputSync().success) return false;
  } catch {
    return false;
  }
  const script = new URL("make_meta_mat.py", import.meta.url).pathname;
  const r = new Deno.Command(PYTHON, { args: [script, out, leafOrder] }).outputSync();
  if (!r.success) throw new Error(`${script} failed: ${new TextDecoder().decode(r.stderr)}`);
  return true;
}

/**
 * Writes `big.parquet` of at least `mb` megabytes: the ImageNet sample JPEGs
 * repeated, 100 rows per row group, one row group in memory at a time. Row n
 * has label n mod `names.length` (a memory and speed test, not an accuracy one).
 */
export async function makeBigParquet(
  out: string,
  mb: number,
  names: string[] = CLASSES,
): Promise<string> {
  Deno.mkdirSync(out, { recursive: true });
  const file = join(out, "big.parquet");
  const sources = [...Deno.readDirSync(IMAGENET)].map((e) => e.name).filter((n) =>
    n.endsWith(".JPEG")
  ).sort();
  const writer = new ParquetWriter({
    writer: fileWriter(file),
    // deno-lint-ignore no-explicit-any
    schema: SCHEMA as any,
    kvMetadata: hfMetadata(names),
  });
  let written = 0, n = 0;
  while (written < mb * 1e6) {
    const rows: Row[] = [];
    for (let i = 0; i < 100; i++, n++) {
      const src = sources[n % sources.length];
      const b = Deno.readFileSync(join(IMAGENET, src));
      written += b.length;
      rows.push({ bytes: b, path: `${n}_${src}`, label: n % names.length });
    }
    await writer.write({
      columnData: [
        { name: "img", data: rows.map((r) => ({ bytes: r.bytes, path: r.path })) },
        { name: "label", data: rows.map((r) => BigInt(r.label)) },
      ],
      rowGroupSize: 100,
    });
  }
  writer.finish();
  return file;
}

if (import.meta.main) {
  const [out, flag, mb] = Deno.args;
  if (!out) {
    console.error("usage: make_datasets.ts OUT_DIR [--big-mb N]");
    Deno.exit(2);
  }
  if (flag === "--big-mb") {
    const file = await makeBigParquet(out, Number(mb));
    console.log(`wrote ${file} (${(Deno.statSync(file).size / 1e6).toFixed(0)} MB)`);
  } else {
    makeDatasets(out);
    console.log(`wrote the test datasets into ${out}`);
  }
}
