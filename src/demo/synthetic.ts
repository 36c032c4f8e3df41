/**
 * A self-contained evaluation set for machines without `../shared/fixtures`:
 * a small Hugging Face-layout ResNet whose weights are designed, not trained,
 * and PNG images it can (mostly) classify.
 *
 * The network computes each image's mean colour and scores classes by the
 * distance to a prototype colour: the stem convolution averages each RGB
 * channel over its 7x7 window, every residual branch is zero (so blocks pass
 * their input through), the stage-2 shortcut copies its input channels, global
 * average pooling yields the mean colour f, and the classifier scores
 * `-s * |f - p_k|^2 = 2 s f.p_k - s |p_k|^2 + const`. Images of class k are
 * p_k mixed with another prototype by a random weight, plus noise and a random
 * rectangle, so some are misclassified and every metric has something to say.
 */
import { join } from "node:path";
import { writeSafetensors } from "../weights/safetensors.ts";
import type { SafetensorsTensorData } from "../weights/safetensors.ts";
import { encodePng } from "../report/png.ts";
import { mulberry32 } from "../random.ts";

/** Class names and prototype colours (RGB in [0, 1]). */
export const SYNTHETIC_CLASSES: readonly { name: string; color: [number, number, number] }[] = [
  { name: "red", color: [0.9, 0.15, 0.1] },
  { name: "green", color: [0.15, 0.8, 0.2] },
  { name: "blue", color: [0.1, 0.2, 0.9] },
  { name: "yellow", color: [0.9, 0.85, 0.15] },
  { name: "purple", color: [0.6, 0.15, 0.7] },
];

const WIDTH = [8, 16]; // hidden sizes of the two stages
const EMBED = 8;
const SCALE = 12; // classifier sharpness s

function f32(shape: number[], fill: (i: number) => number = () => 0): SafetensorsTensorData {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: "F32", shape, data: Float32Array.from({ length: n }, (_, i) => fill(i)) };
}

/** BatchNorm that is the identity in eval mode (var = 1 - eps so the scale is exactly 1). */
function identityBn(prefix: string, c: number, t: Record<string, SafetensorsTensorData>): void {
  t[`${prefix}.weight`] = f32([c], () => 1);
  t[`${prefix}.bias`] = f32([c]);
  t[`${prefix}.running_mean`] = f32([c]);
  t[`${prefix}.running_var`] = f32([c], () => 1 - 1e-5);
}

/** Writes config.json, preprocessor_config.json and model.safetensors into `dir`. */
export async function writeSyntheticModel(dir: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const t: Record<string, SafetensorsTensorData> = {};
  const K = SYNTHETIC_CLASSES.length;
  // Stem: output channel c < 3 = mean of input channel c over the 7x7 window.
  t["resnet.embedder.embedder.convolution.weight"] = f32([EMBED, 3, 7, 7], (i) => {
    const o = Math.floor(i / (3 * 49)), c = Math.floor(i / 49) % 3;
    return o === c ? 1 / 49 : 0;
  });
  identityBn("resnet.embedder.embedder.normalization", EMBED, t);
  let cin = EMBED;
  WIDTH.forEach((cout, s) => {
    const p = `resnet.encoder.stages.${s}.layers.0`;
    t[`${p}.layer.0.convolution.weight`] = f32([cout, cin, 3, 3]);
    identityBn(`${p}.layer.0.normalization`, cout, t);
    t[`${p}.layer.1.convolution.weight`] = f32([cout, cout, 3, 3]);
    identityBn(`${p}.layer.1.normalization`, cout, t);
    if (cin !== cout || s > 0) {
      // 1x1 shortcut copying channel c to channel c.
      t[`${p}.shortcut.convolution.weight`] = f32(
        [cout, cin, 1, 1],
        (i) => (Math.floor(i / cin) === i % cin ? 1 : 0),
      );
      identityBn(`${p}.shortcut.normalization`, cout, t);
    }
    cin = cout;
  });
  const D = WIDTH[WIDTH.length - 1];
  t["classifier.1.weight"] = f32([K, D], (i) => {
    const k = Math.floor(i / D), d = i % D;
    return d < 3 ? 2 * SCALE * SYNTHETIC_CLASSES[k].color[d] : 0;
  });
  t["classifier.1.bias"] = f32(
    [K],
    (k) => -SCALE * SYNTHETIC_CLASSES[k].color.reduce((a, v) => a + v * v, 0),
  );
  await writeSafetensors(join(dir, "model.safetensors"), t, { format: "pt" });

  const id2label = Object.fromEntries(SYNTHETIC_CLASSES.map((c, i) => [String(i), c.name]));
  const config = {
    architectures: ["ResNetForImageClassification"],
    model_type: "resnet",
    num_channels: 3,
    embedding_size: EMBED,
    hidden_sizes: WIDTH,
    depths: WIDTH.map(() => 1),
    layer_type: "basic",
    hidden_act: "relu",
    downsample_in_first_stage: false,
    downsample_in_bottleneck: false,
    num_labels: K,
    id2label,
    label2id: Object.fromEntries(SYNTHETIC_CLASSES.map((c, i) => [c.name, i])),
    _comment: "visioneval synthetic demo model: designed weights that classify mean colour",
  };
  await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
  const processor = {
    image_processor_type: "ViTImageProcessor",
    do_resize: true,
    size: { height: 64, width: 64 },
    resample: 2,
    do_rescale: true,
    rescale_factor: 1 / 255,
    do_normalize: true,
    image_mean: [0, 0, 0],
    image_std: [1, 1, 1],
  };
  await Deno.writeTextFile(
    join(dir, "preprocessor_config.json"),
    JSON.stringify(processor, null, 2) + "\n",
  );
}

/**
 * Writes `perClass` PNG images per class into `dir/<class>/NNN.png`
 * (ImageFolder layout), of varying sizes, deterministic for a seed.
 */
export async function writeSyntheticImages(
  dir: string,
  perClass: number,
  seed = 1,
): Promise<number> {
  const rand = mulberry32(seed);
  let count = 0;
  for (const [k, cls] of SYNTHETIC_CLASSES.entries()) {
    await Deno.mkdir(join(dir, cls.name), { recursive: true });
    for (let i = 0; i < perClass; i++) {
      const w = 48 + Math.floor(rand() * 48), h = 48 + Math.floor(rand() * 48);
      const other = SYNTHETIC_CLASSES[
        (k + 1 + Math.floor(rand() * (SYNTHETIC_CLASSES.length - 1))) %
        SYNTHETIC_CLASSES.length
      ].color;
      const mix = 0.6 * rand(); // above ~0.5 the image looks more like `other`
      const base = cls.color.map((c, j) => (1 - mix) * c + mix * other[j]);
      const rect = {
        x: Math.floor(rand() * w / 2),
        y: Math.floor(rand() * h / 2),
        w: Math.floor(rand() * w / 2),
        h: Math.floor(rand() * h / 2),
        color: [rand(), rand(), rand()],
      };
      const data = new Uint8Array(w * h * 3);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) {
          const inRect = x >= rect.x && x < rect.x + rect.w && y >= rect.y && y < rect.y + rect.h;
          for (let c = 0; c < 3; c++) {
            const v = (inRect ? rect.color[c] : base[c]) + 0.15 * (rand() - 0.5);
            data[(y * w + x) * 3 + c] = Math.max(0, Math.min(255, Math.round(v * 255)));
          }
        }
      }
      const name = join(dir, cls.name, `${String(i).padStart(3, "0")}.png`);
      await Deno.writeFile(name, encodePng({ width: w, height: h, data }));
      count++;
    }
  }
  return count;
}
