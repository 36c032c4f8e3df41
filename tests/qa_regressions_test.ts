/**
 * Regressions found by running visioneval the way a new user would (models,
 * images and options the other tests do not cover). Each test names the bug
 * it guards against. Data is generated here; nothing needs fixtures.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { writeSyntheticModel } from "../src/demo/synthetic.ts";
import { Engine } from "../src/gpu/engine.ts";
import { folderPipeline, loadModel } from "../src/models/load.ts";
import { findModelFiles, labelsFromConfig } from "../src/models/config.ts";
import { predict } from "../src/predict.ts";
import { openDataset } from "../src/data/datasets.ts";
import { mapLabels, modelClassesFromNames } from "../src/data/labels.ts";
import { decodeImage, gifTransparentColor } from "../src/data/decode.ts";
import { preprocessConfigFromModelDir } from "../src/data/preprocess.ts";
import { DataError, ModelLayoutError, UsageError } from "../src/errors.ts";
import { prepareOutDir, preprocessOverrides } from "../src/cli/options.ts";
import { expandFolder } from "../src/cli/predict.ts";
import { readPredictions } from "../src/metrics/io.ts";
import { vitSpec } from "../src/models/vit/layouts.ts";
import { rng } from "./_helpers.ts";
import { synthTimmViT, timmViTShapes } from "./_vit_synth.ts";
import { encodeWeights, type SynthResNet, synthResNetWeights } from "./resnet_synth.ts";
import {
  SafetensorsFile,
  type SafetensorsTensorData,
  writeSafetensors,
} from "../src/weights/safetensors.ts";

const tmp = await Deno.makeTempDir({ prefix: "visioneval-qa-" });
const synthModel = join(tmp, "model");
await writeSyntheticModel(synthModel);

function randomImage(width: number, height: number, seed: number) {
  const next = rng(seed);
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = Math.floor(next() * 256);
  return { width, height, data };
}

Deno.test("predict: a pipeline without crop runs each image at its own resized size", async () => {
  // Bug: the batch geometry was guessed as [inputSize[0], pixels / inputSize[0]],
  // wrong (or fractional: "param 2 = 121.71 is not a u32") for any image whose
  // resized height is not the model's input height.
  const engine = await Engine.create();
  const model = await loadModel(synthModel, engine);
  const tall = { path: "tall", image: randomImage(30, 90, 1) };
  const wide = { path: "wide", image: randomImage(75, 25, 2) };
  const free = await predict(model, [tall, wide], {
    engine,
    topk: 3,
    preprocess: { size: 20, crop: null },
  });
  // The same resize spelled as exact sizes: 30x90 -> 20x60, 75x25 -> 60x20.
  const tallExact = await predict(model, [tall], {
    engine,
    topk: 3,
    preprocess: { size: [60, 20], crop: null },
  });
  const wideExact = await predict(model, [wide], {
    engine,
    topk: 3,
    preprocess: { size: [20, 60], crop: null },
  });
  assert.deepEqual(free, [...tallExact, ...wideExact]);
  model.dispose();
});

Deno.test("labels CSV: a two-column file's second column is the label whatever its header says", () => {
  // Bug: `filename,class_id` was read as "no labels" and eval refused the dataset.
  const dir = join(tmp, "csv");
  Deno.mkdirSync(dir, { recursive: true });
  for (const f of ["a.png", "b.png"]) Deno.writeFileSync(join(dir, f), new Uint8Array([1]));
  Deno.writeTextFileSync(join(dir, "ids.csv"), "filename,class_id\na.png,4\nb.png,7\n");
  Deno.writeTextFileSync(join(dir, "names.csv"), "Image,ground_truth\na.png,cat\nb.png,dog\n");
  Deno.writeTextFileSync(join(dir, "wnid.csv"), "path,wnid,split\na.png,n1,val\nb.png,n2,val\n");
  const ids = openDataset(join(dir, "ids.csv"));
  assert.equal(ids.labelKind, "index");
  assert.deepEqual(ids.items.map((i) => i.label), [4, 7]);
  const names = openDataset(join(dir, "names.csv"));
  assert.equal(names.labelKind, "name");
  assert.deepEqual(names.items.map((i) => names.classes[i.label!]), ["cat", "dog"]);
  Deno.writeTextFileSync(join(dir, "floats.csv"), "path,label\na.png,4.0\nb.png,7.\n");
  assert.deepEqual(openDataset(join(dir, "floats.csv")).items.map((i) => i.label), [4, 7]);
  const wnid = openDataset(join(dir, "wnid.csv"));
  assert.deepEqual(wnid.items.map((i) => wnid.classes[i.label!]), ["n1", "n2"]);
});

Deno.test("decode: a CMYK JPEG decodes to Pillow's RGB within 1 level", async () => {
  // A 12x8 gradient saved by Pillow 9.4 as a CMYK JPEG (Adobe marker, 4 components),
  // and Pillow's Image.open(...).convert("RGB") of that file.
  const jpeg =
    "/9j/7gAOQWRvYmUAZAAAAAAA/9sAQwACAQEBAQECAQEBAgICAgIEAwICAgIFBAQDBAYFBgYGBQYGBgcJCAYHCQcGBggL" +
    "CAkKCgoKCgYICwwLCgwJCgoK/8AAFAgACAAMBEMRAE0RAFkRAEsRAP/EAB8AAAEFAQEBAQEBAAAAAAAAAAABAgMEBQYH" +
    "CAkKC//EALUQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBka" +
    "JSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeo" +
    "qaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+v/aAA4EQwBNAFkASwAAPwD4/wD+" +
    "CSX/ADDP+AV5v/xDuf8AUjf+S3/1q+nv2tv+CiP/AB9f8T31/wCWlfv5X9Dn7Nv/ACSbT/x/kKP+Idz/AKkb/wAlv/rV" +
    "+ePxJ/4KI/8AFW3H/E9/8ie5or//2Q==";
  const pillowRgb =
    "CgX/HgX1MgXqRQXhWwXXbgXNggXDlgW5qgWvvQWk0wWb5gWRCiPwHiPnMiPcRSPSWyPIbiO/giO0liOqqiOhvSOW0yON" +
    "5iOCCkHgHkHXMkHMRUHCW0G5bkGvgkGklkGbqkGRvUGG00F95kFyCl/SHl/JMl++RV+0W1+qbl+hgl+Wll+Mql+DvV94" +
    "019v5l9kCn3DHn25Mn2uRX2lW32bbn2Rgn2Gln19qn1zvX1o031f5n1UCpy0HpyrMpygRZyWW5yNbpyDgpx4lpxvqpxl" +
    "vZxa05xR5pxGCrmlHrmbMrmQRbmHW7l9brlzgrlolrlfqrlVvblK07lB5rk2CteWHteMMteCRdd4W9dubtdlgtdaltdQ" +
    "qtdHvdc709cz5tco";
  const bytes = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const img = await decodeImage(bytes(jpeg), "cmyk.jpg");
  assert.deepEqual([img.width, img.height], [12, 8]);
  const ref = bytes(pillowRgb);
  assert.equal(img.data.length, ref.length);
  const maxDiff = img.data.reduce((m, v, i) => Math.max(m, Math.abs(v - ref[i])), 0);
  assert.ok(maxDiff <= 1, `max |diff| ${maxDiff} levels`);
  // A damaged CMYK file is still a decode error naming the file.
  const broken = bytes(jpeg).slice(0, 300);
  await assert.rejects(
    () => decodeImage(broken, "cmyk-broken.jpg"),
    (e: Error) => e instanceof DataError && /cmyk-broken\.jpg/.test(e.message),
  );
});

Deno.test("ResNet without config: the key layout picks the pipeline (torchvision preset, CIFAR 32x32)", async () => {
  // Bug: every config-less checkpoint was squashed to 224x224, CIFAR ResNets
  // (trained on 32x32) included, instead of torchvision's resize-256/crop-224.
  const engine = await Engine.create();
  const shapes: Record<string, SynthResNet> = {
    torchvision: {
      layout: "torchvision",
      block: "basic",
      stemChannels: 8,
      stemKernel: 7,
      depths: [1, 1],
      widths: [8, 16],
      numClasses: 5,
    },
    cifar: {
      layout: "cifar",
      block: "basic",
      stemChannels: 16,
      stemKernel: 3,
      depths: [1, 1, 1],
      widths: [16, 32, 64],
      numClasses: 10,
    },
  };
  const got: Record<string, unknown> = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const dir = join(tmp, `noconfig-${name}`);
    Deno.mkdirSync(dir, { recursive: true });
    const { tensors } = encodeWeights(synthResNetWeights(shape, 3), "F32");
    await writeSafetensors(join(dir, "model.safetensors"), tensors);
    const model = await loadModel(dir, engine);
    const p = model.preprocess!;
    got[name] = [p.resizeMode, p.size, p.crop, p.interpolation];
    model.dispose();
  }
  assert.deepEqual(got, {
    torchvision: ["shortest", [256, 256], [224, 224], "bilinear"],
    cifar: ["exact", [32, 32], null, "bilinear"],
  });
});

Deno.test("ViT without config: images go in at the position-embedding grid's resolution", async () => {
  // Bug: a config-less timm ViT (patch 8, grid 6x6 = 48x48) was fed 224x224
  // images, silently resampling its position embeddings to a 28x28 grid.
  const dir = join(tmp, "noconfig-vit");
  Deno.mkdirSync(dir, { recursive: true });
  const size = { D: 64, depth: 1, heads: 1, mlp: 32, classes: 3, patch: 8, grid: 6 };
  await writeSafetensors(join(dir, "model.safetensors"), synthTimmViT(size, 5).tensors);
  const model = await loadModel(dir);
  assert.deepEqual(model.inputSize, [48, 48]);
  assert.deepEqual([model.preprocess!.resizeMode, model.preprocess!.size], ["exact", [48, 48]]);
  assert.deepEqual((await folderPipeline(dir)).size, [48, 48]);
  model.dispose();
});

/** 13x10 test pattern: R = 19x, G = 25y, B = 7xy + 3 (mod 256). */
function tiffPattern(): Uint8Array {
  const out = new Uint8Array(13 * 10 * 3);
  for (let y = 0; y < 10; y++) {
    for (let x = 0; x < 13; x++) {
      out.set([(x * 19) % 256, (y * 25) % 256, (x * y * 7 + 3) % 256], (y * 13 + x) * 3);
    }
  }
  return out;
}

