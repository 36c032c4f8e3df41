/**
 * A small reader of MATLAB level-5 MAT files: what MATLAB's `save` (up to
 * `-v7`) and scipy.io.savemat write, and what the ImageNet devkit ships as
 * meta.mat. It reads one named variable holding numeric, char or struct
 * arrays, which is all the devkit's `synsets` struct array uses; anything
 * else (cell, sparse, object, complex data, MATLAB 7.3 HDF5 files) is
 * refused with a DataError naming the file.
 *
 * Layout (MathWorks, "MAT-File Format", level 5): a 128-byte header (text,
 * subsystem offset, version 0x0100, endian indicator "IM" / "MI"), then data
 * elements. Each element has an 8-byte tag (type, byte count) and its data
 * padded to 8 bytes, or, when it holds at most 4 bytes, the "small element"
 * form: byte count and type packed in the first 4 bytes, data in the next 4.
 * A top-level variable is an miMATRIX element, or an miCOMPRESSED element
 * whose zlib stream inflates to one. An miMATRIX holds array flags (class),
 * dimensions, a name, then the class's data: the real part for numbers, the
 * characters for char, and for structs the field name length, the field
 * names and one miMATRIX per element and field, in column-major order.
 */
import { inflateSync } from "node:zlib";
import { DataError } from "../errors.ts";
import { requireRegularFile } from "../files.ts";

/** A numeric (or logical) array; `data` in column-major order, as stored. */
export interface MatNumeric {
  /** Always "numeric". */
  kind: "numeric";
  /** MATLAB class ("double", "uint16", "logical", ...). */
  class: string;
  /** Dimensions (at least 2). */
  dims: number[];
  /** The values, column-major. */
  data: Float64Array;
}

/** A char array, one string per row. */
export interface MatChar {
  /** Always "char". */
  kind: "char";
  /** Dimensions (at least 2). */
  dims: number[];
  /** Row i of the char matrix (a 1xN char array is one row). */
  rows: string[];
}

/** A struct array: one record of field values per element, column-major. */
export interface MatStruct {
  /** Always "struct". */
  kind: "struct";
  /** Dimensions (at least 2). */
  dims: number[];
  /** Field names, in stored order. */
  fields: string[];
  /** The elements, column-major; each maps every field to its value. */
  elements: Record<string, MatValue>[];
}

/** A value {@link readMatVariable} can return. */
export type MatValue = MatNumeric | MatChar | MatStruct;

// Data types (miXXX) of element tags.
const MI_INT8 = 1, MI_UINT8 = 2, MI_INT16 = 3, MI_UINT16 = 4, MI_INT32 = 5, MI_UINT32 = 6;
const MI_SINGLE = 7, MI_DOUBLE = 9, MI_INT64 = 12, MI_UINT64 = 13;
const MI_MATRIX = 14, MI_COMPRESSED = 15, MI_UTF8 = 16, MI_UTF16 = 17;

/** Array classes (mxXXX_CLASS) by number. */
const CLASSES = [
  "",
  "cell",
  "struct",
  "object",
  "char",
  "sparse",
  "double",
  "single",
  "int8",
  "uint8",
  "int16",
  "uint16",
  "int32",
  "uint32",
  "int64",
  "uint64",
  "function handle",
  "opaque",
];
const MX_STRUCT = 2, MX_CHAR = 4, MX_DOUBLE = 6, MX_UINT64 = 15;
const FLAG_COMPLEX = 0x0800, FLAG_LOGICAL = 0x0200;
const utf8 = new TextDecoder(), latin1 = new TextDecoder("latin1");

/** Bytes per value of each numeric data type. */
const WIDTH: Record<number, number> = {
  [MI_INT8]: 1,
  [MI_UINT8]: 1,
  [MI_INT16]: 2,
  [MI_UINT16]: 2,
  [MI_INT32]: 4,
  [MI_UINT32]: 4,
  [MI_SINGLE]: 4,
  [MI_DOUBLE]: 8,
  [MI_INT64]: 8,
  [MI_UINT64]: 8,
};

