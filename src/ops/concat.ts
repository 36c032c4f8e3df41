/** Concatenation along the last axis (shaders/concat.wgsl). */
import code from "../../shaders/concat.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

const WG = 256;

/**
 * `[a | b]` along the last axis: a [..., Da] and b [..., Db] with the same
 * leading dimensions -> [..., Da + Db] (e.g. DINOv2's class token beside the
 * mean of its patch tokens).
 */
export function concatLast(engine: Engine, a: Tensor, b: Tensor): Tensor {
  const da = a.shape[a.shape.length - 1], db = b.shape[b.shape.length - 1];
  const lead = a.shape.slice(0, -1);
  if (
    lead.length !== b.shape.length - 1 || lead.some((d, i) => d !== b.shape[i])
  ) {
    throw new Error(`concatLast: [${a.shape}] and [${b.shape}] differ before the last axis`);
  }
  const out = engine.empty([...lead, da + db], "f32", "concat");
  if (out.size === 0) return out;
  engine.run(
    { name: "concat", code, constants: { WG } },
    [a, b, out],
    Math.ceil(out.size / WG),
    packParams([out.size, da, db]),
  );
  return out;
}
