/**
 * Preprocessing tests: the three reference pipelines (timm, hf_vit,
 * torchvision) from the fixtures' decoded pixels and from the JPEG files,
 * resize against a float64 reference of Pillow's filter maths on awkward
 * sizes, fused crop == resize-then-crop, and pipeline resolution from model
 * folders and overrides.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readImage } from "../src/data/decode.ts";
import {
  applyOverrides,
  cropOffsets,
  describePipeline,
  IMAGENET_MEAN,
  IMAGENET_STD,
  pipelineOutputSize,
  preprocess,
  type PreprocessConfig,
  preprocessConfigFromModelDir,
  resizedSize,
} from "../src/data/preprocess.ts";
import { type Interpolation, resize, resizeCrop, type RgbImage } from "../src/data/resize.ts";
import { SafetensorsFile } from "../src/weights/safetensors.ts";
import { fixture, fixtureTest, rng } from "./_helpers.ts";

const REF = fixture("reference", "preprocess");
const MODELS = fixture("models");

const COMMON = { cropRounding: "half-even" as const, source: "test", warnings: [] as string[] };
/** The three pipelines exactly as pipelines.json states them. */
const PIPELINES: Record<"timm" | "hf_vit" | "torchvision", PreprocessConfig> = {
  timm: {
    ...COMMON,
    resizeMode: "shortest",
    size: [248, 248],
    crop: [224, 224],
    interpolation: "bicubic",
    rescale: { op: "divide", value: 255 },
    mean: [0.5, 0.5, 0.5],
    std: [0.5, 0.5, 0.5],
  },
  hf_vit: {
    ...COMMON,
    resizeMode: "exact",
    size: [224, 224],
    crop: null,
    interpolation: "bicubic",
    rescale: { op: "multiply", value: 0.00392156862745098 },
    mean: [0.5, 0.5, 0.5],
    std: [0.5, 0.5, 0.5],
  },
  torchvision: {
    ...COMMON,
    resizeMode: "shortest",
    size: [256, 256],
    crop: [224, 224],
    interpolation: "bilinear",
    rescale: { op: "divide", value: 255 },
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
  },
};

interface RefImage {
  file: string;
  rgb: RgbImage;
  tensors: Record<string, Float32Array>;
  meta: Record<string, { resized_wh: [number, number]; crop_left_top: [number, number] | null }>;
}

async function loadReferences(): Promise<RefImage[]> {
  const pj = JSON.parse(await Deno.readTextFile(`${REF}/pipelines.json`));
  const out: RefImage[] = [];
  for (const im of pj.images) {
    const f = await SafetensorsFile.open(`${REF}/${im.file.replace(/\.JPEG$/, ".safetensors")}`);
    const [h, w] = f.info("rgb_u8").shape;
    const tensors: Record<string, Float32Array> = {};
    for (const p of Object.keys(PIPELINES)) tensors[p] = await f.readF32(p);
    out.push({
      file: im.file,
      rgb: { width: w, height: h, data: (await f.read("rgb_u8")) as Uint8Array },
      tensors,
      meta: im,
    });
    f.close();
  }
  return out;
}

/** max and mean |diff| in 8-bit levels (normalised diff * 255 * std). */
function levelDiff(
  out: Float32Array,
  ref: Float32Array,
  std: number[],
): { max: number; mean: number } {
  const plane = ref.length / 3;
  let max = 0, sum = 0;
  for (let i = 0; i < ref.length; i++) {
    const d = Math.abs(out[i] - ref[i]) * 255 * std[Math.floor(i / plane)];
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / ref.length };
}

