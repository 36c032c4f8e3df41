/**
 * Packs kernel parameters into the bytes of a WGSL uniform struct whose
 * fields are all 4-byte scalars (u32 / i32 / f32), in declaration order.
 */

/** One field: an unsigned int (default), or tagged f32 / i32. */
export type Param = number | { f32: number } | { i32: number };

/** Bytes of a uniform struct with the given fields, padded to 16 bytes. */
export function packParams(fields: readonly Param[]): ArrayBuffer {
  const n = Math.max(4, Math.ceil(fields.length / 4) * 4);
  const buf = new ArrayBuffer(n * 4);
  const u = new Uint32Array(buf);
  const f = new Float32Array(buf);
  const i = new Int32Array(buf);
  fields.forEach((v, k) => {
    if (typeof v === "number") {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) {
        throw new RangeError(`param ${k} = ${v} is not a u32; tag floats as { f32: v }`);
      }
      u[k] = v;
    } else if ("f32" in v) f[k] = v.f32;
    else i[k] = v.i32;
  });
  return buf;
}
