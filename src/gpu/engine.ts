/**
 * The engine records kernels into one command encoder per batch and submits
 * it once: no `await` between ops, one readback per request. It owns the
 * buffer pool, a cache of uniform-parameter buffers (a model's op parameters
 * are the same every batch, so they are uploaded once) and an optional
 * per-kernel timestamp profiler.
 *
 * Binding convention for every shader in `shaders/`: when a kernel takes
 * parameters they are a uniform struct at `@group(0) @binding(0)`, and the
 * tensors (or textures, see texture.ts) follow at bindings 1, 2, ...;
 * without parameters they start at binding 0.
 */
import { awaitGpu, getGpu, type Gpu } from "./device.ts";
import { BufferPool } from "./buffer_pool.ts";
import { getPipeline, type Kernel, splitGrid } from "./kernel.ts";
import { BYTES_PER_ELEMENT, type DType, numel, Tensor } from "../tensor.ts";
import { GpuLimitError } from "../errors.ts";
import { GpuTexture, TEXTURE_USAGE, TexturePool } from "./texture.ts";
import {
  chooseKernelPath,
  chooseWeightStorage,
  type KernelOptions,
  type KernelPath,
  type WeightStorage,
} from "./kernel_path.ts";
import { type Autotuner, type TuneResult, tunerFor } from "./autotune.ts";

/** A buffer range to bind. */
export interface BufferRange {
  /** The buffer. */
  buffer: GPUBuffer;
  /** Byte offset (a multiple of the adapter's minStorageBufferOffsetAlignment). */
  offset?: number;
  /** Byte size; the rest of the buffer when omitted. */
  size?: number;
}

/** Something a kernel can bind: a storage buffer, or a texture (see texture.ts). */
export type Binding = Tensor | BufferRange | GpuTexture;

/** Accumulated GPU time of one kernel name. */
export interface KernelProfile {
  /** Kernel name. */
  name: string;
  /** Number of dispatches timed. */
  calls: number;
  /** Total GPU time in milliseconds. */
  ms: number;
}

/** Typed array matching a {@link DType}. */
export type TypedArrayOf<D extends DType> = D extends "f32" ? Float32Array
  : D extends "u32" ? Uint32Array
  : Int32Array;

const MAX_UNIFORM_CACHE = 8192;
const QUERY_CAPACITY = 4096;

/** Options of {@link Engine.create}. */
export interface EngineOptions extends KernelOptions {
  /** Time every kernel with timestamp queries (ignored where unsupported). */
  profile?: boolean;
  /** Where tilings come from (default: the adapter's process-wide tuner and cache file). */
  tuner?: Autotuner;
}

/** Records and runs GPU work. */
export class Engine {
  /** The buffer pool tensors are allocated from. */
  readonly pool: BufferPool;
  /** The pool of textures from {@link Engine.emptyTexture}. */
  readonly texturePool: TexturePool;
  #encoder?: GPUCommandEncoder;
  #pass?: GPUComputePassEncoder;
  #uniforms = new Map<string, GPUBuffer>();
  #profiling: boolean;
  #querySet?: GPUQuerySet;
  #queryNames: string[] = [];
  #profile = new Map<string, KernelProfile>();

  /** The kernel path (software or GPU-class kernels) and why. */
  readonly kernels: KernelPath;
  /** The tilings of the GPU path's kernels (cached winners, queued shapes). */
  readonly tuner: Autotuner;
  /** How linear weights are stored (`prepareLinearWeight`); f16 only with `shader-f16`. */
  readonly weights: WeightStorage;

  private constructor(readonly gpu: Gpu, options: EngineOptions) {
    this.pool = new BufferPool(gpu.device);
    this.texturePool = new TexturePool(gpu.device);
    this.#profiling = Boolean(options.profile && gpu.hasTimestamps);
    this.kernels = chooseKernelPath(gpu.info, options);
    this.weights = chooseWeightStorage(gpu.hasF16, options);
    this.tuner = options.tuner ?? tunerFor(gpu.info, this.kernels.autotune);
  }

  /** An engine on the process GPU. */
  static async create(options: EngineOptions = {}): Promise<Engine> {
    return new Engine(await getGpu(), options);
  }

