/**
 * Reader for NumPy `.npy` arrays (format versions 1.0, 2.0 and 3.0): the
 * magic `\x93NUMPY`, a version, a header length (u16 in v1, u32 in v2/v3), a
 * Python-literal header `{'descr': '<f4', 'fortran_order': False, 'shape':
 * (3, 4), }`, then the raw elements in C order. Numeric and bool dtypes of
 * either byte order are read; structured dtypes and Fortran order are
 * rejected with a {@link DataError} that says how to re-save the array.
 */
import { DataError } from "../errors.ts";
import { notRegularFileReason } from "../files.ts";
import { f16ToF32, type RawTypedArray } from "./dtype.ts";

/** Element type of an {@link NpyArray}: NumPy kind letter + bytes per element (`b1` = bool). */
export type NpyDType =
  | "f2"
  | "f4"
  | "f8"
  | "i1"
  | "i2"
  | "i4"
  | "i8"
  | "u1"
  | "u2"
  | "u4"
  | "u8"
  | "b1";

/** The elements of an {@link NpyArray}, in the natural typed array of its dtype. */
export type NpyData = RawTypedArray;

/** A NumPy array read from a `.npy` file, always C order and host (little-endian) byte order. */
export interface NpyArray {
  /** Element type (byte order already normalised). */
  dtype: NpyDType;
  /** Dimensions, outermost first; `[]` for a 0-d array. */
  shape: number[];
  /**
   * Elements in C order: Float64Array (f8), Float32Array (f4), Uint16Array
   * (raw IEEE half bits, f2), BigInt64Array (i8), BigUint64Array (u8),
   * Int32Array, Uint32Array, Int16Array, Uint16Array (u2), Int8Array,
   * Uint8Array (u1, and b1 as 0 / 1). A fresh copy.
   */
  data: NpyData;
}

const ARRAYS: Record<NpyDType, (buffer: ArrayBuffer) => NpyData> = {
  f2: (b) => new Uint16Array(b),
  f4: (b) => new Float32Array(b),
  f8: (b) => new Float64Array(b),
  i1: (b) => new Int8Array(b),
  i2: (b) => new Int16Array(b),
  i4: (b) => new Int32Array(b),
  i8: (b) => new BigInt64Array(b),
  u1: (b) => new Uint8Array(b),
  u2: (b) => new Uint16Array(b),
  u4: (b) => new Uint32Array(b),
  u8: (b) => new BigUint64Array(b),
  b1: (b) => new Uint8Array(b),
};

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

function fail(name: string, problem: string, fix?: string): DataError {
  return new DataError(
    `${name}: ${problem}. ${
      fix ?? "The file is damaged or not a NumPy .npy file: re-save it with numpy.save()."
    }`,
  );
}

// ---------------------------------------------------------------------------
// The header is a Python literal (dict of str -> str | bool | tuple of int).

type PyValue = string | number | boolean | null | PyValue[] | Map<string, PyValue>;

/** Parses the subset of Python literal syntax numpy writes in `.npy` headers. */
function parsePyLiteral(text: string, name: string): PyValue {
  let i = 0;
  const bad = (what: string) =>
    fail(
      name,
      `header is not a valid Python literal (${what} at character ${i}: ${
        JSON.stringify(text.slice(0, 120))
      })`,
    );
  const skip = () => {
    while (i < text.length && " \t\r\n".includes(text[i])) i++;
  };
  const value = (depth: number): PyValue => {
    if (depth > 8) throw bad("nesting too deep");
    skip();
    const c = text[i];
    if (c === "{" || c === "(" || c === "[") {
      const close = c === "{" ? "}" : c === "(" ? ")" : "]";
      i++;
      const items: PyValue[] = [];
      const dict = new Map<string, PyValue>();
      for (;;) {
        skip();
        if (text[i] === close) break;
        const item = value(depth + 1);
        if (c === "{") {
          skip();
          if (text[i++] !== ":") throw bad("expected ':'");
          if (typeof item !== "string") throw bad("dictionary keys must be strings");
          dict.set(item, value(depth + 1));
        } else items.push(item);
        skip();
        if (text[i] === ",") i++;
        else if (text[i] !== close) throw bad(`expected ',' or '${close}'`);
      }
      i++;
      return c === "{" ? dict : items;
    }
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) throw bad("unterminated string");
      const s = text.slice(i + 1, end);
      if (s.includes("\\")) throw bad("escape sequences are not supported in strings");
      i = end + 1;
      return s;
    }
    const word = /^(?:True|False|None|-?\d+L?)/.exec(text.slice(i, i + 32))?.[0];
    if (!word) throw bad("unexpected character");
    i += word.length;
    if (word === "True" || word === "False") return word === "True";
    if (word === "None") return null;
    return Number(word.replace("L", "")); // Python 2 wrote long ints as 3L
  };
  const result = value(0);
  skip();
  if (i !== text.length) throw bad("unexpected text after the dictionary");
  return result;
}

interface NpyHeader {
  dtype: NpyDType;
  bigEndian: boolean;
  shape: number[];
}

