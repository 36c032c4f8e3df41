/**
 * Model-folder preprocessing descriptions as users' folders write them:
 * Hugging Face `preprocessor_config.json` variants (bare-number sizes, keys
 * left to the processor class's defaults, crop / resize / rescale /
 * normalise switched off, every Pillow filter) and timm `pretrained_cfg`
 * variants (crop_pct, squash, non-square input_size, test_input_size). Each
 * folder's pixels are compared with what the library itself computes, as
 * `scripts/families/gen_pipeline_refs.py` writes it out with Pillow, NumPy
 * and torchvision.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readImage } from "../src/data/decode.ts";
import { DataError } from "../src/errors.ts";
import {
  cropOffsets,
  describePipeline,
  preprocess,
  preprocessConfigFromModelDir,
  resizedSize,
} from "../src/data/preprocess.ts";
import { SafetensorsFile } from "../src/weights/safetensors.ts";
import { generatedRefs, HAVE_TORCH } from "./_family_refs.ts";
import { maxAbsDiff } from "./_helpers.ts";

const SKIP = HAVE_TORCH ? "" : " (skipped: /usr/bin/python3 cannot import torch/torchvision)";

Deno.test({
  name: `pipeline layouts: every folder's pixels equal its library's${SKIP}`,
  ignore: !HAVE_TORCH,
  fn: async () => {
    const dir = await generatedRefs("gen_pipeline_refs.py");
    const manifest = JSON.parse(await Deno.readTextFile(join(dir, "manifest.json")));
    const images = await Promise.all(
      (manifest.images as string[]).map((f) => readImage(join(dir, "images", f))),
    );
    const wrong: string[] = [];
    for (const name of manifest.cases as string[]) {
      const cfg = preprocessConfigFromModelDir(join(dir, name));
      const f = await SafetensorsFile.open(join(dir, `${name}.ref.safetensors`));
      const [n, c, h, w] = f.info("pixel_values").shape;
      const ref = await f.readF32("pixel_values");
      f.close();
      const per = c * h * w;
      for (let i = 0; i < n; i++) {
        const want = ref.subarray(i * per, (i + 1) * per);
        let got: Float32Array;
        try {
          got = preprocess(images[i], cfg);
        } catch (e) {
          wrong.push(`${name} image ${i}: ${(e as Error).message}`);
          continue;
        }
        if (got.length !== per) {
          wrong.push(`${name} image ${i}: ${got.length} values, want ${per} (${c}x${h}x${w})`);
        } else if (maxAbsDiff(got, want) > 1e-6) {
          wrong.push(`${name} image ${i}: max |diff| ${maxAbsDiff(got, want)}`);
        }
      }
    }
    assert.deepEqual(wrong, []);
  },
});

Deno.test("pipeline layouts: notes, refusals and geometry of the folder descriptions", async () => {
  const dir = await Deno.makeTempDir();
  const proc = (o: unknown) =>
    Deno.writeTextFileSync(join(dir, "preprocessor_config.json"), JSON.stringify(o));
  const timm = (pc: unknown) =>
    Deno.writeTextFileSync(join(dir, "config.json"), JSON.stringify({ pretrained_cfg: pc }));
  try {
    // timm "border" cannot be run: refused naming the file, unless --size replaces the resize.
    timm({ input_size: [3, 224, 224], crop_pct: 1.0, crop_mode: "border" });
    assert.throws(
      () => preprocessConfigFromModelDir(dir),
      (e: Error) =>
        e instanceof DataError && /config\.json.*crop_mode "border".*--size/.test(e.message),
    );
    assert.deepEqual(preprocessConfigFromModelDir(dir, { size: 256 }).size, [256, 256]);

    // A grayscale timm model (in_chans 1, one-value mean) is refused for what it is.
    timm({ input_size: [1, 64, 64], mean: [0.5], std: [0.25] });
    assert.throws(() => preprocessConfigFromModelDir(dir), /\[1,64,64\] is for 1-channel input/);

    // Empty values mean timm's defaults (resolve_data_config tests truthiness).
    timm({ input_size: [3, 64, 64], crop_pct: null, crop_mode: "", interpolation: "" });
    const empty = preprocessConfigFromModelDir(dir);
    assert.deepEqual([empty.size, empty.crop, empty.interpolation], [
      [73, 73],
      [64, 64],
      "bilinear",
    ]);

    // Non-square input_size: ResizeKeepRatio (bilinear) covers the target, then crops.
    timm({ input_size: [3, 96, 128], crop_pct: 1.0, interpolation: "bicubic" });
    const kr = preprocessConfigFromModelDir(dir);
    assert.equal(kr.resizeMode, "keep-ratio");
    assert.equal(kr.interpolation, "bilinear");
    assert.match(kr.warnings.join("\n"), /ResizeKeepRatio.*bilinear/);
    assert.deepEqual(resizedSize(kr, 203, 297), [128, 187]); // ratio 203/128: round(297 / 1.5859375)
    assert.deepEqual(resizedSize(kr, 317, 211), [144, 96]); // ratio 211/96: round(144.2) = 144
    assert.match(describePipeline(kr), /keeping the aspect ratio to cover 128x96/);

    // torchvision pads a too-small side with (c - n) // 2 before it: offset -7, not -8.
    assert.deepEqual(cropOffsets({ ...kr, crop: [128, 128] }, 113, 113), { left: -7, top: -7 });

    // A preprocessor_config.json wins over pretrained_cfg; the header says what the other wanted.
    proc({ image_processor_type: "ViTImageProcessor", size: { height: 96, width: 96 } });
    const both = preprocessConfigFromModelDir(dir);
    assert.deepEqual([both.resizeMode, both.size], ["exact", [96, 96]]);
    assert.match(both.warnings.join("\n"), /describes two pipelines; used ViTImageProcessor/);
    Deno.removeSync(join(dir, "config.json"));

    // ViTImageProcessor has no crop step: a written-out crop is ignored, with a note.
    proc({
      image_processor_type: "ViTImageProcessor",
      size: { height: 96, width: 96 },
      do_center_crop: true,
      crop_size: 80,
      resample: 3,
      image_mean: 0.5,
      image_std: 0.5,
    });
    const vit = preprocessConfigFromModelDir(dir);
    assert.equal(vit.crop, null);
    assert.deepEqual(vit.warnings.map((w) => /no center-crop step/.test(w)), [true]);

    // Left-out keys take the class defaults, said once; the flags that replace them drop it.
    proc({ image_processor_type: "BitImageProcessor" });
    const bit = preprocessConfigFromModelDir(dir);
    assert.deepEqual([bit.size, bit.crop, bit.interpolation], [[224, 224], [224, 224], "bicubic"]);
    assert.match(
      bit.warnings[0],
      /has no do_center_crop, size, crop_size, resample, image_mean, image_std; used Bit/,
    );
    const flags = { size: 256, crop: 224, interpolation: "bicubic" as const };
    const all = { ...flags, mean: [0, 0, 0] as Triple, std: [1, 1, 1] as Triple };
    assert.equal(preprocessConfigFromModelDir(dir, flags).warnings.length, 1);
    assert.deepEqual(preprocessConfigFromModelDir(dir, all).warnings, []);

    // A "Fast" processor resizes with torchvision: said, since Pillow's arithmetic is used.
    proc({ image_processor_type: "ViTImageProcessorFast", size: { height: 64, width: 64 } });
    assert.match(preprocessConfigFromModelDir(dir).warnings[0], /resizes with torchvision/);

    // A class outside the table: ViTImageProcessor's defaults, and the note says why.
    proc({ feature_extractor_type: "PoolFormerFeatureExtractor", size: { height: 64, width: 64 } });
    assert.match(
      preprocessConfigFromModelDir(dir).warnings[0],
      /used ViTImageProcessor's defaults .* because PoolFormerFeatureExtractor is not a processor/,
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

type Triple = [number, number, number];
