/**
 * WGSL kernels and their compiled pipelines. A kernel is a WGSL source (one
 * file in `shaders/`, imported as text) plus an entry point; a specialization
 * is a set of WGSL `override` constants. Pipelines are compiled once per
 * (kernel, entry, constants) and cached on the device.
 */

/** A compute kernel: WGSL source and how to specialize it. */
export interface Kernel {
  /** Unique name, used as cache key and in profiles/errors (e.g. "gemm"). */
  name: string;
  /** WGSL source. */
  code: string;
  /** Entry point (default "main"). */
  entry?: string;
  /** Values for WGSL `override` constants. */
  constants?: Record<string, number>;
}

const pipelineCaches = new WeakMap<GPUDevice, Map<string, GPUComputePipeline>>();
const moduleCaches = new WeakMap<GPUDevice, Map<string, GPUShaderModule>>();

/** Cache key of a kernel specialization. */
export function kernelKey(k: Kernel): string {
  const consts = k.constants
    ? Object.keys(k.constants).sort().map((c) => `${c}=${k.constants![c]}`).join(",")
    : "";
  return `${k.name}:${k.entry ?? "main"}:${consts}`;
}

/** The compiled pipeline of `kernel` on `device` (compiled on first use). */
export function getPipeline(device: GPUDevice, kernel: Kernel): GPUComputePipeline {
  let cache = pipelineCaches.get(device);
  if (!cache) pipelineCaches.set(device, cache = new Map());
  const key = kernelKey(kernel);
  let pipeline = cache.get(key);
  if (pipeline) return pipeline;

  let modules = moduleCaches.get(device);
  if (!modules) moduleCaches.set(device, modules = new Map());
  let module = modules.get(kernel.name);
  if (!module) {
    module = device.createShaderModule({ code: kernel.code, label: kernel.name });
    modules.set(kernel.name, module);
  }
  pipeline = device.createComputePipeline({
    label: key,
    layout: "auto",
    compute: { module, entryPoint: kernel.entry ?? "main", constants: kernel.constants },
  });
  cache.set(key, pipeline);
  return pipeline;
}

/**
 * Splits a 1-D count of workgroups into an (x, y) grid whose dimensions stay
 * within `maxPerDim`. Shaders recover the linear id as
 * `wid.x + wid.y * nwg.x` and must return when it is `>= total`.
 */
export function splitGrid(total: number, maxPerDim: number): [number, number] {
  if (total <= maxPerDim) return [Math.max(1, total), 1];
  const y = Math.ceil(total / maxPerDim);
  if (y > maxPerDim) {
    throw new RangeError(`${total} workgroups exceed the ${maxPerDim}^2 grid this adapter allows`);
  }
  return [Math.ceil(total / y), y];
}