/** Reads one value of each numeric data type from a DataView. */
const READ: Record<number, (v: DataView, offset: number, le: boolean) => number> = {
  [MI_INT8]: (v, o) => v.getInt8(o),
  [MI_UINT8]: (v, o) => v.getUint8(o),
  [MI_INT16]: (v, o, le) => v.getInt16(o, le),
  [MI_UINT16]: (v, o, le) => v.getUint16(o, le),
  [MI_INT32]: (v, o, le) => v.getInt32(o, le),
  [MI_UINT32]: (v, o, le) => v.getUint32(o, le),
  [MI_SINGLE]: (v, o, le) => v.getFloat32(o, le),
  [MI_DOUBLE]: (v, o, le) => v.getFloat64(o, le),
  [MI_INT64]: (v, o, le) => Number(v.getBigInt64(o, le)),
  [MI_UINT64]: (v, o, le) => Number(v.getBigUint64(o, le)),
};

/** One data element: its type, its data bytes, and where the next one starts. */
interface Element {
  type: number;
  data: Uint8Array;
  end: number;
}

/** The array flags, dimensions and name of an miMATRIX, and where its data starts. */
interface ArrayHeader {
  cls: number;
  complex: boolean;
  logical: boolean;
  dims: number[];
  name: string;
  pos: number;
}

/** Reading state of one file: its name for messages and its byte order. */
class MatReader {
  constructor(readonly file: string, readonly littleEndian: boolean) {}

  /** A file that breaks the format (cut off, bad tags): say so and what to do. */
  corrupt(message: string): DataError {
    return new DataError(
      `${this.file}: ${message}: a corrupt or truncated MAT file; copy it again (the ` +
        `devkit's data/meta.mat) or re-save it with scipy.io.savemat`,
    );
  }

  /** A well-formed value this reader does not read. */
  unsupported(message: string): DataError {
    return new DataError(`${this.file}: ${message}`);
  }

  /** The data element starting at byte `pos` of `buf`. */
  element(buf: Uint8Array, pos: number, what: string): Element {
    if (pos + 8 > buf.length) throw this.corrupt(`${what} at byte ${pos} is cut off`);
    const view = new DataView(buf.buffer, buf.byteOffset + pos, 8);
    const first = view.getUint32(0, this.littleEndian);
    const small = first >>> 16;
    if (small !== 0) {
      // Small element: up to 4 bytes of data inside the tag itself.
      if (small > 4) throw this.corrupt(`${what} at byte ${pos}: small element of ${small} bytes`);
      return { type: first & 0xffff, data: buf.subarray(pos + 4, pos + 4 + small), end: pos + 8 };
    }
    const count = view.getUint32(4, this.littleEndian);
    if (pos + 8 + count > buf.length) {
      throw this.corrupt(
        `${what} at byte ${pos} needs ${count} bytes, ${buf.length - pos - 8} remain`,
      );
    }
    // Compressed elements are not padded; all others are, to a multiple of 8 bytes.
    const padded = first === MI_COMPRESSED ? count : Math.ceil(count / 8) * 8;
    return { type: first, data: buf.subarray(pos + 8, pos + 8 + count), end: pos + 8 + padded };
  }

  /** The values of a numeric element, widened to float64. */
  numbers(el: Element, what: string): Float64Array {
    const width = WIDTH[el.type];
    if (!width) throw this.corrupt(`${what}: element type ${el.type} is not numeric`);
    if (el.data.length % width) throw this.corrupt(`${what}: ${el.data.length} bytes of ${width}`);
    const n = el.data.length / width, read = READ[el.type];
    const v = new DataView(el.data.buffer, el.data.byteOffset, el.data.length);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = read(v, i * width, this.littleEndian);
    return out;
  }

