/**
 * `visioneval preprocess`: shows the pipeline a model folder resolves to and,
 * for given images, what it does to them (decoded size, resized size, crop
 * window), optionally writing the tensors to compare with another tool.
 * Needs no GPU.
 */
import { parseArgs } from "node:util";
import { readImage } from "../data/decode.ts";
import {
  cropOffsets,
  describePipeline,
  pipelineOutputSize,
  preprocess,
  resizedSize,
} from "../data/preprocess.ts";
import { DataError, UsageError } from "../errors.ts";
import { writeSafetensors } from "../weights/safetensors.ts";
import { folderPipeline } from "../models/load.ts";
import { PREPROCESS_HELP, PREPROCESS_OPTIONS, preprocessOverrides } from "./options.ts";

/** Usage text. */
export const HELP = `usage: visioneval preprocess --model DIR [IMAGE ...] [options]

Prints the preprocessing pipeline resolved from the model folder
(preprocessor_config.json, timm pretrained_cfg or config.json, plus overrides)
and, for each IMAGE, its decoded size, resized size and crop window.

  --model DIR         model folder
  --out FILE          write pixel_values F32 [N,3,H,W] (normalised) to a .safetensors file
  --json              print the resolved pipeline and per-image geometry as JSON
${PREPROCESS_HELP}`;

/** Runs `preprocess`. */
export async function run(args: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args,
    options: {
      model: { type: "string" },
      out: { type: "string" },
      json: { type: "boolean" },
      ...PREPROCESS_OPTIONS,
    },
    allowPositionals: true,
    strict: true,
  });
  if (!values.model) throw new UsageError("--model DIR is required");
  // The pipeline the model gets when loaded (a config-less ResNet's depends on its key layout).
  const cfg = await folderPipeline(values.model, preprocessOverrides(values));
  const outSize = pipelineOutputSize(cfg);
  if (values.out && !outSize) {
    throw new UsageError("--out needs a fixed output size: set --crop or --size HxW");
  }
  const images = [];
  const pixels = values.out && outSize
    ? new Float32Array(positionals.length * 3 * outSize[0] * outSize[1])
    : null;
  for (const [i, path] of positionals.entries()) {
    const rgb = await readImage(path);
    const [rw, rh] = resizedSize(cfg, rgb.width, rgb.height);
    const { left, top } = cropOffsets(cfg, rw, rh);
    images.push({
      path,
      decoded_wh: [rgb.width, rgb.height],
      resized_wh: [rw, rh],
      crop_left_top: cfg.crop ? [left, top] : null,
    });
    if (pixels && outSize) {
      preprocess(rgb, cfg, pixels, i * 3 * outSize[0] * outSize[1]);
    }
  }
  if (values.out && pixels && outSize) {
    if (!positionals.length) throw new DataError("--out given but no images to preprocess");
    await writeSafetensors(values.out, {
      pixel_values: {
        dtype: "F32",
        shape: [positionals.length, 3, outSize[0], outSize[1]],
        data: pixels,
      },
    }, { files: JSON.stringify(positionals), pipeline: describePipeline(cfg) });
  }
  if (values.json) {
    console.log(
      JSON.stringify({ pipeline: cfg, description: describePipeline(cfg), images }, null, 2),
    );
    return;
  }
  console.log(`pipeline   ${describePipeline(cfg)}`);
  for (const w of cfg.warnings) console.log(`warning    ${w}`);
  for (const im of images) {
    const crop = im.crop_left_top ? `, crop at (${im.crop_left_top.join(", ")})` : "";
    console.log(
      `${im.path}: ${im.decoded_wh.join("x")} -> ${im.resized_wh.join("x")}${crop}`,
    );
  }
  if (values.out) console.log(`wrote ${values.out}`);
}
