/**
 * rgba32float 2-D (array) textures that kernels read with `textureLoad` and
 * write with `textureStore` (constant weights may instead be rgba16float:
 * `textureLoad` widens them to f32, so the kernels are the same). They exist for speed on software rasterizers:
 * on llvmpipe a vec4 texel fetch costs about 8 ns against 13-14 ns for a
 * storage-buffer load (bench/RESULTS.md), and the GEMM of a convolution is
 * bound by its loads. Each texel holds 4 consecutive floats of a row.
 */

/** Usage of every engine texture: sampled (textureLoad), storage (textureStore), copies. */
export const TEXTURE_USAGE = GPUTextureUsage.TEXTURE_BINDING | GPUTextureUsage.STORAGE_BINDING |
  GPUTextureUsage.COPY_SRC | GPUTextureUsage.COPY_DST;

/** A texture of `layers` layers of `width` x `height` texels, rgba32float (or rgba16float weights). */
export class GpuTexture {
  #onRelease?: (t: GpuTexture) => void;
  /** True after `release()`. */
  released = false;
  /** The view bound to kernels: "2d-array" when `arrayed`, else "2d". */
  readonly view: GPUTextureView;

  /** Wraps `texture`; `arrayed` textures are bound as `texture_2d_array` even with one layer. */
  constructor(
    /** The WebGPU texture. */
    readonly texture: GPUTexture,
    /** Bound as a 2-D array (true) or a plain 2-D texture (false). */
    readonly arrayed: boolean,
    /** Name used in error messages. */
    readonly label = "texture",
    onRelease?: (t: GpuTexture) => void,
  ) {
    this.view = texture.createView({ dimension: arrayed ? "2d-array" : "2d", label });
    this.#onRelease = onRelease;
  }

  /** Texels per row. */
  get width(): number {
    return this.texture.width;
  }

  /** Texel format: "rgba32float", or "rgba16float" for f16 weights. */
  get format(): GPUTextureFormat {
    return this.texture.format;
  }

  /** Rows per layer. */
  get height(): number {
    return this.texture.height;
  }

  /** Layers. */
  get layers(): number {
    return this.texture.depthOrArrayLayers;
  }

  /** Returns the texture to its pool (or destroys a persistent one). */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.#onRelease?.(this);
  }
}

/** Reuses textures of equal dimensions between batches (see buffer_pool.ts). */
export class TexturePool {
  #free = new Map<string, GPUTexture[]>();
  /** Bytes currently allocated through the pool (free or in use). */
  allocatedBytes = 0;

  /** Creates a pool on `device`. */
  constructor(readonly device: GPUDevice) {}

  /** A texture of exactly these dimensions. */
  acquire(width: number, height: number, layers: number, label: string): GPUTexture {
    const reused = this.#free.get(`${width}x${height}x${layers}`)?.pop();
    if (reused) return reused;
    this.allocatedBytes += width * height * layers * 16;
    return this.device.createTexture({
      size: [width, height, layers],
      format: "rgba32float",
      usage: TEXTURE_USAGE,
      label,
    });
  }

  /** Destroys every free texture (textures in use are untouched). */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const t of list) {
        this.allocatedBytes -= t.width * t.height * t.depthOrArrayLayers * 16;
        t.destroy();
      }
    }
    this.#free.clear();
  }

  /** Gives a texture back for reuse. */
  release(t: GPUTexture): void {
    const key = `${t.width}x${t.height}x${t.depthOrArrayLayers}`;
    const list = this.#free.get(key) ?? [];
    list.push(t);
    this.#free.set(key, list);
  }
}
