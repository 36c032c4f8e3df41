/**
 * Element types of `.safetensors` tensors and exact conversions of each to
 * float32. The 16-bit and 8-bit float formats are widened bit by bit (lookup
 * tables / shifts), so subnormals, infinities and NaN payloads survive.
 */

/**
 * A tensor element type as spelled in a `.safetensors` header.
 *
 * Floats: `F64`, `F32`, `F16` (IEEE half), `BF16` (bfloat16), `F8_E4M3`
 * (float8 e4m3fn: no infinities, NaN = all ones), `F8_E5M2`. Integers: `I64`,
 * `I32`, `I16`, `I8`, `U64`, `U32`, `U16`, `U8`. `BOOL` is one byte per
 * element (0 or 1).
 */
export type SafetensorsDType =
  | "F64"
  | "F32"
  | "F16"
  | "BF16"
  | "F8_E4M3"
  | "F8_E5M2"
  | "I64"
  | "I32"
  | "I16"
  | "I8"
  | "U64"
  | "U32"
  | "U16"
  | "U8"
  | "BOOL";

/** The typed array that holds a tensor's raw elements (see {@link rawArrayType}). */
export type RawTypedArray =
  | Float64Array
  | Float32Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Uint32Array
  | Int16Array
  | Uint16Array
  | Int8Array
  | Uint8Array;

interface DTypeInfo {
  /** Bytes per element. */
  size: number;
  /** Wraps little-endian bytes (aligned to `size`) as the natural typed array. */
  view(buffer: ArrayBuffer, byteOffset: number, length: number): RawTypedArray;
}

const DTYPES: Record<SafetensorsDType, DTypeInfo> = {
  F64: { size: 8, view: (b, o, n) => new Float64Array(b, o, n) },
  F32: { size: 4, view: (b, o, n) => new Float32Array(b, o, n) },
  // Half-precision formats have no JS typed array: their raw bits are exposed.
  F16: { size: 2, view: (b, o, n) => new Uint16Array(b, o, n) },
  BF16: { size: 2, view: (b, o, n) => new Uint16Array(b, o, n) },
  F8_E4M3: { size: 1, view: (b, o, n) => new Uint8Array(b, o, n) },
  F8_E5M2: { size: 1, view: (b, o, n) => new Uint8Array(b, o, n) },
  I64: { size: 8, view: (b, o, n) => new BigInt64Array(b, o, n) },
  I32: { size: 4, view: (b, o, n) => new Int32Array(b, o, n) },
  I16: { size: 2, view: (b, o, n) => new Int16Array(b, o, n) },
  I8: { size: 1, view: (b, o, n) => new Int8Array(b, o, n) },
  U64: { size: 8, view: (b, o, n) => new BigUint64Array(b, o, n) },
  U32: { size: 4, view: (b, o, n) => new Uint32Array(b, o, n) },
  U16: { size: 2, view: (b, o, n) => new Uint16Array(b, o, n) },
  U8: { size: 1, view: (b, o, n) => new Uint8Array(b, o, n) },
  BOOL: { size: 1, view: (b, o, n) => new Uint8Array(b, o, n) },
};

/** Every dtype this reader understands, in header spelling. */
export const SAFETENSORS_DTYPES: readonly SafetensorsDType[] = Object.keys(
  DTYPES,
) as SafetensorsDType[];

/** True if `s` is a dtype name this reader understands. */
export function isSafetensorsDType(s: unknown): s is SafetensorsDType {
  return typeof s === "string" && Object.hasOwn(DTYPES, s);
}

/** Bytes per element of `dtype`. */
export function dtypeSize(dtype: SafetensorsDType): number {
  return DTYPES[dtype].size;
}

/** True on little-endian hosts (all WebGPU-capable hardware in practice). */
export const HOST_LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Views `bytes` (little-endian file data) as the typed array of `dtype`.
 * `bytes.byteOffset` must be a multiple of the element size; callers
 * allocate fresh buffers so that it is.
 */
export function viewRaw(bytes: Uint8Array, dtype: SafetensorsDType): RawTypedArray {
  const info = DTYPES[dtype];
  const buffer = bytes.buffer as ArrayBuffer;
  return info.view(buffer, bytes.byteOffset, bytes.byteLength / info.size);
}

// ---------------------------------------------------------------------------
// Exact widening of small float formats to float32 bit patterns.

let f16Table: Uint32Array | undefined;

