/**
 * Typed errors a user can cause. The CLI prints their message (no stack) and
 * exits 1; every message names the thing at fault and says what to do.
 */

/** Base class of every error visioneval raises on purpose. */
export class VisionEvalError extends Error {
  /** Creates an error with a user-facing message. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** No WebGPU adapter could be obtained. */
export class GpuUnavailableError extends VisionEvalError {}

/**
 * The GPU path's kernels computed something other than the reference
 * kernels on this adapter (src/models/kernel_check.ts): the run stops
 * rather than report numbers from them.
 */
export class KernelCheckError extends VisionEvalError {}

/** The GPU device was lost (driver reset, out of memory, crash). */
export class GpuDeviceLostError extends VisionEvalError {}

/** A tensor or dispatch exceeds what the adapter allows, or needs a feature it lacks. */
export class GpuLimitError extends VisionEvalError {}

/** A malformed or unsupported `.safetensors` file. */
export class SafetensorsError extends VisionEvalError {}

/** A model folder whose layout is unknown, incomplete or inconsistent. */
export class ModelLayoutError extends VisionEvalError {}

/** A dataset, image or labels file that cannot be used. */
export class DataError extends VisionEvalError {}

/** Bad input to a metric computation (labels out of range, malformed rows, ...). */
export class MetricsInputError extends VisionEvalError {}

/** Bad command-line usage (exit code 2). */
export class UsageError extends VisionEvalError {}

/**
 * Samples whose logits (or probabilities) hold NaN or infinite values: a
 * metric computed from them would be garbage, so the metric state refuses
 * them. `count` rows were affected; `firstRow` is the first one's position
 * in the order the rows were recorded, `firstIndex` its global sample index.
 */
export class NonFiniteValuesError extends MetricsInputError {
  /** Creates the error; the message is built by the caller. */
  constructor(
    message: string,
    /** Rows with a NaN or infinite value. */
    readonly count: number,
    /** Position (0-based, in update order) of the first such row. */
    readonly firstRow: number,
    /** Global sample index of the first such row. */
    readonly firstIndex: number,
  ) {
    super(message);
  }
}
