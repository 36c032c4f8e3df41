/**
 * Reuses GPU buffers between batches. Buffers are bucketed by their size
 * rounded up to 256 bytes, so the activations of batch N+1 land in the
 * buffers batch N released. Reusing a buffer within one command encoder is
 * safe: commands in one queue execute in order.
 */

const ALIGN = 256;
const USAGE = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** A size-bucketed pool of storage buffers. */
export class BufferPool {
  #free = new Map<number, GPUBuffer[]>();
  /** Bytes currently allocated through the pool (free or in use). */
  allocatedBytes = 0;

  /** Creates a pool on `device`. */
  constructor(readonly device: GPUDevice) {}

  /** A buffer of at least `bytes` bytes (storage, copy src/dst). */
  acquire(bytes: number, label = "pooled"): GPUBuffer {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    const bucket = this.#free.get(size);
    const reused = bucket?.pop();
    if (reused) return reused;
    this.allocatedBytes += size;
    return this.device.createBuffer({ size, usage: USAGE, label });
  }

  /** Gives a buffer back for reuse. */
  release(buffer: GPUBuffer): void {
    const list = this.#free.get(buffer.size) ?? [];
    list.push(buffer);
    this.#free.set(buffer.size, list);
  }

  /** Destroys every free buffer (buffers in use are untouched). */
  trim(): void {
    for (const list of this.#free.values()) {
      for (const b of list) {
        this.allocatedBytes -= b.size;
        b.destroy();
      }
    }
    this.#free.clear();
  }
}
