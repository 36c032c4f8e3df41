/**
 * A GPU tensor: a storage buffer plus shape and element type. Tensors are
 * row-major (last dimension contiguous), NCHW for images.
 */

/** Element types the kernels use. Weights of other dtypes are converted to f32 on load. */
export type DType = "f32" | "u32" | "i32";

/** Bytes per element of each {@link DType}. */
export const BYTES_PER_ELEMENT: Record<DType, number> = { f32: 4, u32: 4, i32: 4 };

/** Number of elements of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A buffer on the GPU with a shape. Create through {@link Engine}. */
export class Tensor {
  /** Where the tensor was borrowed from; `release()` gives it back. */
  #onRelease?: (t: Tensor) => void;
  /** True after `release()`. */
  released = false;

  /** Wraps `buffer` (which may be larger than the tensor) as a tensor. */
  constructor(
    /** The storage buffer; its first `byteLength` bytes hold the tensor. */
    readonly buffer: GPUBuffer,
    /** Dimensions, outermost first. */
    readonly shape: readonly number[],
    /** Element type. */
    readonly dtype: DType = "f32",
    /** Name used in error messages and profiles. */
    readonly label = "tensor",
    onRelease?: (t: Tensor) => void,
  ) {
    this.#onRelease = onRelease;
  }

  /** Number of elements. */
  get size(): number {
    return numel(this.shape);
  }

  /** Bytes the tensor occupies. */
  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT[this.dtype];
  }

  /** A view of the same buffer with another shape of the same size. */
  reshape(shape: readonly number[]): Tensor {
    const known = shape.filter((d) => d >= 0);
    const inferred = shape.map((d) => d < 0 ? this.size / numel(known) : d);
    if (numel(inferred) !== this.size || inferred.some((d) => !Number.isInteger(d))) {
      throw new Error(`cannot reshape ${this.label} [${this.shape}] to [${shape}]`);
    }
    return new Tensor(this.buffer, inferred, this.dtype, this.label);
  }

  /** Returns the buffer to the engine's pool (views are not released). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.#onRelease?.(this);
  }
}