const b64 = (s: string) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

Deno.test("decode: TIFF as Pillow writes it (LZW, LZW + predictor with alpha, PackBits gray)", async () => {
  // Bug: every TIFF failed ("corrupt TIFF (memory access out of bounds)" from imagescript).
  // The files are Pillow's (13x10 pattern); the expected pixels are Pillow's convert("RGB").
  const rgb = tiffPattern();
  const lzw =
    "SUkqALgBAACAAAAAMJwMTQMcwMmQMvwM5QNCwNMQNVwNfQNowNyQMABmCBkFCYMhEchkMEwMh8vhkTHIMi1ChkaJgMjt" +
    "VhkhL4MklohkoOQMlcADKCDIIiYZB8cjIWkwZDsvjIknIZFdCjIypgZHNVjJAr4ZI9ojJOuQZRUlwQlhgTEsWjklkImE" +
    "srl8lmw5EtAoUlpZMEtVqslsBfEtqtElupyEt/gAyQQyB8TGQdjkyFcmGQ5l8yI85GRVoUyMdMGRxqsyP9fGQNtEyDdy" +
    "GQpgA+wQ+iYTH0kjk+mwmH1Hl8+rI5H1qoU+vhMH0Nqs+j5fH0wtE+oRyH1TgBLQRLC0TJYrjlLIEmJZVl9LNU5JZ/oV" +
    "LClMJYpqtLH1fJZTtFLNFyJZ9gAV6CFeGgTFeMocleSwmFeY4vlefA5FeFJCleLRMFeRZVleXhfFedpoleDxyFeJ4AGQ" +
    "ghkB2ExkDmHJkFWJhkHGL5kA2ORkCmQpkEWTBkGGVZkH2XxkBmaJkDWchkFGABwoIcIhBMcJAhycJgCYcJ/i+cIfDkcI" +
    "+kKcJeEwcJ9lWcIdF8cI8micJcHIcJ7oCAAKAAABAwABAAAADQAAAAEBAwABAAAACgAAAAIBAwADAAAANgIAAAMBAwAB" +
    "AAAABQAAAAYBAwABAAAAAgAAABEBBAABAAAACAAAABUBAwABAAAAAwAAABYBAwABAAAACgAAABcBBAABAAAArwEAABwB" +
    "AwABAAAAAQAAAAAAAAAIAAgACAA=";
  const pred =
    "SUkqAM4AAACAAAAAN/hOBACDQKEwiDwuHQ2IQqIwyDhmCQYDwyMxiNR2OR8ARuQx6RxwADKLgAHQyVwaWyqWTGXTKYTO" +
    "bTAAEuUhWGTyDT4AUChT2iT+i0GiAAySkOQymwangCo1OnVWoVapVUAH2UiOGV6DWAAWKyV+zWGz2OzABLSkVQy3wa4g" +
    "C53W4Xe5Xi6XcAK+UjGGYCDYIAYTDYHEYPE4XEABkSkcQzIwbJgDK5fJZnKZrLZkAOGUj+GaKDaQAabUaPVaXV6fVQEM" +
    "AAABAwABAAAADQAAAAEBAwABAAAACgAAAAIBAwAEAAAAZAEAAAMBAwABAAAABQAAAAYBAwABAAAAAgAAABEBBAABAAAA" +
    "CAAAABUBAwABAAAABAAAABYBAwABAAAACgAAABcBBAABAAAAxgAAABwBAwABAAAAAQAAAD0BAwABAAAAAgAAAFIBAwAB" +
    "AAAAAgAAAAAAAAAIAAgACAAIAA==";
  const gray =
    "SUkqAJQAAAAMAAYMERcdIiguMzk/RQwPFRwiKS82PENJUFZdDB4lLDQ7QklRWF9mbnUMLDQ9RU1VXWVtdX2FjQw7RE1W" +
    "X2dweYKLd3+IDEpTXWdweoSNeoSNl6EMWGNteIKNl4SPmaSuuQxncn6JlJ+NmaSvu6m0DHaCjpqmlaGtucW0wMwMhJGe" +
    "q7iotMHOvsvY5AkAAAEDAAEAAAANAAAAAQEDAAEAAAAKAAAAAgEDAAEAAAAIAAAAAwEDAAEAAAAFgAAABgEDAAEAAAAB" +
    "AAAAEQEEAAEAAAAIAAAAFgEDAAEAAAAKAAAAFwEEAAEAAACMAAAAHAEDAAEAAAABAAAAAAAAAA==";
  for (const [name, text] of [["lzw", lzw], ["lzw+predictor rgba", pred]]) {
    const img = await decodeImage(b64(text), name);
    assert.deepEqual([img.width, img.height], [13, 10], name);
    assert.deepEqual(img.data, rgb, name);
  }
  // Pillow's RGB -> L: (19595 R + 38470 G + 7471 B + 0x8000) >> 16.
  const img = await decodeImage(b64(gray), "packbits");
  for (let p = 0; p < 130; p++) {
    const l = (19595 * rgb[3 * p] + 38470 * rgb[3 * p + 1] + 7471 * rgb[3 * p + 2] + 0x8000) >> 16;
    assert.deepEqual([...img.data.subarray(3 * p, 3 * p + 3)], [l, l, l], `pixel ${p}`);
  }
});

