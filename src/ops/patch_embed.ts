/**
 * Vision Transformer token plumbing (shaders/patch_embed.wgsl): cutting an
 * image into patch rows for the patch-embedding GEMM, assembling the token
 * sequence, and taking tokens out of it.
 */
import code from "../../shaders/patch_embed.wgsl" with { type: "text" };
import type { Engine } from "../gpu/engine.ts";
import { packParams } from "../gpu/params.ts";
import type { Tensor } from "../tensor.ts";

const WG = 256;

/**
 * pixels [B, C, H, W] -> patches [B, gh * gw, C * ph * pw] with gh = H / ph
 * and gw = W / pw rounded down (trailing rows / columns are dropped, like the
 * strided patch-embedding conv). Column order (c, i, j) matches a conv weight
 * [D, C, ph, pw] viewed as [D, C * ph * pw].
 */
export function patchify(engine: Engine, pixels: Tensor, patch: [number, number]): Tensor {
  if (pixels.shape.length !== 4) throw new Error(`patchify: pixels [${pixels.shape}] is not 4-D`);
  const [B, C, H, W] = pixels.shape;
  const [ph, pw] = patch;
  const gh = Math.floor(H / ph), gw = Math.floor(W / pw);
  if (gh < 1 || gw < 1) {
    throw new Error(`patchify: image ${H}x${W} is smaller than one ${ph}x${pw} patch`);
  }
  const out = engine.empty([B, gh * gw, C * ph * pw], "f32", "patches");
  engine.run(
    { name: "patch_embed", code, entry: "patchify", constants: { WG } },
    [pixels, out],
    Math.ceil(out.size / WG),
    packParams([out.size, C, H, W, ph, pw, gh, gw]),
  );
  return out;
}

/**
 * tokens [B, P + N, D]: the P prefix tokens (`prefix` [P, D]) then the
 * embedded patches (`emb` [B, N, D]), plus `pos` [P + N, D].
 */
export function assembleTokens(engine: Engine, emb: Tensor, prefix: Tensor, pos: Tensor): Tensor {
  const [B, N, D] = emb.shape;
  const P = prefix.size / D;
  const T = P + N;
  if (pos.size !== T * D) {
    throw new Error(`assembleTokens: pos [${pos.shape}] is not [${T}, ${D}]`);
  }
  const out = engine.empty([B, T, D], "f32", "tokens");
  engine.run(
    { name: "patch_embed", code, entry: "assemble_tokens", constants: { WG } },
    [emb, prefix, pos, out],
    Math.ceil(out.size / WG),
    packParams([out.size, T, D, P]),
  );
  return out;
}

/**
 * x [B, T, D] -> [B, count, D] holding tokens first .. first + count - 1
 * (written into `out`, of any shape with that many elements, when given).
 */
export function takeTokens(
  engine: Engine,
  x: Tensor,
  first: number,
  count: number,
  out: Tensor = engine.empty([x.shape[0], count, x.shape[2]], "f32", "taken-tokens"),
): Tensor {
  const [B, T, D] = x.shape;
  if (first + count > T) throw new Error(`takeTokens: ${first}+${count} > ${T} tokens`);
  if (out.size !== B * count * D) {
    throw new Error(`takeTokens: out [${out.shape}] has the wrong size`);
  }
  engine.run(
    { name: "patch_embed", code, entry: "take_tokens", constants: { WG } },
    [x, out],
    Math.ceil(out.size / WG),
    packParams([out.size, T, D, first, count]),
  );
  return out;
}