/** float32 bit pattern of every IEEE half bit pattern (65536 entries, built once). */
function halfToFloatBitsTable(): Uint32Array {
  if (f16Table) return f16Table;
  const table = new Uint32Array(65536);
  const scratch = new Float32Array(1);
  const scratchBits = new Uint32Array(scratch.buffer);
  for (let h = 0; h < 65536; h++) table[h] = halfToFloatBits(h, scratch, scratchBits);
  f16Table = table;
  return table;
}

function halfToFloatBits(h: number, scratch: Float32Array, scratchBits: Uint32Array): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf, NaN (payload kept)
  if (exp !== 0) return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0; // normal
  // Zero or subnormal: mant * 2^-24 is exactly representable in float32.
  scratch[0] = mant * 2 ** -24;
  return (sign | scratchBits[0]) >>> 0;
}

/** Converts one IEEE half bit pattern to a number (exact). */
export function f16BitsToNumber(h: number): number {
  const out = new Float32Array(1);
  new Uint32Array(out.buffer)[0] = halfToFloatBitsTable()[h & 0xffff];
  return out[0];
}

/** Converts one bfloat16 bit pattern to a number (exact). */
export function bf16BitsToNumber(h: number): number {
  const out = new Float32Array(1);
  new Uint32Array(out.buffer)[0] = (h & 0xffff) << 16;
  return out[0];
}

/** Widens IEEE half bit patterns to float32, exactly (subnormals, ±inf, NaN payloads). */
export function f16ToF32(src: Uint16Array): Float32Array {
  const table = halfToFloatBitsTable();
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = table[src[i]];
  return out;
}

/** Widens bfloat16 bit patterns to float32: bfloat16 is the top half of a float32. */
export function bf16ToF32(src: Uint16Array): Float32Array {
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = src[i] << 16;
  return out;
}

let e4m3Table: Uint32Array | undefined;

/** float32 bits of every float8 e4m3fn pattern: bias 7, no infinities, S.1111.111 = NaN. */
function e4m3Table256(): Uint32Array {
  if (e4m3Table) return e4m3Table;
  const table = new Uint32Array(256);
  const f = new Float32Array(table.buffer);
  for (let b = 0; b < 256; b++) {
    const sign = b & 0x80 ? -1 : 1;
    const exp = (b >> 3) & 0xf;
    const mant = b & 0x7;
    if (exp === 0xf && mant === 0x7) table[b] = (b & 0x80 ? 0xffc00000 : 0x7fc00000) >>> 0;
    else if (exp === 0) f[b] = sign * mant * 2 ** -9;
    else f[b] = sign * (1 + mant / 8) * 2 ** (exp - 7);
  }
  e4m3Table = table;
  return table;
}

/** Widens float8 e4m3fn bytes to float32 (exact). */
export function f8e4m3ToF32(src: Uint8Array): Float32Array {
  const table = e4m3Table256();
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = table[src[i]];
  return out;
}

/** Widens float8 e5m2 bytes to float32 (exact): e5m2 is the top byte of an IEEE half. */
export function f8e5m2ToF32(src: Uint8Array): Float32Array {
  const table = halfToFloatBitsTable();
  const out = new Float32Array(src.length);
  const bits = new Uint32Array(out.buffer);
  for (let i = 0; i < src.length; i++) bits[i] = table[src[i] << 8];
  return out;
}

/**
 * Converts raw elements of `dtype` to float32. F32 is returned as is (no
 * copy). Floats round to nearest float32; integers too (exact up to 2^24 in
 * magnitude; 64-bit integers go through a float64 first); BOOL gives 0 / 1.
 */
export function rawToF32(raw: RawTypedArray, dtype: SafetensorsDType): Float32Array {
  switch (dtype) {
    case "F32":
      return raw as Float32Array;
    case "F16":
      return f16ToF32(raw as Uint16Array);
    case "BF16":
      return bf16ToF32(raw as Uint16Array);
    case "F8_E4M3":
      return f8e4m3ToF32(raw as Uint8Array);
    case "F8_E5M2":
      return f8e5m2ToF32(raw as Uint8Array);
    case "I64":
    case "U64": {
      const src = raw as BigInt64Array | BigUint64Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = Number(src[i]);
      return out;
    }
    case "BOOL": {
      const src = raw as Uint8Array;
      const out = new Float32Array(src.length);
      for (let i = 0; i < src.length; i++) out[i] = src[i] === 0 ? 0 : 1;
      return out;
    }
    default:
      // F64 and the 8..32-bit integer types: the typed-array copy rounds to nearest.
      return new Float32Array(raw as Exclude<RawTypedArray, BigInt64Array | BigUint64Array>);
  }
}