fixtureTest("preprocess: timm, hf_vit, torchvision match the references from rgb_u8", async () => {
  const refs = await loadReferences();
  assert.equal(refs.length, 8);
  const report: string[] = [];
  for (const [name, cfg] of Object.entries(PIPELINES)) {
    let worst = 0, meanSum = 0;
    for (const r of refs) {
      // Geometry first: resized size and (half-to-even) crop offsets.
      const [rw, rh] = resizedSize(cfg, r.rgb.width, r.rgb.height);
      assert.deepEqual([rw, rh], r.meta[name].resized_wh, `${r.file} ${name} resized size`);
      if (r.meta[name].crop_left_top) {
        const { left, top } = cropOffsets(cfg, rw, rh);
        assert.deepEqual([left, top], r.meta[name].crop_left_top, `${r.file} ${name} crop`);
      }
      const out = preprocess(r.rgb, cfg);
      const d = levelDiff(out, r.tensors[name], cfg.std);
      // The bound of the issue: one 8-bit level everywhere, 0.05 on average.
      assert.ok(d.max <= 1 + 1e-4, `${r.file} ${name}: max ${d.max} levels`);
      assert.ok(d.mean <= 0.05, `${r.file} ${name}: mean ${d.mean} levels`);
      worst = Math.max(worst, d.max);
      meanSum += d.mean;
    }
    report.push(`${name} max ${worst.toFixed(4)} mean ${(meanSum / refs.length).toFixed(6)}`);
  }
  console.log(`  from rgb_u8, |diff| in 8-bit levels: ${report.join("; ")}`);
});

fixtureTest("preprocess: from the JPEG files themselves (decoder + pipeline)", async () => {
  const refs = await loadReferences();
  const report: string[] = [];
  for (const [name, cfg] of Object.entries(PIPELINES)) {
    let worst = 0, meanSum = 0;
    for (const r of refs) {
      const rgb = await readImage(fixture("data", "imagenet-sample", r.file));
      const d = levelDiff(preprocess(rgb, cfg), r.tensors[name], cfg.std);
      assert.ok(d.max <= 1 + 1e-4, `${r.file} ${name}: max ${d.max} levels`);
      assert.ok(d.mean <= 0.05, `${r.file} ${name}: mean ${d.mean} levels`);
      worst = Math.max(worst, d.max);
      meanSum += d.mean;
    }
    report.push(`${name} max ${worst.toFixed(4)} mean ${(meanSum / refs.length).toFixed(6)}`);
  }
  console.log(`  from JPEG files, |diff| in 8-bit levels: ${report.join("; ")}`);
});

/**
 * Float64 reference of Pillow's antialiased separable filter: same window
 * and weights, but no fixed point; rounds to 8 bits between passes like
 * Pillow. Our result must be within one level of it.
 */
const sinc = (x: number) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
/** Textbook forms of Pillow's filters (written independently of resize.ts). */
const KERNELS: Record<
  Exclude<Interpolation, "nearest">,
  { support: number; w: (x: number) => number }
> = {
  box: { support: 0.5, w: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0) },
  bilinear: { support: 1, w: (x) => Math.max(0, 1 - Math.abs(x)) },
  hamming: {
    support: 1,
    w: (x) => (Math.abs(x) < 1 ? sinc(x) * (0.54 + 0.46 * Math.cos(Math.PI * x)) : 0),
  },
  bicubic: {
    support: 2,
    w: (x) => {
      x = Math.abs(x);
      if (x < 1) return (1.5 * x - 2.5) * x * x + 1;
      if (x < 2) return ((-0.5 * x + 2.5) * x - 4) * x + 2;
      return 0;
    },
  },
  lanczos: { support: 3, w: (x) => (Math.abs(x) < 3 ? sinc(x) * sinc(x / 3) : 0) },
};

function referenceResize(
  src: RgbImage,
  ow: number,
  oh: number,
  f: Exclude<Interpolation, "nearest">,
): Uint8Array {
  const kernel = KERNELS[f];
  const pass = (
    data: Float64Array,
    len: number,
    inSize: number,
    outSize: number,
    stride: number,
  ) => {
    // Resample along an axis: data viewed as [outer][inSize][stride].
    const outer = data.length / (inSize * stride);
    const res = new Float64Array(outer * outSize * stride);
    const scale = inSize / outSize;
    const fs = Math.max(1, scale);
    for (let o = 0; o < outSize; o++) {
      const c = (o + 0.5) * scale;
      const lo = Math.max(0, Math.trunc(c - kernel.support * fs + 0.5));
      const hi = Math.min(inSize, Math.trunc(c + kernel.support * fs + 0.5));
      const ws: number[] = [];
      for (let i = lo; i < hi; i++) ws.push(kernel.w((i - c + 0.5) / fs));
      const total = ws.reduce((a, b) => a + b, 0);
      for (let u = 0; u < outer; u++) {
        for (let s = 0; s < stride; s++) {
          let acc = 0;
          for (let i = lo; i < hi; i++) {
            acc += data[(u * inSize + i) * stride + s] * ws[i - lo] / total;
          }
          res[(u * outSize + o) * stride + s] = Math.min(255, Math.max(0, Math.round(acc)));
        }
      }
    }
    void len;
    return res;
  };
  let d = Float64Array.from(src.data);
  if (ow !== src.width) d = pass(d, 0, src.width, ow, 3); // rows: [H][W][3]
  if (oh !== src.height) d = pass(d, 0, src.height, oh, ow * 3); // [1][H][W*3]
  return Uint8Array.from(d);
}