  /**
   * Times the tilings of the shapes the GPU path's kernels met so far and
   * keeps the fastest for later calls (a no-op on the software path, with
   * autotuning off, or when every shape is cached). Call it after a model's
   * first batch.
   */
  async tuneKernels(): Promise<TuneResult[]> {
    if (this.kernels.name !== "gpu" || !this.tuner.pending) return [];
    await this.sync();
    return await this.tuner.tune(this);
  }

  /**
   * Milliseconds per repetition of the work `record` records (onto the
   * engine it is given): GPU time from timestamp queries where the adapter
   * has them, else wall clock around a submit and wait.
   */
  async timeKernels(record: (on: Engine) => void, reps: number): Promise<number> {
    await this.sync();
    if (this.gpu.hasTimestamps) {
      const timer = new Engine(this.gpu, {
        profile: true,
        kernels: this.kernels.name,
        weights: this.weights,
      });
      for (let i = 0; i < reps; i++) record(timer);
      const ms = (await timer.profile()).reduce((s, k) => s + k.ms, 0);
      await timer.sync();
      return ms / reps;
    }
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) record(this);
    await this.sync();
    return (performance.now() - t0) / reps;
  }

  /** The WebGPU device. */
  get device(): GPUDevice {
    return this.gpu.device;
  }

  /** True if kernels are being timed. */
  get profiling(): boolean {
    return this.#profiling;
  }

  /** The command encoder of the current batch. */
  encoder(): GPUCommandEncoder {
    this.#encoder ??= this.device.createCommandEncoder({ label: "visioneval batch" });
    return this.#encoder;
  }

  /** Ends the open compute pass, if any (needed before copies and clears). */
  #endPass(): void {
    this.#pass?.end();
    this.#pass = undefined;
  }

  /** An uninitialized tensor from the pool. */
  empty(shape: readonly number[], dtype: DType = "f32", label = "activation"): Tensor {
    const bytes = numel(shape) * BYTES_PER_ELEMENT[dtype];
    this.#checkBytes(bytes, label);
    const buffer = this.pool.acquire(bytes, label);
    return new Tensor(buffer, shape, dtype, label, (t) => this.pool.release(t.buffer));
  }

  /**
   * An uninitialized rgba32float texture of `layers` x `height` x `width`
   * texels, bound as `texture_2d_array` when `arrayed`. It comes from the
   * pool, or with `persistent` (weights) is a dedicated texture destroyed on
   * release. Throws {@link GpuLimitError} beyond the adapter's texture limits
   * (callers check {@link Engine.textureFits} first and fall back to buffers).
   */
  emptyTexture(
    width: number,
    height: number,
    layers: number,
    opts: {
      arrayed?: boolean;
      label?: string;
      persistent?: boolean;
      /** Texel format of a persistent texture (default rgba32float; rgba16float holds f16 weights). */
      format?: "rgba32float" | "rgba16float";
    } = {},
  ): GpuTexture {
    const label = opts.label ?? "texture";
    if (!this.textureFits(width, height, layers)) {
      throw new GpuLimitError(
        `Texture "${label}" of ${layers} x ${height} x ${width} texels exceeds this adapter's ` +
          `limits (${this.gpu.limits.maxTextureDimension2D} texels per side, ` +
          `${this.gpu.limits.maxTextureArrayLayers} layers).`,
      );
    }
    if (opts.format === "rgba16float" && !opts.persistent) {
      throw new Error(`emptyTexture ${label}: rgba16float textures are persistent (weights) only`);
    }
    if (opts.persistent) {
      const texture = this.device.createTexture({
        size: [width, height, layers],
        format: opts.format ?? "rgba32float",
        usage: TEXTURE_USAGE,
        label,
      });
      return new GpuTexture(texture, Boolean(opts.arrayed), label, (t) => t.texture.destroy());
    }
    const texture = this.texturePool.acquire(width, height, layers, label);
    return new GpuTexture(
      texture,
      Boolean(opts.arrayed),
      label,
      (t) => this.texturePool.release(t.texture),
    );
  }

  /** True if a texture of these dimensions is within the adapter's limits. */
  textureFits(width: number, height: number, layers = 1): boolean {
    const l = this.gpu.limits;
    return width >= 1 && height >= 1 && layers >= 1 && width <= l.maxTextureDimension2D &&
      height <= l.maxTextureDimension2D && layers <= l.maxTextureArrayLayers;
  }

  /** A zero-filled tensor from the pool (cleared in the current encoder). */
  zeros(shape: readonly number[], dtype: DType = "f32", label = "zeros"): Tensor {
    const t = this.empty(shape, dtype, label);
    this.#endPass();
    this.encoder().clearBuffer(t.buffer, 0, Math.ceil(t.byteLength / 4) * 4 || 4);
    return t;
  }

  /**
   * Uploads host data as a new tensor. Weights should use `persistent = true`
   * (a dedicated buffer, never returned to the pool).
   */
  upload(
    data: Float32Array | Uint32Array | Int32Array,
    shape: readonly number[],
    label = "upload",
    persistent = false,
  ): Tensor {
    const dtype: DType = data instanceof Float32Array
      ? "f32"
      : data instanceof Uint32Array
      ? "u32"
      : "i32";
    if (numel(shape) !== data.length) {
      throw new Error(`upload ${label}: ${data.length} values do not fill shape [${shape}]`);
    }
    if (this.gpu.lost) throw this.gpu.lost;
    this.#checkBytes(data.byteLength, label);
    let t: Tensor;
    if (persistent) {
      const buffer = this.device.createBuffer({
        size: Math.max(4, Math.ceil(data.byteLength / 4) * 4),
        usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST,
        label,
      });
      t = new Tensor(buffer, shape, dtype, label, (x) => x.buffer.destroy());
    } else {
      t = this.empty(shape, dtype, label);
    }
    if (data.byteLength > 0) this.#write(t.buffer, data);
    return t;
  }

  /**
   * Writes host data into `buffer` in order with the recorded commands.
   * `queue.writeBuffer` runs before the next submitted command buffer, so
   * while commands are recorded but not submitted a pooled buffer they still
   * use would be overwritten too early; then the data goes through a staging
   * buffer and a copy recorded into the encoder instead.
   */
  #write(buffer: GPUBuffer, data: Float32Array | Uint32Array | Int32Array): void {
    if (!this.#encoder) {
      this.device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer>);
      return;
    }
    const size = Math.ceil(data.byteLength / 4) * 4;
    const staging = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.COPY_SRC,
      mappedAtCreation: true,
      label: "upload-staging",
    });
    new Uint8Array(staging.getMappedRange()).set(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
    staging.unmap();
    this.#endPass();
    this.#encoder.copyBufferToBuffer(staging, 0, buffer, 0, size);
    this.#staging.push(staging);
  }

  #staging: GPUBuffer[] = [];

  #checkBytes(bytes: number, label: string): void {
    const max = this.gpu.limits.maxBufferSize;
    if (bytes > max) {
      throw new GpuLimitError(
        `Tensor "${label}" needs ${fmtBytes(bytes)} but this adapter allows buffers of at most ` +
          `${fmtBytes(max)}. Lower the batch size (--batch).`,
      );
    }
  }

  /** A uniform buffer holding `params`, shared by all dispatches with equal bytes. */
  #uniform(params: ArrayBuffer): GPUBuffer {
    const bytes = new Uint8Array(params);
    let key = "";
    for (let i = 0; i < bytes.length; i += 4) {
      key += String.fromCharCode(
        bytes[i] | (bytes[i + 1] << 8),
        bytes[i + 2] | (bytes[i + 3] << 8),
      );
    }
    let buf = this.#uniforms.get(key);
    if (!buf) {
      if (this.#uniforms.size >= MAX_UNIFORM_CACHE) this.#uniforms.clear();
      buf = this.device.createBuffer({
        size: Math.max(16, Math.ceil(bytes.length / 16) * 16),
        usage: GPUBufferUsage.UNIFORM,
        mappedAtCreation: true,
        label: "params",
      });
      new Uint8Array(buf.getMappedRange()).set(bytes);
      buf.unmap();
      this.#uniforms.set(key, buf);
    }
    return buf;
  }

  /**
   * Records one dispatch of `kernel`.
   *
   * `workgroups` is either a 1-D count (split over x and y when it exceeds
   * the per-dimension limit: the shader must compute the linear id as
   * `wid.x + wid.y * nwg.x` and bounds-check it) or an explicit [x, y, z].
   * `params` is packed into the uniform at binding 0 (see the module doc).
   */
  run(
    kernel: Kernel,
    bindings: readonly Binding[],
    workgroups: number | readonly [number, number?, number?],
    params?: ArrayBuffer | ArrayBufferView,
  ): void {
    const device = this.device;
    if (this.gpu.lost) throw this.gpu.lost;
    this.gpu.currentOp = kernel.name;
    const pipeline = getPipeline(device, kernel);
    const maxBinding = this.gpu.limits.maxStorageBufferBindingSize;
    const entries: GPUBindGroupEntry[] = [];
    let slot = 0;
    if (params) {
      const ab = ArrayBuffer.isView(params)
        ? params.buffer.slice(params.byteOffset, params.byteOffset + params.byteLength)
        : params;
      entries.push({ binding: slot++, resource: { buffer: this.#uniform(ab as ArrayBuffer) } });
    }
    for (const b of bindings) {
      if (b instanceof GpuTexture) {
        if (b.released) {
          throw new Error(`kernel ${kernel.name}: texture ${b.label} used after release`);
        }
        entries.push({ binding: slot++, resource: b.view });
      } else if (b instanceof Tensor) {
        if (b.released) {
          throw new Error(`kernel ${kernel.name}: tensor ${b.label} used after release`);
        }
        const size = Math.max(4, Math.ceil(b.byteLength / 4) * 4);
        if (size > maxBinding) {
          throw new GpuLimitError(
            `Kernel "${kernel.name}" would bind tensor "${b.label}" [${b.shape}] of ` +
              `${fmtBytes(size)}, above this adapter's storage binding limit of ` +
              `${fmtBytes(maxBinding)}. Lower the batch size (--batch).`,
          );
        }
        entries.push({ binding: slot++, resource: { buffer: b.buffer, offset: 0, size } });
      } else {
        const size = b.size ?? b.buffer.size - (b.offset ?? 0);
        if (size > maxBinding) {
          throw new GpuLimitError(
            `Kernel "${kernel.name}" would bind ${fmtBytes(size)}, above this adapter's ` +
              `storage binding limit of ${fmtBytes(maxBinding)}. Lower the batch size (--batch).`,
          );
        }
        entries.push({
          binding: slot++,
          resource: { buffer: b.buffer, offset: b.offset ?? 0, size },
        });
      }
    }
    const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });

    const maxDim = this.gpu.limits.maxComputeWorkgroupsPerDimension;
    let grid: [number, number, number];
    if (typeof workgroups === "number") {
      grid = [...splitGrid(workgroups, maxDim), 1];
    } else {
      grid = [workgroups[0], workgroups[1] ?? 1, workgroups[2] ?? 1];
      if (grid.some((g) => g > maxDim)) {
        throw new GpuLimitError(
          `Kernel "${kernel.name}" grid [${grid}] exceeds ${maxDim} workgroups per dimension. ` +
            `Lower the batch size (--batch).`,
        );
      }
    }
    if (grid.some((g) => g === 0)) return;

    let pass: GPUComputePassEncoder;
    if (this.#profiling) {
      this.#endPass();
      if (this.#queryNames.length + 1 > QUERY_CAPACITY / 2) this.#resolveProfile();
      this.#querySet ??= device.createQuerySet({ type: "timestamp", count: QUERY_CAPACITY });
      const i = this.#queryNames.length;
      this.#queryNames.push(kernel.name);
      pass = this.encoder().beginComputePass({
        timestampWrites: {
          querySet: this.#querySet,
          beginningOfPassWriteIndex: 2 * i,
          endOfPassWriteIndex: 2 * i + 1,
        },
      });
      this.#pass = pass;
    } else {
      this.#pass ??= this.encoder().beginComputePass();
      pass = this.#pass;
    }
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    if (this.#profiling) this.#endPass();
  }

  /** Records a buffer-to-buffer copy. */
  copy(src: Tensor, dst: Tensor, bytes = src.byteLength, srcOffset = 0, dstOffset = 0): void {
    this.#endPass();
    this.encoder().copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, bytes);
  }

  /** Submits the recorded work. */
  submit(): void {
    this.#endPass();
    if (this.#profiling && this.#queryNames.length) this.#resolveProfile();
    if (!this.#encoder) return;
    const cmd = this.#encoder.finish();
    this.#encoder = undefined;
    this.device.queue.submit([cmd]);
    // Submitted work keeps its buffers alive; the staging copies are done with.
    for (const b of this.#staging) b.destroy();
    this.#staging = [];
  }

  /** Waits until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.submit();
    await awaitGpu(this.gpu, this.device.queue.onSubmittedWorkDone());
  }

  /**
   * Reads tensors back to the host: submits the current batch and maps one
   * staging buffer for all of them.
   */
  async read<T extends Tensor[]>(
    ...tensors: T
  ): Promise<{ [K in keyof T]: Float32Array | Uint32Array | Int32Array }> {
    this.#endPass();
    const offsets: number[] = [];
    let total = 0;
    for (const t of tensors) {
      offsets.push(total);
      total += Math.ceil(t.byteLength / 4) * 4;
    }
    const staging = this.device.createBuffer({
      size: Math.max(4, total),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: "readback",
    });
    const enc = this.encoder();
    tensors.forEach((t, i) => {
      const n = Math.ceil(t.byteLength / 4) * 4;
      if (n > 0) enc.copyBufferToBuffer(t.buffer, 0, staging, offsets[i], n);
    });
    this.submit();
    await awaitGpu(this.gpu, staging.mapAsync(GPUMapMode.READ));
    const all = staging.getMappedRange().slice(0);
    staging.unmap();
    staging.destroy();
    this.gpu.currentOp = "idle";
    return tensors.map((t, i) => {
      const Ctor = t.dtype === "f32" ? Float32Array : t.dtype === "u32" ? Uint32Array : Int32Array;
      return new Ctor(all, offsets[i], t.size);
    }) as { [K in keyof T]: Float32Array | Uint32Array | Int32Array };
  }

  /** Reads one f32 tensor. */
  async readF32(t: Tensor): Promise<Float32Array> {
    const [a] = await this.read(t);
    return a as Float32Array;
  }

  #pendingProfiles: Promise<void>[] = [];

  #resolveProfile(): void {
    const n = this.#queryNames.length;
    if (!n || !this.#querySet) return;
    const names = this.#queryNames;
    this.#queryNames = [];
    const bytes = n * 16;
    const resolve = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const staging = this.device.createBuffer({
      size: bytes,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const enc = this.encoder();
    enc.resolveQuerySet(this.#querySet, 0, 2 * n, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, staging, 0, bytes);
    const cmd = enc.finish();
    this.#encoder = undefined;
    this.device.queue.submit([cmd]);
    this.#pendingProfiles.push(
      staging.mapAsync(GPUMapMode.READ).then(() => {
        const ts = new BigUint64Array(staging.getMappedRange());
        for (let i = 0; i < n; i++) {
          const ns = Number(ts[2 * i + 1] - ts[2 * i]);
          const p = this.#profile.get(names[i]) ?? { name: names[i], calls: 0, ms: 0 };
          p.calls++;
          p.ms += ns > 0 ? ns / 1e6 : 0;
          this.#profile.set(names[i], p);
        }
        staging.unmap();
        staging.destroy();
        resolve.destroy();
      }),
    );
  }

  /** Per-kernel GPU times collected so far (empty unless profiling). */
  async profile(): Promise<KernelProfile[]> {
    this.submit();
    await Promise.all(this.#pendingProfiles);
    this.#pendingProfiles = [];
    return [...this.#profile.values()].sort((a, b) => b.ms - a.ms);
  }
}

/** Formats a byte count for messages. */
export function fmtBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  if (n >= 2 ** 10) return `${(n / 2 ** 10).toFixed(1)} KiB`;
  return `${n} B`;
}
