/**
 * The option-A shortcut of CIFAR ResNets (shaders/shortcut_option_a.wgsl):
 * spatial subsampling by `stride` plus zero channels on both sides, so a
 * downsampling block needs no projection weights.
 */
import code from "../../shaders/shortcut_option_a.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

const WG = 256;

/**
 * `F.pad(x[:, :, ::stride, ::stride], (0, 0, 0, 0, padBefore, padAfter))` for
 * `x` [N, C, H, W]; the result is [N, padBefore + C + padAfter, ceil(H/stride), ceil(W/stride)].
 */
export function shortcutOptionA(
  engine: Engine,
  x: Tensor,
  stride: number,
  padBefore: number,
  padAfter: number,
): Tensor {
  if (x.shape.length !== 4) throw new Error(`shortcutOptionA: ${x.label} [${x.shape}] is not NCHW`);
  const [n, c, h, w] = x.shape;
  const cout = padBefore + c + padAfter;
  const ho = Math.ceil(h / stride);
  const wo = Math.ceil(w / stride);
  const out = engine.empty([n, cout, ho, wo], "f32", "shortcut_option_a");
  engine.run(
    { name: "shortcut_option_a", code, constants: { WG } },
    [x, out],
    Math.ceil(out.size / WG),
    packParams([out.size, c, h, w, cout, ho, wo, stride, padBefore]),
  );
  return out;
}