Deno.test("decode: big-endian 16-bit Deflate TIFF in two strips keeps the high byte", async () => {
  const [w, h] = [5, 3];
  const raw = new Uint8Array(w * h * 3 * 2);
  const dv = new DataView(raw.buffer);
  for (let i = 0; i < w * h * 3; i++) dv.setUint16(2 * i, i * 4099 + 7, false);
  const deflate = async (b: Uint8Array<ArrayBuffer>) =>
    new Uint8Array(
      await new Response(new Blob([b]).stream().pipeThrough(new CompressionStream("deflate")))
        .arrayBuffer(),
    );
  const rowBytes = w * 6;
  const strips = [
    await deflate(raw.slice(0, 2 * rowBytes)),
    await deflate(raw.slice(2 * rowBytes)),
  ];
  // Header, strips, then the IFD (big-endian "MM").
  const tags: [number, number, number[]][] = [];
  const dataStart = 8;
  const offs = [dataStart, dataStart + strips[0].length];
  const ifdAt = offs[1] + strips[1].length + ((offs[1] + strips[1].length) % 2);
  const bpsAt = ifdAt + 2 + 11 * 12 + 4;
  tags.push([256, 3, [w]], [257, 3, [h]], [258, 3, [16, 16, 16]], [259, 3, [8]], [262, 3, [2]]);
  tags.push([273, 4, offs], [277, 3, [3]], [278, 3, [2]], [279, 4, strips.map((s) => s.length)]);
  tags.push([284, 3, [1]], [339, 3, [1, 1, 1]]);
  const file = new Uint8Array(bpsAt + 64);
  const fv = new DataView(file.buffer);
  file.set([0x4d, 0x4d, 0, 42]);
  fv.setUint32(4, ifdAt);
  file.set(strips[0], offs[0]);
  file.set(strips[1], offs[1]);
  fv.setUint16(ifdAt, tags.length);
  let spill = bpsAt;
  tags.forEach(([tag, type, values], i) => {
    const e = ifdAt + 2 + 12 * i;
    fv.setUint16(e, tag);
    fv.setUint16(e + 2, type);
    fv.setUint32(e + 4, values.length);
    const size = type === 3 ? 2 : 4;
    let at = e + 8;
    if (values.length * size > 4) {
      fv.setUint32(e + 8, spill);
      at = spill;
      spill += values.length * size;
    }
    values.forEach((v, k) =>
      size === 2 ? fv.setUint16(at + 2 * k, v) : fv.setUint32(at + 4 * k, v)
    );
  });
  const img = await decodeImage(file, "be16.tiff");
  assert.deepEqual([img.width, img.height], [w, h]);
  for (let i = 0; i < w * h * 3; i++) {
    assert.equal(img.data[i], (i * 4099 + 7) >> 8 & 255, `sample ${i}`);
  }
});