  /** Array flags, dimensions and name of the miMATRIX data `buf`. */
  header(buf: Uint8Array, what: string): ArrayHeader {
    const flags = this.element(buf, 0, `${what}: array flags`);
    if (flags.type !== MI_UINT32 || flags.data.length !== 8) {
      throw this.corrupt(`${what}: array flags are not 2 uint32 values`);
    }
    const word = new DataView(flags.data.buffer, flags.data.byteOffset, 4)
      .getUint32(0, this.littleEndian);
    const dimsEl = this.element(buf, flags.end, `${what}: dimensions`);
    if (dimsEl.type !== MI_INT32) throw this.corrupt(`${what}: dimensions are not int32`);
    const dims = [...this.numbers(dimsEl, `${what}: dimensions`)];
    if (dims.length < 2 || dims.some((d) => d < 0)) {
      throw this.corrupt(`${what}: bad dimensions [${dims.join(", ")}]`);
    }
    const nameEl = this.element(buf, dimsEl.end, `${what}: array name`);
    if (nameEl.type !== MI_INT8 && nameEl.type !== MI_UTF8) {
      throw this.corrupt(`${what}: array name is not int8 text`);
    }
    return {
      cls: word & 0xff,
      complex: (word & FLAG_COMPLEX) !== 0,
      logical: (word & FLAG_LOGICAL) !== 0,
      dims,
      name: utf8.decode(nameEl.data),
      pos: nameEl.end,
    };
  }

  /** The value of the miMATRIX data `buf` (an empty buffer is MATLAB's `[]`). */
  value(buf: Uint8Array, what: string): MatValue {
    if (buf.length === 0) {
      return { kind: "numeric", class: "double", dims: [0, 0], data: new Float64Array() };
    }
    const h = this.header(buf, what);
    const count = h.dims.reduce((a, b) => a * b, 1);
    const cls = CLASSES[h.cls] ?? `class ${h.cls}`;
    if (h.complex) {
      throw this.unsupported(`${what} holds complex numbers, which this reader does not read`);
    }
    if (h.cls === MX_STRUCT) return this.struct(buf, h, count, what);
    if (h.cls === MX_CHAR) {
      const el = this.element(buf, h.pos, `${what}: characters`);
      const codes = el.type === MI_UTF8
        ? [...utf8.decode(el.data)].map((c) => c.codePointAt(0)!)
        : el.type === MI_UTF16
        ? [...this.numbers({ ...el, type: MI_UINT16 }, what)]
        : [...this.numbers(el, `${what}: characters`)];
      if (codes.length !== count) {
        throw this.corrupt(`${what}: ${codes.length} characters for dimensions [${h.dims}]`);
      }
      // Column-major: row r is characters r, r + rows, r + 2 rows, ...
      const rows = h.dims[0], cols = count / Math.max(rows, 1);
      const out = Array.from({ length: rows }, (_, r) => {
        let row = "";
        for (let c = 0; c < cols; c++) {
          const code = codes[r + c * rows];
          if (!Number.isInteger(code) || code < 0 || code > 0x10ffff) {
            throw this.corrupt(`${what}: character ${code}`);
          }
          row += String.fromCodePoint(code);
        }
        return row;
      });
      return { kind: "char", dims: h.dims, rows: out };
    }
    if (h.cls >= MX_DOUBLE && h.cls <= MX_UINT64) {
      // MATLAB stores doubles in the smallest type that holds them (uint8, int16, ...).
      const data = this.numbers(this.element(buf, h.pos, `${what}: values`), `${what}: values`);
      if (data.length !== count) {
        throw this.corrupt(`${what}: ${data.length} values for dimensions [${h.dims}]`);
      }
      return { kind: "numeric", class: h.logical ? "logical" : cls, dims: h.dims, data };
    }
    throw this.unsupported(
      `${what} is a ${cls} array; this reader reads numeric, char and struct arrays only`,
    );
  }