function randomImage(w: number, h: number, seed: number): RgbImage {
  const r = rng(seed);
  const data = new Uint8Array(w * h * 3);
  // Mix of smooth structure and noise, with saturated regions to exercise clamping.
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      for (let c = 0; c < 3; c++) {
        const v = 128 + 140 * Math.sin(x * 0.7 + c) * Math.cos(y * 0.45) + 60 * (r() - 0.5);
        data[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v)));
      }
    }
  }
  return { width: w, height: h, data };
}

Deno.test("resize: within one level of a float64 reference on awkward sizes", () => {
  const shapes: [number, number, number, number][] = [
    [37, 23, 11, 7], // strong downscale, odd sizes
    [5, 9, 17, 31], // upscale
    [1, 1, 3, 2], // single pixel
    [64, 48, 63, 47], // almost identity
    [13, 29, 13, 10], // vertical only
    [29, 13, 10, 13], // horizontal only
    [101, 67, 33, 67],
  ];
  let seed = 1;
  for (const [w, h, ow, oh] of shapes) {
    const src = randomImage(w, h, seed++);
    for (const f of ["box", "bilinear", "hamming", "bicubic", "lanczos"] as const) {
      const ours = resize(src, ow, oh, f).data;
      const ref = referenceResize(src, ow, oh, f);
      let max = 0;
      for (let i = 0; i < ref.length; i++) max = Math.max(max, Math.abs(ours[i] - ref[i]));
      assert.ok(max <= 1, `${w}x${h} -> ${ow}x${oh} ${f}: max |diff| ${max}`);
    }
  }
});

Deno.test("resize: fused crop equals resize then crop, padding outside", () => {
  const src = randomImage(53, 41, 7);
  for (const f of ["nearest", "bilinear", "bicubic"] as const) {
    const full = resize(src, 30, 27, f);
    const win = { x0: 4, y0: 3, width: 19, height: 21 };
    const fused = resizeCrop(src, 30, 27, f, win);
    for (let y = 0; y < win.height; y++) {
      for (let x = 0; x < win.width * 3; x++) {
        assert.equal(
          fused.data[y * win.width * 3 + x],
          full.data[(y + win.y0) * 90 + win.x0 * 3 + x],
          `${f} at ${x},${y}`,
        );
      }
    }
    // A window larger than the image: zeros outside (torchvision pads a crop).
    const padded = resizeCrop(src, 10, 10, f, { x0: -1, y0: -2, width: 12, height: 14 });
    assert.equal(padded.data[0], 0);
    assert.equal(padded.data[(2 * 12 + 1) * 3], resize(src, 10, 10, f).data[0]);
  }
});

Deno.test("resize: nearest picks floor((x + 0.5) * scale); same size is a copy", () => {
  const src = randomImage(10, 6, 3);
  const out = resize(src, 4, 3, "nearest");
  for (let y = 0; y < 3; y++) {
    for (let x = 0; x < 4; x++) {
      const sx = Math.floor((x + 0.5) * 2.5), sy = Math.floor((y + 0.5) * 2);
      for (let c = 0; c < 3; c++) {
        assert.equal(out.data[(y * 4 + x) * 3 + c], src.data[(sy * 10 + sx) * 3 + c]);
      }
    }
  }
  assert.deepEqual(resize(src, 10, 6, "bicubic").data, src.data);
});

