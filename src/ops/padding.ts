/**
 * Zero padding of convolutions: symmetric (PyTorch's `padding=`), explicit
 * per side (a `nn.ZeroPad2d` before a "valid" convolution), or TensorFlow's
 * "SAME" rule, computed from the input size at run time. The kernels only
 * need the top / left offsets: a tap outside the input reads zero on every
 * side, so the bottom / right padding only sets the output size.
 */

/** A size given for both spatial dimensions or as [height, width]. */
export type Size2 = number | readonly [number, number];

/** [h, w] of a {@link Size2}. */
export function pair(s: Size2 | undefined, dflt: number): [number, number] {
  if (s === undefined) return [dflt, dflt];
  return typeof s === "number" ? [s, s] : [s[0], s[1]];
}

/** Zero padding on each side, in pixels. */
export interface Pad4 {
  /** Rows above the input. */
  top: number;
  /** Rows below it. */
  bottom: number;
  /** Columns left of it. */
  left: number;
  /** Columns right of it. */
  right: number;
}

/**
 * How a convolution pads its input: symmetric (a {@link Size2}, as PyTorch's
 * `padding=`), explicit per side ({@link Pad4}), or `"same"`: TensorFlow's
 * SAME rule ({@link samePadding}), which depends on the input size (timm's
 * `tf_*` models, Hugging Face MobileNetV2's `tf_padding`).
 */
export type Padding = Size2 | Pad4 | "same";

/**
 * TensorFlow "SAME" padding along one axis: [before, after] with
 * total = max((ceil(in / s) - 1) * s + (k - 1) * d + 1 - in, 0),
 * before = floor(total / 2) and the rest after, so that the output has
 * ceil(in / s) positions. At stride 1 and an odd kernel it is the symmetric
 * (k - 1) / 2 of PyTorch; at stride 2 it depends on the parity of `in`
 * (e.g. 3x3: [0, 1] for an even input, [1, 1] for an odd one).
 */
export function samePadding(
  inSize: number,
  kernel: number,
  stride: number,
  dilation = 1,
): [number, number] {
  const total = Math.max(
    (Math.ceil(inSize / stride) - 1) * stride + (kernel - 1) * dilation + 1 - inSize,
    0,
  );
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** The padding of an `h` x `w` input under `padding` (undefined: none) for a kh x kw kernel. */
export function resolvePadding(
  padding: Padding | undefined,
  h: number,
  w: number,
  kernel: readonly [number, number],
  stride: readonly [number, number],
  dilation: readonly [number, number] = [1, 1],
): Pad4 {
  if (padding === "same") {
    const [top, bottom] = samePadding(h, kernel[0], stride[0], dilation[0]);
    const [left, right] = samePadding(w, kernel[1], stride[1], dilation[1]);
    return { top, bottom, left, right };
  }
  if (typeof padding === "object" && !Array.isArray(padding)) {
    const p = padding as Pad4;
    if (![p.top, p.bottom, p.left, p.right].every((v) => Number.isInteger(v) && v >= 0)) {
      throw new Error(`padding ${JSON.stringify(p)}: every side must be an integer >= 0`);
    }
    return p;
  }
  const [ph, pw] = pair(padding as Size2 | undefined, 0);
  return { top: ph, bottom: ph, left: pw, right: pw };
}

/** Output size along one axis of a window padded by `before` + `after`. */
export function paddedOutSize(
  inSize: number,
  kernel: number,
  stride: number,
  before: number,
  after: number,
  dilation = 1,
): number {
  return Math.floor((inSize + before + after - dilation * (kernel - 1) - 1) / stride) + 1;
}

/** Output [h, w] of an `h` x `w` input padded by `pad`. */
export function paddedOutShape(
  h: number,
  w: number,
  pad: Pad4,
  kernel: readonly [number, number],
  stride: readonly [number, number],
  dilation: readonly [number, number] = [1, 1],
): [number, number] {
  return [
    paddedOutSize(h, kernel[0], stride[0], pad.top, pad.bottom, dilation[0]),
    paddedOutSize(w, kernel[1], stride[1], pad.left, pad.right, dilation[1]),
  ];
}
