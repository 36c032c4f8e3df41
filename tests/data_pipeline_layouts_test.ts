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
import { preprocess, preprocessConfigFromModelDir } from "../src/data/preprocess.ts";
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