  struct(buf: Uint8Array, h: ArrayHeader, count: number, what: string): MatStruct {
    const lenEl = this.element(buf, h.pos, `${what}: field name length`);
    const [len] = this.numbers(lenEl, `${what}: field name length`);
    const namesEl = this.element(buf, lenEl.end, `${what}: field names`);
    if (!(len > 0) || namesEl.data.length % len) {
      throw this.corrupt(`${what}: ${namesEl.data.length} bytes of field names of length ${len}`);
    }
    const fields: string[] = [];
    for (let o = 0; o < namesEl.data.length; o += len) {
      const raw = namesEl.data.subarray(o, o + len);
      const nul = raw.indexOf(0);
      fields.push(utf8.decode(nul < 0 ? raw : raw.subarray(0, nul)));
    }
    const elements: Record<string, MatValue>[] = [];
    let pos = namesEl.end;
    for (let i = 0; i < count; i++) {
      const rec: Record<string, MatValue> = {};
      for (const f of fields) {
        const at = `${what}(${i + 1}).${f}`;
        const el = this.element(buf, pos, at);
        if (el.type !== MI_MATRIX) {
          throw this.corrupt(`${at}: expected a matrix, got type ${el.type}`);
        }
        rec[f] = this.value(el.data, at);
        pos = el.end;
      }
      elements.push(rec);
    }
    return { kind: "struct", dims: h.dims, fields, elements };
  }
}

/**
 * The variable `name` of a MAT file's bytes (see the module comment);
 * `file` names the file in error messages.
 */
export function parseMatVariable(bytes: Uint8Array, name: string, file: string): MatValue {
  const text = latin1.decode(bytes.subarray(0, 116));
  if (text.startsWith("MATLAB 7.3")) {
    throw new DataError(
      `${file} is a MATLAB 7.3 (HDF5) MAT file, which this reader does not read; save it ` +
        `with MATLAB's -v7 option or scipy.io.savemat`,
    );
  }
  const endian = latin1.decode(bytes.subarray(126, 128));
  if (bytes.length < 128 || (endian !== "IM" && endian !== "MI")) {
    throw new DataError(
      `${file} is not a MATLAB 5 MAT file (no "IM"/"MI" endian mark at byte 126 of its ` +
        `128-byte header); give the devkit's data/meta.mat or a synsets text file`,
    );
  }
  const r = new MatReader(file, endian === "IM");
  const version = new DataView(bytes.buffer, bytes.byteOffset + 124, 2).getUint16(
    0,
    r.littleEndian,
  );
  if (version !== 0x0100) throw r.corrupt(`header version 0x${version.toString(16)}, not 0x0100`);
  const seen: string[] = [];
  for (let pos = 128; pos < bytes.length;) {
    const el = r.element(bytes, pos, "a variable");
    let matrix = el;
    if (el.type === MI_COMPRESSED) {
      let inflated: Uint8Array;
      try {
        inflated = inflateSync(el.data);
      } catch (e) {
        throw r.corrupt(
          `compressed variable at byte ${pos} does not inflate (${(e as Error).message})`,
        );
      }
      matrix = r.element(inflated, 0, `the compressed variable at byte ${pos}`);
    }
    if (matrix.type !== MI_MATRIX) {
      throw r.corrupt(`element at byte ${pos} is of type ${matrix.type}, not a matrix (14)`);
    }
    if (matrix.data.length) {
      const h = r.header(matrix.data, `variable at byte ${pos}`);
      if (h.name === name) return r.value(matrix.data, name);
      seen.push(h.name);
    }
    pos = el.end;
  }
  throw new DataError(
    `${file} holds no variable "${name}" (variables: ${seen.join(", ") || "none"})`,
  );
}

/** The variable `name` of the MAT file at `path` (see the module comment). */
export function readMatVariable(path: string, name: string): MatValue {
  requireRegularFile(path, "MAT file");
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(path);
  } catch (e) {
    throw new DataError(`cannot read MAT file ${path}: ${(e as Error).message}`);
  }
  return parseMatVariable(bytes, name, path);
}