function parseDescr(
  descr: PyValue | undefined,
  name: string,
): { dtype: NpyDType; bigEndian: boolean } {
  if (typeof descr !== "string") {
    throw fail(
      name,
      `structured or unknown dtype ${JSON.stringify(descr ?? null)} is not supported`,
      "Save a plain numeric array (e.g. np.save(path, a.astype(np.float64))).",
    );
  }
  const m = /^([<>|=])([fiub])(\d+)$/.exec(descr);
  const dtype = m ? `${m[2]}${m[3]}` as NpyDType : undefined;
  if (!m || !dtype || !Object.hasOwn(ARRAYS, dtype)) {
    throw fail(
      name,
      `dtype '${descr}' is not supported (supported: float16/32/64, int8..64, uint8..64, bool)`,
      "Convert the array before saving it, e.g. np.save(path, a.astype(np.float64)).",
    );
  }
  return { dtype, bigEndian: m[1] === ">" };
}

function parseHeader(text: string, name: string): NpyHeader {
  const dict = parsePyLiteral(text.trimEnd(), name);
  if (!(dict instanceof Map)) throw fail(name, "header is not a dictionary");
  const { dtype, bigEndian } = parseDescr(dict.get("descr"), name);
  const fortran = dict.get("fortran_order");
  if (typeof fortran !== "boolean") throw fail(name, "header has no boolean 'fortran_order'");
  if (fortran) {
    throw fail(
      name,
      "array is stored in Fortran (column-major) order, which is not supported",
      "Re-save it in C order: np.save(path, np.ascontiguousarray(a)).",
    );
  }
  const shape = dict.get("shape");
  if (
    !Array.isArray(shape) ||
    !shape.every((d) => typeof d === "number" && Number.isSafeInteger(d) && d >= 0)
  ) {
    throw fail(
      name,
      `header 'shape' must be a tuple of non-negative integers, found ${String(shape)}`,
    );
  }
  return { dtype, bigEndian, shape: shape as number[] };
}

/** Reverses the bytes of every `size`-byte element in place. */
function byteSwap(bytes: Uint8Array, size: number): void {
  for (let at = 0; at < bytes.length; at += size) bytes.subarray(at, at + size).reverse();
}

/**
 * Parses the bytes of a `.npy` file. `name` (the file path) is used in error
 * messages. The result's data is a copy.
 */
export function parseNpy(bytes: Uint8Array, name = "<in-memory .npy>"): NpyArray {
  if (bytes.length < 10 || !MAGIC.every((b, k) => bytes[k] === b)) {
    throw fail(name, "does not start with the NumPy magic '\\x93NUMPY'");
  }
  const major = bytes[6];
  if (major < 1 || major > 3) {
    throw fail(
      name,
      `.npy format version ${major}.${bytes[7]} is not supported (1.0, 2.0, 3.0 are)`,
      "Re-save the array with numpy.save().",
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const prefix = major === 1 ? 10 : 12;
  if (bytes.length < prefix) throw fail(name, "file ends inside the header");
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = prefix + headerLength;
  if (dataStart > bytes.length) {
    throw fail(
      name,
      `header length ${headerLength} runs past the end of the ${bytes.length}-byte file`,
    );
  }
  const headerBytes = bytes.subarray(prefix, dataStart);
  let text: string;
  try {
    // v1/v2 headers are latin-1; v3 allows UTF-8.
    text = new TextDecoder(major === 3 ? "utf-8" : "latin1", { fatal: true }).decode(headerBytes);
  } catch {
    throw fail(name, "header is not valid UTF-8");
  }
  const header = parseHeader(text, name);
  const itemSize = Number(header.dtype.slice(1));
  let numel = 1;
  for (const d of header.shape) numel *= d;
  const need = numel * itemSize;
  const have = bytes.length - dataStart;
  if (need !== have) {
    throw fail(
      name,
      `shape (${header.shape.join(", ")}) of ${header.dtype} needs ${need} data bytes but the ` +
        `file has ${have}${have < need ? " (truncated?)" : ""}`,
    );
  }
  const data = bytes.slice(dataStart); // a copy, aligned for any element size
  if (header.bigEndian && itemSize > 1) byteSwap(data, itemSize);
  return { dtype: header.dtype, shape: header.shape, data: ARRAYS[header.dtype](data.buffer) };
}

/** Reads a `.npy` file. Errors (missing file, bad format) are {@link DataError}s naming the file. */
export async function readNpy(path: string): Promise<NpyArray> {
  let bytes: Uint8Array;
  const why = notRegularFileReason(path);
  if (why !== null && why !== "does not exist") {
    throw new DataError(`${path}: ${why.startsWith("a ") ? `is ${why}` : why}.`);
  }
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    const what = e instanceof Deno.errors.NotFound
      ? "file not found. Check the path"
      : `cannot read the file (${(e as Error).message}). Check the path and its permissions`;
    throw new DataError(`${path}: ${what}.`, { cause: e });
  }
  return parseNpy(bytes, path);
}

/**
 * The elements of `array` as float64 numbers: float16 exactly, 64-bit
 * integers rounded to the nearest float64 (exact up to 2^53), bool as 0 / 1.
 */
export function npyToF64(array: NpyArray): Float64Array {
  const { data, dtype } = array;
  if (dtype === "f2") return Float64Array.from(f16ToF32(data as Uint16Array));
  if (data instanceof BigInt64Array || data instanceof BigUint64Array) {
    return Float64Array.from(data, (v) => Number(v));
  }
  return Float64Array.from(data as ArrayLike<number>);
}
