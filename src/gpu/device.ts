/**
 * Adapter and device acquisition. One process drives one GPU: `getGpu()`
 * returns a cached handle. Limits are requested up to what the adapter allows
 * (kernels size their work from `gpu.limits`), optional features are enabled
 * when present.
 */
import { GpuDeviceLostError, GpuUnavailableError, VisionEvalError } from "../errors.ts";

/** Description of the adapter a {@link Gpu} runs on. */
export interface AdapterDescription {
  /** Human-readable adapter name, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)". */
  description: string;
  /** PCI vendor id or name as reported by the adapter. */
  vendor: string;
  /** Architecture string (may be empty). */
  architecture: string;
  /** Device id string (may be empty). */
  device: string;
  /** True for software / fallback adapters (lavapipe, llvmpipe, WARP). */
  isFallbackAdapter: boolean;
}

/** A ready WebGPU device with what the engine needs to know about it. */
export interface Gpu {
  /** The WebGPU device. */
  device: GPUDevice;
  /** The adapter the device was created from. */
  adapter: GPUAdapter;
  /** Adapter description for reports. */
  info: AdapterDescription;
  /** Limits granted on the device. */
  limits: GPUSupportedLimits;
  /** Features enabled on the device. */
  features: ReadonlySet<string>;
  /** True if `shader-f16` is enabled. */
  hasF16: boolean;
  /** True if `timestamp-query` is enabled. */
  hasTimestamps: boolean;
  /** True if `subgroups` is enabled (subgroup reductions become GPU-path candidates). */
  hasSubgroups: boolean;
  /** Name of the operation in flight, used in device-lost messages. */
  currentOp: string;
  /** Set once the device is lost; every later GPU call rethrows it. */
  lost?: GpuDeviceLostError;
  /**
   * First uncaptured WebGPU error (shader validation, out of memory, ...)
   * since the last check; `Engine.read`/`sync` throw it instead of returning
   * garbage.
   */
  error?: GpuError;
}

/** A WebGPU validation / out-of-memory error, with the kernel that was being recorded. */
export class GpuError extends VisionEvalError {}

/** Limits the engine asks for, up to what the adapter supports. */
const WANTED_LIMITS = [
  "maxStorageBufferBindingSize",
  "maxBufferSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupSizeZ",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
  "maxTextureDimension2D",
  "maxTextureArrayLayers",
] as const;

const OPTIONAL_FEATURES = ["shader-f16", "timestamp-query", "subgroups"] as GPUFeatureName[];

const HOW_TO_GET_ONE = "WebGPU needs a GPU driver (Vulkan, Metal or D3D12). On a Linux machine " +
  "without a GPU install Mesa's software Vulkan driver: `apt-get install mesa-vulkan-drivers` " +
  "(lavapipe), then run again.";

let cached: Promise<Gpu> | undefined;

/** Returns the process-wide GPU, creating it on first use. */
export function getGpu(): Promise<Gpu> {
  cached ??= createGpu().catch((e) => {
    cached = undefined;
    throw e;
  });
  return cached;
}

function createGpu(): Promise<Gpu> {
  return requestGpu((globalThis.navigator as Navigator | undefined)?.gpu);
}

/**
 * Creates a device from a WebGPU entry point (`navigator.gpu`), asking for
 * the limits and features the engine uses. Throws {@link GpuUnavailableError}
 * when there is no entry point, no adapter, or the adapter refuses.
 */
export async function requestGpu(gpuApi: GPU | undefined): Promise<Gpu> {
  if (!gpuApi) {
    throw new GpuUnavailableError(
      `navigator.gpu is not available in this runtime. ${HOW_TO_GET_ONE}`,
    );
  }
  const adapter = await gpuApi.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) throw new GpuUnavailableError(`No WebGPU adapter was found. ${HOW_TO_GET_ONE}`);

  const requiredLimits: Record<string, number> = {};
  for (const name of WANTED_LIMITS) {
    const v = (adapter.limits as unknown as Record<string, number>)[name];
    if (typeof v === "number") requiredLimits[name] = v;
  }
  const requiredFeatures = OPTIONAL_FEATURES.filter((f) => adapter.features.has(f));
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  } catch (e) {
    throw new GpuUnavailableError(
      `The adapter "${adapter.info.description}" refused to create a device: ${
        (e as Error).message
      }. ${HOW_TO_GET_ONE}`,
    );
  }
  const info: AdapterDescription = {
    description: adapter.info.description || adapter.info.device || "unknown adapter",
    vendor: adapter.info.vendor,
    architecture: adapter.info.architecture,
    device: adapter.info.device,
    isFallbackAdapter: Boolean((adapter.info as { isFallbackAdapter?: boolean }).isFallbackAdapter),
  };
  const gpu: Gpu = {
    device,
    adapter,
    info,
    limits: device.limits,
    features: new Set(device.features as unknown as Iterable<string>),
    hasF16: device.features.has("shader-f16"),
    hasTimestamps: device.features.has("timestamp-query"),
    hasSubgroups: device.features.has("subgroups" as GPUFeatureName),
    currentOp: "idle",
  };
  device.lost.then((lostInfo) => {
    gpu.lost = new GpuDeviceLostError(
      `The GPU device was lost while running "${gpu.currentOp}": ${
        lostInfo.message || lostInfo.reason
      }. Try a smaller --batch, or check the GPU driver.`,
    );
  });
  device.addEventListener("uncapturederror", (ev) => {
    const err = (ev as GPUUncapturedErrorEvent).error;
    gpu.error ??= new GpuError(
      `WebGPU error while recording "${gpu.currentOp}": ${err.message.trim()}`,
    );
  });
  return gpu;
}

/** Throws the device-lost error if the device is gone (call before waiting on the GPU). */
export function assertAlive(gpu: Gpu): void {
  if (gpu.lost) throw gpu.lost;
}

/** Throws (and clears) the first uncaptured WebGPU error, if any. */
export function throwPendingError(gpu: Gpu): void {
  const err = gpu.error;
  if (err) {
    gpu.error = undefined;
    throw err;
  }
}

/**
 * Waits for `promise` (a map or queue promise) but fails with a
 * {@link GpuDeviceLostError} instead of hanging if the device is lost meanwhile.
 */
export async function awaitGpu<T>(gpu: Gpu, promise: Promise<T>): Promise<T> {
  assertAlive(gpu);
  const lost = gpu.device.lost.then((lostInfo) => {
    throw gpu.lost ?? new GpuDeviceLostError(
      `The GPU device was lost while running "${gpu.currentOp}": ${lostInfo.message}`,
    );
  });
  const result = await Promise.race([promise, lost]) as T;
  // Uncaptured errors are delivered as events; let them arrive before checking.
  await new Promise((r) => setTimeout(r, 0));
  throwPendingError(gpu);
  return result;
}
