/**
 * The model-level kernel check of the GPU path. The GEMM tilings and the
 * subgroup reductions are checked shape by shape before use
 * (src/gpu/autotune.ts); the GPU path's other kernels (depthwise, the
 * im2col pack per texel, attention's wider workgroups, LayerNorm's
 * workgroup per row, the Swin window gathers at their sizes) are checked
 * here, once per loaded model: two random images through the network with
 * the GPU path's kernels (GEMMs and reductions on their references) and with
 * the software path's kernels, and their logits compared. The GPU path's
 * kernels have only been tested on a software adapter; on a real GPU a
 * driver or a size the tests never met could make one compute something
 * else, and this turns that into an error instead of believable numbers.
 */
import { Engine } from "../gpu/engine.ts";
import { Autotuner } from "../gpu/autotune.ts";
import { KernelCheckError } from "../errors.ts";
import { gaussian, mulberry32 } from "../random.ts";
import type { Classifier } from "./classifier.ts";

/** Largest accepted max |gpu - software| of the logits, as a fraction of max |software|. */
export const KERNEL_CHECK_TOLERANCE = 1e-3;

/** What the check measured. */
export interface KernelCheck {
  /** max |gpu - software| / max |software| over the logits of the check images. */
  relDiff: number;
  /** The sentence for the run header (`visioneval: model: ...`). */
  note: string;
}

/**
 * Runs the check for `model` when `engine` is on the GPU kernel path
 * (undefined on the software path, which is the reference). Throws
 * {@link KernelCheckError} when the logits differ by more than
 * {@link KERNEL_CHECK_TOLERANCE}, naming the way out (`--kernels software`).
 */
export async function checkKernelPath(
  engine: Engine,
  model: Classifier,
): Promise<KernelCheck | undefined> {
  if (engine.kernels.name !== "gpu") return undefined;
  const [h, w] = model.inputSize;
  const shape = [2, model.inChannels, h, w];
  const next = gaussian(mulberry32(0x5eed));
  const pixels = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, next);
  const logitsOn = async (kernels: "gpu" | "software") => {
    const tuner = new Autotuner(`kernel check ${kernels}`, undefined, false);
    tuner.fixed = "reference";
    const on = await Engine.create({ kernels, tuner, weights: engine.weights });
    const input = on.upload(pixels, shape, "kernel check pixels");
    try {
      const { logits } = model.forward(on, input);
      const values = await on.readF32(logits);
      logits.release();
      return values;
    } finally {
      input.release();
      on.pool.trim();
      on.texturePool.trim();
    }
  };
  const gpu = await logitsOn("gpu");
  const software = await logitsOn("software");
  let maxDiff = 0, maxRef = 0;
  for (let i = 0; i < software.length; i++) {
    const d = Math.abs(gpu[i] - software[i]);
    maxDiff = Number.isNaN(d) ? Infinity : Math.max(maxDiff, d);
    maxRef = Math.max(maxRef, Math.abs(software[i]));
  }
  const relDiff = maxRef > 0 ? maxDiff / maxRef : maxDiff;
  if (!(relDiff <= KERNEL_CHECK_TOLERANCE)) {
    throw new KernelCheckError(
      `The GPU kernel path computes something else than the reference kernels on this adapter ` +
        `for ${model.path}: two random ${h}x${w} images give logits ${
          relDiff.toPrecision(3)
        } apart (relative; at most ${KERNEL_CHECK_TOLERANCE} is float32 rounding). No results ` +
        `were produced from it. Run with --kernels software (correct, slower), and please ` +
        `report this adapter (\`visioneval info\`).`,
    );
  }
  return {
    relDiff,
    note: `kernel check: the GPU path's kernels reproduce the software kernels' logits on two ` +
      `random ${h}x${w} images (${relDiff.toExponential(1)} relative); GEMM tilings and ` +
      `subgroup reductions are checked per shape before use`,
  };
}
