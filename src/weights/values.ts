/**
 * Value checks of weights as they are read: a NaN or infinite weight, or a
 * negative BatchNorm variance, turns every logit into NaN (or a quietly
 * wrong number), so loading refuses them and names the tensor.
 * `SafetensorsFile.readF32` runs {@link checkWeightValues} on every tensor
 * it returns, which is the read path of every model family.
 */
import { SafetensorsError } from "../errors.ts";

/** Tensor names holding BatchNorm running variances (PyTorch / timm / HF; Keras). */
const VARIANCE_NAME = /(^|[._/])(running_var|moving_variance)$/;

/**
 * Throws a {@link SafetensorsError} naming `source` and tensor `name` when
 * `values` (float32 as the model will use them) hold a NaN or an infinity
 * (a float64 value beyond the float32 range counts as infinite), or when a
 * BatchNorm variance tensor holds a negative value (`running_var + eps` must
 * be positive; a variance never is negative).
 */
export function checkWeightValues(values: Float32Array, name: string, source: string): void {
  let bad = 0, first = -1;
  for (let i = 0; i < values.length; i++) {
    // v - v is 0 for finite v and NaN for NaN / ±Infinity.
    if (values[i] - values[i] !== 0) {
      if (first < 0) first = i;
      bad++;
    }
  }
  if (bad > 0) {
    throw new SafetensorsError(
      `${source}: tensor "${name}" holds ${bad} NaN or infinite value${bad > 1 ? "s" : ""} ` +
        `(first at index ${first}: ${values[first]}) as float32: the model would output NaN ` +
        `logits. The checkpoint is damaged or was saved from a diverged run; use another ` +
        `checkpoint.`,
    );
  }
  if (VARIANCE_NAME.test(name)) {
    const i = values.findIndex((v) => v < 0);
    if (i >= 0) {
      throw new SafetensorsError(
        `${source}: BatchNorm variance "${name}" is negative at channel ${i} (${values[i]}): ` +
          `running_var + eps must be positive and a variance cannot be negative. The ` +
          `checkpoint is damaged; use another checkpoint.`,
      );
    }
  }
}
