/**
 * Grad-CAM and Grad-CAM++ class activation maps for networks whose head is a
 * global average pool followed by a linear classifier (ResNets).
 *
 * No backward pass: with `logit_c = sum_k W[c,k] mean_ij A[k,i,j] + b_c` the
 * gradient of the class score with respect to the final feature map is known
 * in closed form, `G[k,i,j] = W[c,k] / (h*w)`, constant over the spatial
 * positions. Grad-CAM's weights (the spatial mean of G) are then
 * `W[c,k] / (h*w)`, and Grad-CAM++'s `alpha = g^2 / (2 g^2 + sum_ij(A) g^3)`
 * is one number per channel. Everything runs on the GPU over the whole batch
 * (shaders/gradcam.wgsl): one `weights` dispatch over B*K and one `cam`
 * dispatch over B*h*w, reading the feature map the forward pass left on the
 * GPU, so maps cost one extra read of the final feature map.
 */
import code from "../../shaders/gradcam.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

const WG = 64;

/** Options of {@link gradCam}. */
export interface GradCamOptions {
  /** Grad-CAM++ instead of Grad-CAM. */
  plusPlus?: boolean;
  /**
   * Added to the Grad-CAM++ denominator (a common implementation choice,
   * e.g. 1e-6; alpha is then also zeroed where the gradient is 0). Default 0:
   * the definition, alpha = 0 where the denominator is 0.
   */
  eps?: number;
}

/** Result of {@link gradCam}: GPU tensors the caller releases. */
export interface GradCamResult {
  /** Maps at feature resolution, [B, h, w], ReLU'd, not normalized. */
  maps: Tensor;
  /** Channel weights [B, K]. */
  weights: Tensor;
  /** Releases the tensors above (and the uploaded class indices, if any). */
  release(): void;
}

/** class[b] = argmax_c logits[b, c] on the GPU (ties to the lower index), as u32 [B]. */
export function argmaxRows(engine: Engine, logits: Tensor): Tensor {
  const [batch, classes] = logits.shape;
  const out = engine.empty([batch], "u32", "argmax");
  engine.run(
    { name: "gradcam", code, entry: "argmax_rows", constants: { WG } },
    [logits, out],
    Math.ceil(batch / WG),
    packParams([batch, 0, 0, classes, 0, { f32: 0 }]),
  );
  return out;
}

/**
 * Grad-CAM (or Grad-CAM++) maps for a batch.
 *
 * @param featureMap final-stage activations [B, K, h, w] (after the last ReLU, before pooling)
 * @param classifierWeight the linear head's weight [C, K]: a GPU tensor, or a host array
 *   uploaded for this call (keep a tensor when calling once per batch)
 * @param classes target class per image: a u32/i32 GPU tensor [B] (e.g. from
 *   {@link argmaxRows} on the logits) or host numbers
 */
export function gradCam(
  engine: Engine,
  featureMap: Tensor,
  classifierWeight: Tensor | Float32Array,
  classes: Tensor | ArrayLike<number>,
  opts: GradCamOptions = {},
): GradCamResult {
  if (featureMap.shape.length !== 4) {
    throw new Error(`gradCam: feature map must be [B, K, h, w], got [${featureMap.shape}]`);
  }
  const [batch, channels, h, w] = featureMap.shape;
  const ownWeight = classifierWeight instanceof Float32Array;
  if (ownWeight && classifierWeight.length % channels !== 0) {
    throw new Error(
      `gradCam: classifier weight of ${classifierWeight.length} values is not [C, ${channels}]`,
    );
  }
  const weight = ownWeight
    ? engine.upload(
      classifierWeight,
      [classifierWeight.length / channels, channels],
      "gradcam classifier weight",
    )
    : classifierWeight;
  if (weight.shape.length !== 2 || weight.shape[1] !== channels) {
    throw new Error(
      `gradCam: classifier weight [${weight.shape}] does not match ${channels} feature channels`,
    );
  }
  const numClasses = weight.shape[0];
  let target: Tensor;
  let ownTarget = false;
  if ("buffer" in classes && "shape" in classes) {
    target = classes as Tensor;
    if (target.size !== batch) throw new Error(`gradCam: ${target.size} classes for ${batch} maps`);
  } else {
    const host = classes as ArrayLike<number>;
    if (host.length !== batch) throw new Error(`gradCam: ${host.length} classes for ${batch} maps`);
    const u = new Uint32Array(batch);
    for (let i = 0; i < batch; i++) {
      const c = host[i];
      if (!Number.isInteger(c) || c < 0 || c >= numClasses) {
        throw new RangeError(`gradCam: class ${c} is outside 0..${numClasses - 1}`);
      }
      u[i] = c;
    }
    target = engine.upload(u, [batch], "gradcam classes");
    ownTarget = true;
  }
  const pixels = h * w;
  const params = packParams([
    batch,
    channels,
    pixels,
    numClasses,
    opts.plusPlus ? 1 : 0,
    { f32: opts.eps ?? 0 },
  ]);
  const weights = engine.empty([batch, channels], "f32", "gradcam weights");
  engine.run(
    { name: "gradcam", code, entry: "weights", constants: { WG } },
    [featureMap, weight, target, weights],
    Math.ceil((batch * channels) / WG),
    params,
  );
  const maps = engine.empty([batch, h, w], "f32", "gradcam maps");
  engine.run(
    { name: "gradcam", code, entry: "cam", constants: { WG } },
    [featureMap, weights, maps],
    Math.ceil((batch * pixels) / WG),
    params,
  );
  // The uploaded classes must live until the batch is submitted (a pooled
  // buffer handed out again could be overwritten by a queue write first).
  return {
    maps,
    weights,
    release() {
      maps.release();
      weights.release();
      if (ownTarget) target.release();
      if (ownWeight) weight.release();
    },
  };
}