Deno.test("predict: with `failed`, unreadable images are skipped and listed, the rest predicted", async () => {
  // Bug (UX): one bad file among many aborted `visioneval predict` with no predictions at all.
  const engine = await Engine.create();
  const model = await loadModel(synthModel, engine);
  const dir = join(tmp, "predict-bad");
  Deno.mkdirSync(dir, { recursive: true });
  Deno.writeFileSync(join(dir, "empty.jpg"), new Uint8Array(0));
  Deno.writeTextFileSync(join(dir, "text.png"), "not an image");
  const good = { path: "good", image: randomImage(20, 20, 3) };
  const failed: { path: string; reason: string }[] = [];
  const preds = await predict(model, [join(dir, "empty.jpg"), good, join(dir, "text.png")], {
    engine,
    failed,
  });
  assert.deepEqual(preds.map((p) => p.path), ["good"]);
  assert.deepEqual(failed.map((f) => f.reason), [
    "empty file",
    "not an image (unrecognised file signature)",
  ]);
  // Without `failed` the documented behaviour stays: a DataError naming the file.
  await assert.rejects(
    () => predict(model, [join(dir, "empty.jpg")], { engine }),
    (e: Error) => e instanceof DataError && e.message.includes("empty.jpg"),
  );
  model.dispose();
});

Deno.test("HF ViT layout: pooler weights (ViTModel checkpoints) are ignored, not an error", () => {
  const D = 16, M = 32, C = 3, P = 4, T = 2 * 2 + 1, K = 5;
  const shapes: Record<string, number[]> = {
    "vit.embeddings.cls_token": [1, 1, D],
    "vit.embeddings.position_embeddings": [1, T, D],
    "vit.embeddings.patch_embeddings.projection.weight": [D, C, P, P],
    "vit.embeddings.patch_embeddings.projection.bias": [D],
    "vit.layernorm.weight": [D],
    "vit.layernorm.bias": [D],
    "vit.pooler.dense.weight": [D, D],
    "vit.pooler.dense.bias": [D],
    "classifier.weight": [K, D],
    "classifier.bias": [K],
  };
  const L = "vit.encoder.layer.0.";
  for (const n of ["query", "key", "value"]) {
    shapes[`${L}attention.attention.${n}.weight`] = [D, D];
    shapes[`${L}attention.attention.${n}.bias`] = [D];
  }
  const lin = (name: string, o: number, i: number) => {
    shapes[`${L}${name}.weight`] = [o, i];
    shapes[`${L}${name}.bias`] = [o];
  };
  lin("attention.output.dense", D, D);
  lin("intermediate.dense", M, D);
  lin("output.dense", D, M);
  for (const n of ["layernorm_before", "layernorm_after"]) {
    shapes[`${L}${n}.weight`] = [D];
    shapes[`${L}${n}.bias`] = [D];
  }
  const index = {
    names: () => Object.keys(shapes),
    info: (n: string) => ({ dtype: "F32", shape: shapes[n] }),
  };
  const config = {
    model_type: "vit",
    architectures: ["ViTForImageClassification"],
    image_size: 8,
    patch_size: P,
    hidden_size: D,
    num_attention_heads: 1,
  };
  const spec = vitSpec(index, config, "test");
  assert.equal(spec.numClasses, K);
  assert.deepEqual(spec.grid, [2, 2]);
  // An approximate GELU is refused rather than run as the exact one.
  assert.throws(
    () => vitSpec(index, { ...config, hidden_act: "gelu_new" }, "test"),
    /hidden_act "gelu_new" is not supported/,
  );
});