fixtureTest("preprocess: pipelines resolved from the model folders", () => {
  const hf = preprocessConfigFromModelDir(join(MODELS, "vit-tiny-in1k", "hf"));
  assert.equal(hf.resizeMode, "exact");
  assert.deepEqual(hf.size, [224, 224]);
  assert.equal(hf.crop, null);
  assert.equal(hf.interpolation, "bicubic");
  assert.deepEqual(hf.rescale, { op: "multiply", value: 0.00392156862745098 });
  assert.deepEqual(hf.mean, [0.5, 0.5, 0.5]);
  assert.match(describePipeline(hf), /ViTImageProcessor/);

  const timm = preprocessConfigFromModelDir(join(MODELS, "vit-tiny-in1k", "timm"));
  const { source: _s, warnings: _w, assumptions: _a, ...timmCore } = timm;
  const { source: _s2, warnings: _w2, assumptions: _a2, ...want } = PIPELINES.timm;
  assert.deepEqual(timmCore, want);
  assert.deepEqual(pipelineOutputSize(timm), [224, 224]);
  const line = describePipeline(timm);
  assert.match(line, /shorter side to 248 \(bicubic/);
  assert.match(line, /center-crop 224x224/);
  assert.ok(!line.includes("\n"));

  const cifar = preprocessConfigFromModelDir(join(MODELS, "resnet-cifar10", "resnet20"));
  assert.equal(cifar.resizeMode, "exact");
  assert.deepEqual(cifar.size, [32, 32]);
  assert.deepEqual(cifar.mean, IMAGENET_MEAN);
  assert.deepEqual(cifar.std, IMAGENET_STD);
  assert.deepEqual(cifar.warnings, []);

  const random = preprocessConfigFromModelDir(join(MODELS, "vit-cifar-random"));
  assert.deepEqual(random.size, [32, 32]);
  assert.deepEqual(random.mean, [0.5, 0.5, 0.5]);
  assert.equal(random.warnings.length, 1, "assumed defaults must be reported");

  const hfResnet = preprocessConfigFromModelDir(join(MODELS, "resnet-tiny-hf-basic"));
  assert.deepEqual([hfResnet.resizeMode, hfResnet.size, hfResnet.crop], [
    "shortest",
    [256, 256],
    [224, 224],
  ]);
  assert.equal(hfResnet.cropRounding, "floor");
  assert.deepEqual(hfResnet.mean, IMAGENET_MEAN);
  assert.equal(hfResnet.warnings.length, 1);

  const timmRandom = preprocessConfigFromModelDir(join(MODELS, "vit-random-timm"));
  assert.equal(timmRandom.resizeMode, "shortest");
  assert.deepEqual(timmRandom.size, [32, 32]); // crop_pct 1.0
  assert.deepEqual(timmRandom.crop, [32, 32]);
});

Deno.test("preprocess: HF ConvNext/DeiT processors, overrides, bad configs", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const write = (o: unknown) =>
      Deno.writeTextFile(join(dir, "preprocessor_config.json"), JSON.stringify(o));
    await write({
      image_processor_type: "ConvNextImageProcessor",
      size: { shortest_edge: 224 },
      crop_pct: 0.875,
      resample: 3,
      image_mean: IMAGENET_MEAN,
      image_std: IMAGENET_STD,
    });
    let c = preprocessConfigFromModelDir(dir);
    assert.equal(c.resizeMode, "shortest");
    assert.deepEqual(c.size, [256, 256]);
    assert.deepEqual(c.crop, [224, 224]);
    assert.equal(c.cropRounding, "floor"); // HF center_crop uses (H - h) // 2
    assert.deepEqual(cropOffsets(c, 307, 256), { left: 41, top: 16 });

    await write({
      image_processor_type: "ConvNextImageProcessor",
      size: { shortest_edge: 384 },
      resample: 2,
    });
    c = preprocessConfigFromModelDir(dir);
    assert.equal(c.resizeMode, "exact");
    assert.deepEqual(c.size, [384, 384]);
    assert.equal(c.crop, null);
    assert.equal(c.interpolation, "bilinear");

    await write({
      image_processor_type: "DeiTImageProcessor",
      size: { height: 256, width: 256 },
      crop_size: { height: 224, width: 224 },
      do_center_crop: true,
      resample: 3,
    });
    c = preprocessConfigFromModelDir(dir);
    assert.deepEqual([c.resizeMode, c.size, c.crop], ["exact", [256, 256], [224, 224]]);

    // Hugging Face EfficientNetImageProcessor: include_top divides by image_std twice,
    // rescale_offset maps x to (x - 127.5) / 255.
    await write({
      image_processor_type: "EfficientNetImageProcessor",
      size: { height: 224, width: 224 },
      image_mean: [0.5, 0.25, 0.125],
      image_std: [0.5, 0.25, 2],
      include_top: true,
      rescale_offset: true,
      rescale_factor: 1 / 255,
    });
    const e = preprocessConfigFromModelDir(dir);
    assert.deepEqual(e.std, [0.25, 0.0625, 4]);
    assert.deepEqual(e.mean, [1, 0.75, 0.625]);
    await write({ image_processor_type: "EfficientNetImageProcessor", include_top: false });
    assert.deepEqual(preprocessConfigFromModelDir(dir).std, [0.5, 0.5, 0.5]);

    // Overrides from CLI flags merge on top.
    const o = applyOverrides(c, { cropPct: 0.9, interpolation: "bilinear", mean: [0, 0, 0] });
    assert.deepEqual([o.resizeMode, o.size, o.crop], ["shortest", [248, 248], [224, 224]]);
    assert.equal(o.interpolation, "bilinear");
    assert.deepEqual(o.mean, [0, 0, 0]);
    assert.match(o.source, /overridden: crop_pct, interpolation, mean/);
    const o2 = applyOverrides(c, { size: [100, 120], crop: null });
    assert.deepEqual([o2.resizeMode, o2.size, o2.crop], ["exact", [100, 120], null]);
    assert.deepEqual(pipelineOutputSize(o2), [100, 120]);
    assert.throws(() => applyOverrides(c, { std: [1, 0, 1] }), /std must be positive/);

    await write({ image_processor_type: "ViTImageProcessor", resample: 1 });
    c = preprocessConfigFromModelDir(dir);
    assert.equal(c.interpolation, "lanczos");
    assert.deepEqual([c.resizeMode, c.size], ["exact", [224, 224]]); // ViT default size
    assert.match(c.warnings[0], /has no size/);
    await write({ image_processor_type: "ViTImageProcessor", resample: 7 });
    assert.throws(() => preprocessConfigFromModelDir(dir), /resample 7 is not a Pillow filter/);
    await Deno.writeTextFile(join(dir, "preprocessor_config.json"), "{not json");
    assert.throws(() => preprocessConfigFromModelDir(dir), /not valid JSON/);
    await Deno.remove(join(dir, "preprocessor_config.json"));
    c = preprocessConfigFromModelDir(dir);
    assert.match(c.source, /defaults/);
    assert.ok(c.warnings.length >= 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("preprocess: shorter-side size truncates, same-size image is not resized", () => {
  const cfg = { ...PIPELINES.torchvision };
  assert.deepEqual(resizedSize(cfg, 500, 333), [384, 256]); // int(256 * 500 / 333) = 384
  assert.deepEqual(resizedSize(cfg, 333, 500), [256, 384]);
  assert.deepEqual(resizedSize(cfg, 256, 700), [256, 700]);
  // Half-to-even offsets: (329 - 224) / 2 = 52.5 -> 52, (307 - 224) / 2 = 41.5 -> 42.
  assert.deepEqual(cropOffsets(cfg, 329, 307), { left: 52, top: 42 });
  // CHW layout and table normalisation on a tiny exact-size image.
  const img: RgbImage = { width: 2, height: 1, data: new Uint8Array([0, 128, 255, 10, 20, 30]) };
  const out = preprocess(img, { ...PIPELINES.hf_vit, size: [1, 2] });
  const f = Math.fround;
  const norm = (v: number) => f(f(f(v * 0.00392156862745098) - 0.5) / 0.5);
  assert.deepEqual(Array.from(out), [0, 10, 128, 20, 255, 30].map(norm));
});
