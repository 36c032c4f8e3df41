/**
 * The GPU side of test-time augmentation: make the views of a batch from its
 * host-prepared crops (shaders/tta_views.wgsl: gather + left-right flip), and
 * reduce the views' outputs to one row per image (shaders/tta_mean.wgsl:
 * weighted sum, optionally finished with a log).
 */
import viewsCode from "../../shaders/tta_views.wgsl" with { type: "text" };
import meanCode from "../../shaders/tta_mean.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

/**
 * Views [B * V, 3, H, W] (image-major: row b * V + v) from crops
 * [B * R, 3, H, W]; `table` is a u32 tensor [V, 2] of (crop index, flip).
 */
export function ttaViews(engine: Engine, crops: Tensor, table: Tensor, images: number): Tensor {
  const [rows, ch, h, w] = crops.shape;
  const R = rows / images, V = table.shape[0];
  if (!Number.isInteger(R) || ch !== 3) {
    throw new Error(
      `ttaViews: crops [${crops.shape}] are not ${images} images x R crops x 3 channels`,
    );
  }
  const out = engine.empty([images * V, 3, h, w], "f32", "tta.views");
  engine.run(
    { name: "tta_views", code: viewsCode },
    [crops, table, out],
    Math.ceil(out.size / 256),
    packParams([images, R, V, h, w]),
  );
  return out;
}

/** Options of {@link ttaReduce}. */
export interface TtaReduceOptions {
  /** Add into `out` instead of overwriting it. */
  accumulate?: boolean;
  /** Finish with out = log(max(out, FLT_MIN)). */
  finishLog?: boolean;
}

/**
 * out[b, c] (+)= sum_v weight[v] * x[b * V + v, c] for x [B * V, C] and
 * `weight` an f32 tensor [V]; views with weight 0 are skipped.
 */
export function ttaReduce(
  engine: Engine,
  x: Tensor,
  weight: Tensor,
  out: Tensor,
  opts: TtaReduceOptions = {},
): Tensor {
  const [rows, C] = x.shape;
  const V = weight.size, B = rows / V;
  if (!Number.isInteger(B) || out.shape[0] !== B || out.shape[1] !== C) {
    throw new Error(`ttaReduce: x [${x.shape}], ${V} views, out [${out.shape}] do not match`);
  }
  engine.run(
    { name: "tta_mean", code: meanCode },
    [x, weight, out],
    Math.ceil(B * C / 256),
    packParams([B, V, C, opts.accumulate ? 1 : 0, opts.finishLog ? 1 : 0]),
  );
  return out;
}