Deno.test("loadModel: a wrapper prefix on every tensor name is named in the error", async () => {
  const dir = join(tmp, "prefixed");
  Deno.mkdirSync(dir, { recursive: true });
  const shape: SynthResNet = {
    layout: "torchvision",
    block: "basic",
    stemChannels: 8,
    stemKernel: 7,
    depths: [1],
    widths: [8],
    numClasses: 3,
  };
  const { tensors } = encodeWeights(synthResNetWeights(shape, 4), "F32");
  const prefixed = Object.fromEntries(Object.entries(tensors).map(([k, v]) => [`module.${k}`, v]));
  await writeSafetensors(join(dir, "model.safetensors"), prefixed);
  await assert.rejects(
    () => loadModel(dir),
    (e: Error) =>
      e instanceof ModelLayoutError && /starts with "module\." .*removeprefix/.test(e.message),
  );
});

/** A PNG of `rows` (filter byte 0 added) with colour type `colorType`, 8-bit, and extra chunks. */
async function pngBytes(
  width: number,
  height: number,
  colorType: number,
  rows: Uint8Array,
  chunks: [string, Uint8Array][],
): Promise<Uint8Array> {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (b: Uint8Array) => {
    let c = 0xffffffff;
    for (const v of b) c = crcTable[(c ^ v) & 255] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Uint8Array) => {
    const out = new Uint8Array(12 + data.length);
    const dv = new DataView(out.buffer);
    dv.setUint32(0, data.length);
    out.set([...type].map((c) => c.charCodeAt(0)), 4);
    out.set(data, 8);
    dv.setUint32(8 + data.length, crc(out.subarray(4, 8 + data.length)));
    return out;
  };
  const ihdr = new Uint8Array(13);
  new DataView(ihdr.buffer).setUint32(0, width);
  new DataView(ihdr.buffer).setUint32(4, height);
  ihdr.set([8, colorType, 0, 0, 0], 8);
  const stride = rows.length / height;
  const raw = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) {
    raw.set(rows.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  const idat = new Uint8Array(
    await new Response(new Blob([raw]).stream().pipeThrough(new CompressionStream("deflate")))
      .arrayBuffer(),
  );
  const parts = [
    new Uint8Array([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk("IHDR", ihdr),
    ...chunks.map(([t, d]) => chunk(t, d)),
    chunk("IDAT", idat),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("decode: gray and RGB PNGs with a tRNS key keep the key colour, as Pillow's convert('RGB')", async () => {
  // Bug: imagescript blanked the keyed pixels to black.
  const gray = Uint8Array.from({ length: 6 * 4 }, (_, i) => (i * 37) % 256);
  const key = gray[5];
  const g = await decodeImage(
    await pngBytes(6, 4, 0, gray, [["tRNS", new Uint8Array([0, key])]]),
    "gray.png",
  );
  assert.deepEqual([...g.data].filter((_, i) => i % 3 === 0), [...gray]);
  const rgb = Uint8Array.from({ length: 5 * 3 * 3 }, (_, i) => (i * 53 + 7) % 256);
  const [r, gg, b] = rgb.subarray(9, 12);
  const c = await decodeImage(
    await pngBytes(5, 3, 2, rgb, [["tRNS", new Uint8Array([0, r, 0, gg, 0, b])]]),
    "rgb.png",
  );
  assert.deepEqual(c.data, rgb);
});

Deno.test("HF processor with a bare-number size: shorter side for ConvNext (HF ResNets), square for ViT", () => {
  // Bug: microsoft/resnet-50's `{"feature_extractor_type": "ConvNextFeatureExtractor",
  // "size": 224, "crop_pct": 0.875}` was read as a 224x224 squash instead of resize-256/crop-224.
  const write = (name: string, proc: Record<string, unknown>) => {
    const dir = join(tmp, `proc-${name}`);
    Deno.mkdirSync(dir, { recursive: true });
    Deno.writeTextFileSync(join(dir, "preprocessor_config.json"), JSON.stringify(proc));
    const c = preprocessConfigFromModelDir(dir);
    return [c.resizeMode, c.size, c.crop, c.interpolation];
  };
  const imagenet = { image_mean: [0.485, 0.456, 0.406], image_std: [0.229, 0.224, 0.225] };
  assert.deepEqual(
    write("convnext", {
      feature_extractor_type: "ConvNextFeatureExtractor",
      size: 224,
      crop_pct: 0.875,
      resample: 3,
      ...imagenet,
    }),
    ["shortest", [256, 256], [224, 224], "bicubic"],
  );
  assert.deepEqual(
    write("vit", { feature_extractor_type: "ViTFeatureExtractor", size: 224, resample: 2 }),
    ["exact", [224, 224], null, "bilinear"],
  );
  assert.deepEqual(
    write("deit", {
      feature_extractor_type: "DeiTFeatureExtractor",
      size: 256,
      crop_size: 224,
      do_center_crop: true,
      resample: 3,
      ...imagenet,
    }),
    ["exact", [256, 256], [224, 224], "bicubic"],
  );
});

Deno.test("labels: the 1000 ImageNet WordNet-id classes map to a model that names classes in words", () => {
  // Bug: ImageNet val in its standard wnid folders could not be evaluated with a Hugging Face
  // ImageNet model (id2label in words) without --map-by index or a mapping file.
  const wnids = Array.from(
    { length: 1000 },
    (_, i) => `n${String(1440764 + 7919 * i).padStart(8, "0")}`,
  );
  const shuffled = [...wnids].reverse();
  const dataset = {
    kind: "imagefolder" as const,
    root: "val",
    items: shuffled.map((_, l) => ({ path: `${l}.jpg`, label: l })),
    labelKind: "name" as const,
    classes: shuffled,
    description: "",
    warnings: [],
  };
  const model = modelClassesFromNames(
    Array.from({ length: 1000 }, (_, i) => `word ${i}, syn`),
    1000,
  );
  const m = mapLabels(dataset, model);
  for (let l = 0; l < 1000; l++) assert.equal(m.datasetToModel[l], wnids.indexOf(shuffled[l]));
  assert.match(m.warnings.join("\n"), /standard ImageNet order/);
  // A subset cannot be placed without a table: a clear error that says so.
  const subset = { ...dataset, items: dataset.items.slice(0, 3), classes: shuffled.slice(0, 3) };
  assert.throws(() => mapLabels(subset, model), /WordNet id .* a subset needs --mapping/);
});

Deno.test("eval CLI: an unwritable --out and a zero --size fail up front with user errors", async () => {
  // Bugs: --out over an existing file failed with "internal error" after the whole run;
  // --size 0 was accepted and every image then failed to resize.
  const file = join(tmp, "a-file");
  Deno.writeTextFileSync(file, "x");
  await assert.rejects(() => prepareOutDir(join(file, "sub")), DataError);
  assert.throws(() => preprocessOverrides({ size: "0" }), UsageError);
  assert.throws(() => preprocessOverrides({ crop: "0x4" }), UsageError);
  assert.deepEqual(preprocessOverrides({ size: "12x34", crop: "0" }), {
    size: [12, 34],
    crop: null,
  });
});

Deno.test("decode: Netpbm PPM/PGM/PBM (torchvision's .ppm/.pgm) decode like Pillow", async () => {
  // Bug: .ppm/.pgm are ImageFolder extensions but were refused as "not an image".
  const enc = new TextEncoder();
  const cat = (...parts: Uint8Array[]) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) (out.set(p, at), at += p.length);
    return out;
  };
  const rgb = Uint8Array.from({ length: 4 * 3 * 3 }, (_, i) => (i * 29 + 5) % 256);
  const p6 = await decodeImage(cat(enc.encode("P6\n# made by hand\n4 3\n255\n"), rgb), "a.ppm");
  assert.deepEqual([p6.width, p6.height, [...p6.data]], [4, 3, [...rgb]]);
  const p3 = await decodeImage(enc.encode(`P3 4 3 255\n${[...rgb].join(" ")}\n`), "a.ppm");
  assert.deepEqual(p3.data, rgb);
  // maxval 100: v * 255 / 100 rounded half to even (30 -> 76.5 -> 76, 10 -> 25.5 -> 26).
  const p5 = await decodeImage(
    cat(enc.encode("P5 3 1 100\n"), new Uint8Array([10, 30, 100])),
    "g.pgm",
  );
  assert.deepEqual([...p5.data], [26, 26, 26, 76, 76, 76, 255, 255, 255]);
  // P4 bitmap: 1 = black; rows padded to whole bytes.
  const p4 = await decodeImage(
    cat(enc.encode("P4 3 2\n"), new Uint8Array([0b10100000, 0b01000000])),
    "b.pbm",
  );
  assert.deepEqual([...p4.data].filter((_, i) => i % 3 === 0), [0, 255, 0, 255, 0, 255]);
  await assert.rejects(() => decodeImage(enc.encode("P6 4 3 255\n\x01\x02"), "t.ppm"), /truncated/);
});

Deno.test("decode: BMP (24-bit bottom-up, 8-bit palette top-down) like Pillow", async () => {
  // Bug: .bmp is an ImageFolder extension but every BMP was refused as unsupported.
  const bmp = (w: number, h: number, bpp: number, rows: Uint8Array[], palette: number[] = []) => {
    const stride = Math.ceil((w * bpp) / 32) * 4;
    const dataAt = 54 + palette.length;
    const out = new Uint8Array(dataAt + stride * h);
    const dv = new DataView(out.buffer);
    out.set([0x42, 0x4d]);
    dv.setUint32(2, out.length, true);
    dv.setUint32(10, dataAt, true);
    dv.setUint32(14, 40, true);
    dv.setInt32(18, w, true);
    dv.setInt32(22, bpp === 8 ? -h : h, true); // the palette image is stored top-down
    dv.setUint16(26, 1, true);
    dv.setUint16(28, bpp, true);
    dv.setUint32(46, palette.length / 4, true);
    out.set(palette, 54);
    rows.forEach((r, y) => out.set(r, dataAt + (bpp === 8 ? y : h - 1 - y) * stride));
    return out;
  };
  // 3x2 24-bit: pixels stored B, G, R.
  const rgbRows = [[10, 20, 30, 40, 50, 60, 70, 80, 90], [1, 2, 3, 4, 5, 6, 7, 8, 9]];
  const bgr = rgbRows.map((r) => Uint8Array.from(r.map((_, i) => r[i - (i % 3) + 2 - (i % 3)])));
  const a = await decodeImage(bmp(3, 2, 24, bgr), "a.bmp");
  assert.deepEqual([a.width, a.height, [...a.data]], [3, 2, rgbRows.flat()]);
  // 2x2 8-bit palette (B, G, R, 0 entries).
  const palette = [0, 0, 255, 0, 0, 255, 0, 0];
  const b = await decodeImage(
    bmp(2, 2, 8, [new Uint8Array([0, 1]), new Uint8Array([1, 0])], palette),
    "p.bmp",
  );
  assert.deepEqual([...b.data], [255, 0, 0, 0, 255, 0, 0, 255, 0, 255, 0, 0]);
});

Deno.test("decode: a GIF's transparent pixels show the palette colour of the transparent index", async () => {
  // Bug: they came out black; Pillow's convert("RGB") keeps the palette colour.
  const palette = [200, 10, 20, 30, 220, 40, 50, 60, 240, 1, 2, 3];
  const pixels = [0, 1, 2, 1]; // 2x2; index 1 is transparent
  // LZW with min code size 2 (3-bit codes, clear = 4, end = 5), a clear before each literal
  // so the code width never grows; codes packed least significant bit first.
  const codes = [...pixels.flatMap((p) => [4, p]), 5];
  const data: number[] = [];
  let acc = 0, nbits = 0;
  for (const c of codes) {
    acc |= c << nbits;
    nbits += 3;
    while (nbits >= 8) (data.push(acc & 255), acc >>= 8, nbits -= 8);
  }
  if (nbits) data.push(acc & 255);
  const gif = new Uint8Array([
    ...new TextEncoder().encode("GIF89a"),
    2,
    0,
    2,
    0,
    0x81,
    0,
    0, // screen 2x2, global table of 4 colours
    ...palette,
    0x21,
    0xf9,
    4,
    1,
    0,
    0,
    1,
    0, // graphic control: transparent index 1
    0x2c,
    0,
    0,
    0,
    0,
    2,
    0,
    2,
    0,
    0, // image 2x2 at 0,0, no local table
    2,
    data.length,
    ...data,
    0, // LZW min code size, one sub-block, terminator
    0x3b,
  ]);
  assert.deepEqual(gifTransparentColor(gif), [30, 220, 40]);
  const img = await decodeImage(gif, "t.gif");
  assert.deepEqual([...img.data], pixels.flatMap((p) => palette.slice(3 * p, 3 * p + 3)));
});

Deno.test("findModelFiles: a sharded checkpoint is named as such, not as 'several files'", () => {
  const dir = join(tmp, "sharded");
  Deno.mkdirSync(dir, { recursive: true });
  for (const f of ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]) {
    Deno.writeFileSync(join(dir, f), new Uint8Array(16));
  }
  Deno.writeTextFileSync(join(dir, "model.safetensors.index.json"), '{"weight_map": {}}');
  assert.throws(() => findModelFiles(dir), /sharded checkpoint .* merge the shards/);
});

Deno.test("timm ViT layout: a top-level global_pool is honoured (avg pools patches), others refused", () => {
  const shapes = timmViTShapes({
    D: 16,
    depth: 1,
    heads: 1,
    mlp: 32,
    classes: 3,
    patch: 4,
    grid: 2,
  });
  const index = {
    names: () => Object.keys(shapes),
    info: (n: string) => ({ dtype: "F32", shape: shapes[n] }),
  };
  const config = { architecture: "vit_custom", model_args: { num_heads: 1 } };
  assert.equal(vitSpec(index, { ...config, global_pool: "token" }, "t").numClasses, 3);
  // "avg" is supported now: the head reads the mean of the patch tokens, not the class token.
  assert.equal(vitSpec(index, { ...config, global_pool: "avg" }, "t").pool, "patch-mean");
  assert.equal(vitSpec(index, { ...config, global_pool: "token" }, "t").pool, "tokens");
  assert.throws(() => vitSpec(index, { ...config, global_pool: "max" }, "t"), /global_pool "max"/);
});

Deno.test("decode: WebP through libwebp (lossless exact, lossy close), as Pillow", async () => {
  // Bug: every WebP was refused as unsupported; Pillow (libwebp) reads them.
  const lossless =
    "UklGRloAAABXRUJQVlA4TE0AAAAvDEACAJkyRPQ/NsWP6H9AQds2kmmMP9T/DsFMKI1sJ0rC8Zrg8NE4yojDoamA7mMCSMo4AOM/aBMacAc4AdDhHABgVjQCAFi8KrP5AAA=";
  const lossy =
    "UklGRnIAAABXRUJQVlA4IGYAAADwAQCdASoNAAoAAgA0JbACdAEOwTQZYAAA/vzPzhh/rmpS/mL9RUIz/YQGNkIa/+uj6X8zgAjOo9Aq9PPYwDt2Ob/2m3/dshq+HhZ9f/ybb2Ju/Q3oZ8mf+5DMVQP//pz4wt3qAAA=";
  const rgb = tiffPattern();
  const exact = await decodeImage(b64(lossless), "l.webp");
  assert.deepEqual([exact.width, exact.height], [13, 10]);
  assert.deepEqual(exact.data, rgb);
  const approx = await decodeImage(b64(lossy), "q.webp");
  let err = 0;
  for (let i = 0; i < rgb.length; i++) err += Math.abs(approx.data[i] - rgb[i]);
  assert.ok(err / rgb.length < 20, `mean error ${err / rgb.length}`);
});

Deno.test("predict CLI: a folder argument stands for its image files, recursively and sorted", () => {
  // Bug (UX): `visioneval predict --model m photos/` failed reading the folder as an image.
  const dir = join(tmp, "photos");
  Deno.mkdirSync(join(dir, "b"), { recursive: true });
  for (const f of ["z.JPG", "a.png", "notes.txt", ".hidden.jpg", "b/c.jpeg"]) {
    Deno.writeFileSync(join(dir, f), new Uint8Array(1));
  }
  assert.deepEqual(expandFolder(dir), [
    join(dir, "a.png"),
    join(dir, "b/c.jpeg"),
    join(dir, "z.JPG"),
  ]);
  assert.deepEqual(expandFolder(join(dir, "a.png")), [join(dir, "a.png")]);
});

Deno.test("predict/evaluate: a single-output model is refused (softmax of one logit is always 1)", async () => {
  // Bug: a sigmoid-head checkpoint was "evaluated" to top-1 = 1 and log loss 0.
  const dir = join(tmp, "one-output");
  Deno.mkdirSync(dir, { recursive: true });
  const shape: SynthResNet = {
    layout: "torchvision",
    block: "basic",
    stemChannels: 8,
    stemKernel: 7,
    depths: [1],
    widths: [8],
    numClasses: 1,
  };
  await writeSafetensors(
    join(dir, "model.safetensors"),
    encodeWeights(synthResNetWeights(shape, 6), "F32").tensors,
  );
  const engine = await Engine.create();
  const model = await loadModel(dir, engine);
  await assert.rejects(
    () => predict(model, [{ path: "x", image: randomImage(8, 8, 1) }], { engine }),
    (e: Error) => e instanceof ModelLayoutError && /has 1 output/.test(e.message),
  );
  model.dispose();
});

Deno.test("metrics: a state.safetensors passed as predictions says to use merge", async () => {
  // Bug (UX): the message was "tensor logits has shape [100], expected [n, C]".
  const path = join(tmp, "state.safetensors");
  await writeSafetensors(
    path,
    { logits: { dtype: "F32", shape: [4], data: new Float32Array(4) } },
    { visioneval_metric_state: "{}" },
  );
  await assert.rejects(() => readPredictions(path), /metric state .*visioneval merge/);
});

Deno.test("config id2label: keys that are not the head's 0..C-1 are refused, naming config.json", async () => {
  // Bug: a 1-based id2label ({"1": "airplane", ..., "10": "truck"}) on a 10-output head
  // was taken as is: every output got its neighbour's name, ImageFolder classes were
  // matched to the wrong outputs and eval reported top-1 0 with no warning.
  const config = JSON.parse(Deno.readTextFileSync(join(synthModel, "config.json")));
  const names: string[] = Object.values(config.id2label);
  const K = names.length;
  const refused = (id2label: Record<string, unknown>, key: RegExp) =>
    assert.throws(
      () => labelsFromConfig({ id2label }, K, "m/config.json"),
      (e) =>
        e instanceof ModelLayoutError && key.test(e.message) &&
        e.message.includes(`0..${K - 1}`) && e.message.startsWith("m/config.json"),
    );
  refused(Object.fromEntries(names.map((n, i) => [String(i + 1), n])), new RegExp(`"${K}"`));
  refused({ ...config.id2label, [String(K)]: "extra" }, new RegExp(`"${K}"`));
  refused(Object.fromEntries(names.map((n, i) => [n, String(i)])), new RegExp(`"${names[0]}"`));
  refused({ "0": names[0], "01": names[1] }, /"01"/);
  // A 0-based map in range is kept; so are gaps (see qa_data_outputs_test.ts).
  assert.deepEqual(labelsFromConfig(config, K), names);

  // Loading refuses it before any weight reaches the GPU, for the convolutional and ViT loaders.
  const dir = join(tmp, "one-based-id2label");
  Deno.mkdirSync(dir, { recursive: true });
  Deno.copyFileSync(join(synthModel, "model.safetensors"), join(dir, "model.safetensors"));
  const oneBased = Object.fromEntries(names.map((n, i) => [String(i + 1), n]));
  Deno.writeTextFileSync(
    join(dir, "config.json"),
    JSON.stringify({ ...config, id2label: oneBased }),
  );
  await assert.rejects(
    () => loadModel(dir),
    (e: Error) => e instanceof ModelLayoutError && e.message.includes(join(dir, "config.json")),
  );
  const vit = join(tmp, "vit-id2label");
  Deno.mkdirSync(vit, { recursive: true });
  const size = { D: 32, depth: 1, heads: 1, mlp: 16, classes: 3, patch: 8, grid: 2 };
  const { tensors, config: vitConfig } = synthTimmViT(size, 7);
  await writeSafetensors(join(vit, "model.safetensors"), tensors);
  Deno.writeTextFileSync(
    join(vit, "config.json"),
    JSON.stringify({ ...vitConfig, id2label: { "1": "a", "2": "b", "3": "c" } }),
  );
  await assert.rejects(() => loadModel(vit), /id2label has key\(s\) "3".*0\.\.2/);
});

Deno.test("loadModel: a wrapper prefix is named even when config.json names the family", async () => {
  // Bug: with config.json saying which family, the "module." prefix of a DataParallel
  // checkpoint only showed up as "no stages found", without the hint to strip it.
  const dir = join(tmp, "prefixed-with-config");
  Deno.mkdirSync(dir, { recursive: true });
  Deno.copyFileSync(join(synthModel, "config.json"), join(dir, "config.json"));
  const file = await SafetensorsFile.open(join(synthModel, "model.safetensors"));
  const tensors: Record<string, SafetensorsTensorData> = {};
  for (const n of file.names()) {
    tensors[`module.${n}`] = {
      dtype: "F32",
      shape: file.info(n).shape,
      data: await file.readF32(n),
    };
  }
  file.close();
  await writeSafetensors(join(dir, "model.safetensors"), tensors);
  await assert.rejects(
    () => loadModel(dir),
    (e: Error) =>
      e instanceof ModelLayoutError && /starts with "module\." .*removeprefix/.test(e.message),
  );
});
