/**
 * Reader and writer for `.safetensors` files: an 8-byte little-endian header
 * length N, N bytes of JSON header (`{name: {dtype, shape, data_offsets}}`
 * plus an optional `__metadata__` string map), then the raw little-endian
 * tensor data, `data_offsets` counting from the end of the header.
 *
 * Files are read lazily: `open` reads only the header, `read(name)` seeks to
 * one tensor and reads exactly its bytes, so a 350 MB checkpoint is never
 * held in memory twice. Every header field is validated before any tensor
 * is touched; every problem is a {@link SafetensorsError} naming the file,
 * the tensor and what to do.
 */
import { SafetensorsError } from "../errors.ts";
import { notRegularFileReason } from "../files.ts";
import {
  dtypeSize,
  HOST_LITTLE_ENDIAN,
  isSafetensorsDType,
  rawToF32,
  type RawTypedArray,
  SAFETENSORS_DTYPES,
  type SafetensorsDType,
  viewRaw,
} from "./dtype.ts";

import { checkWeightValues } from "./values.ts";

export type { RawTypedArray, SafetensorsDType } from "./dtype.ts";

/** Where and what one tensor is. */
export interface SafetensorsTensorInfo {
  /** Element type. */
  dtype: SafetensorsDType;
  /** Dimensions, outermost first; `[]` for a scalar. */
  shape: number[];
  /** Number of elements (product of `shape`; 1 for a scalar). */
  numel: number;
  /** Bytes of data (`numel * dtype size`). */
  byteLength: number;
  /** Absolute byte offset of the tensor's data in the file (or buffer). */
  offset: number;
}

/** One tensor to write: `data` holds `numel(shape)` elements of `dtype`, little-endian. */
export interface SafetensorsTensorData {
  /** Element type. */
  dtype: SafetensorsDType;
  /** Dimensions, outermost first; `[]` for a scalar. */
  shape: number[];
  /** The elements (any typed array or DataView over exactly the right number of bytes). */
  data: ArrayBufferView;
}

/** Largest header accepted (same limit as the reference implementation). */
export const MAX_HEADER_BYTES = 100_000_000;

const CORRUPT_HINT =
  "The file is damaged or was not written as safetensors: re-download it, or re-export the " +
  "weights (e.g. safetensors.torch.save_file).";

function corrupt(source: string, problem: string): SafetensorsError {
  return new SafetensorsError(`${source}: ${problem}. ${CORRUPT_HINT}`);
}

/** JSON text of a header value for messages: short and printable whatever the file holds. */
function show(value: unknown): string {
  let text = JSON.stringify(value) ?? String(value);
  if (text.length > 120) text = text.slice(0, 117) + "...";
  // JSON already escapes C0 controls and lone surrogates; also escape DEL, C1 and bidi controls.
  return text.replace(
    /[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "string") {
    return `the string ${show(value)}`;
  }
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

// ---------------------------------------------------------------------------
// Header parsing and validation (shared by files and in-memory buffers).

interface ParsedHeader {
  /** Tensors in data order (by begin offset, then name). */
  tensors: Map<string, SafetensorsTensorInfo>;
  metadata: Record<string, string>;
}

/**
 * Reads the 8-byte length prefix and checks it against the source size.
 * Returns the header length N; the header occupies bytes [8, 8 + N).
 */
function parseHeaderLength(prefix: Uint8Array, size: number, source: string): number {
  if (size < 8) {
    throw corrupt(source, `only ${size} bytes long, shorter than the 8-byte header-length prefix`);
  }
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n === 0n) throw corrupt(source, "header length is 0 (a safetensors header is at least '{}')");
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw corrupt(
      source,
      `header length ${n} bytes exceeds the ${MAX_HEADER_BYTES}-byte limit (the first 8 bytes ` +
        `do not look like a safetensors header length)`,
    );
  }
  const len = Number(n);
  if (8 + len > size) {
    throw corrupt(
      source,
      `header length ${len} bytes runs past the end of the ${size}-byte file (truncated download?)`,
    );
  }
  return len;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function parseHeaderJson(bytes: Uint8Array, source: string): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw corrupt(source, "header is not valid UTF-8");
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // V8's message quotes the offending text, which may hold control bytes: keep it printable.
    const why = (e as Error).message.replace(/[^\x20-\x7e]/g, "?").slice(0, 160);
    throw corrupt(source, `header is not valid JSON (${why})`);
  }
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw corrupt(source, `header must be a JSON object, found ${describe(json)}`);
  }
  const dup = duplicateKey(text);
  if (dup) {
    throw corrupt(
      source,
      dup.inside === null
        ? `tensor ${show(dup.key)} appears twice in the header (a JSON reader keeps only the ` +
          `last one, so which data is meant is ambiguous)`
        : `key ${show(dup.key)} appears twice in header entry ${show(dup.inside)}`,
    );
  }
  return json as Record<string, unknown>;
}

/**
 * The first key repeated within one object of a JSON text already known to
 * be valid (`JSON.parse` silently keeps the last of duplicates), with the
 * top-level key it appears under (null for a top-level duplicate), or null.
 * Keys compare after unescaping, as `JSON.parse` compares them.
 */
export function duplicateKey(text: string): { key: string; inside: string | null } | null {
  // One frame per open object (its keys) or array (null), plus the top-level key we are under.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false, topKey: string | null = null, lastKey = "";
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x22) { // "
      let j = i + 1;
      while (text.charCodeAt(j) !== 0x22) j += text.charCodeAt(j) === 0x5c ? 2 : 1;
      const keys = stack[stack.length - 1];
      if (expectKey && keys) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (keys.has(key)) return { key, inside: stack.length === 1 ? null : topKey };
        keys.add(key);
        lastKey = key;
        expectKey = false;
      }
      i = j;
    } else if (ch === 0x7b) { // {
      if (stack.length === 1) topKey = lastKey;
      stack.push(new Set());
      expectKey = true;
    } else if (ch === 0x5b) { // [
      if (stack.length === 1) topKey = lastKey;
      stack.push(null);
    } else if (ch === 0x7d || ch === 0x5d) stack.pop(); // } ]
    else if (ch === 0x2c) expectKey = stack[stack.length - 1] !== null; // ,
  }
  return null;
}

function parseMetadata(value: unknown, source: string): Record<string, string> {
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw corrupt(source, `"__metadata__" must be an object of strings, found ${describe(value)}`);
  }
  const entries: [string, string][] = [];
  for (const [k, v] of Object.entries(value)) {
    if (typeof v !== "string") {
      throw corrupt(
        source,
        `"__metadata__" entry ${show(k)} is ${describe(v)}, not a string`,
      );
    }
    entries.push([k, v]);
  }
  // fromEntries defines own properties, so a key like "__proto__" stays plain data.
  return Object.freeze(Object.fromEntries(entries));
}

function isIndex(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** Validates one header entry; offsets in the result are relative to the data region. */
function parseTensorEntry(
  name: string,
  entry: unknown,
  dataSize: number,
  source: string,
): SafetensorsTensorInfo {
  const where = `tensor ${show(name)}`;
  if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
    throw corrupt(source, `${where}: header entry must be an object, found ${describe(entry)}`);
  }
  const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
  if (!isSafetensorsDType(dtype)) {
    const known = SAFETENSORS_DTYPES.join(", ");
    throw typeof dtype === "string"
      ? new SafetensorsError(
        `${source}: ${where} has dtype ${show(dtype)}, which this reader does not ` +
          `support (supported: ${known}). Convert the weights to F32, F16 or BF16 before ` +
          `saving them.`,
      )
      : corrupt(
        source,
        `${where}: "dtype" must be a string (one of ${known}), found ${describe(dtype)}`,
      );
  }
  if (!Array.isArray(shape) || !shape.every(isIndex)) {
    throw corrupt(
      source,
      `${where}: "shape" must be an array of non-negative integers, found ${
        Array.isArray(shape) ? show(shape) : describe(shape)
      }`,
    );
  }
  if (
    !Array.isArray(offsets) || offsets.length !== 2 || !isIndex(offsets[0]) ||
    !isIndex(offsets[1])
  ) {
    throw corrupt(
      source,
      `${where}: "data_offsets" must be [begin, end] with non-negative integers, found ${
        Array.isArray(offsets) ? show(offsets) : describe(offsets)
      }`,
    );
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) {
    throw corrupt(source, `${where}: data_offsets [${begin}, ${end}] end before they begin`);
  }
  if (end > dataSize) {
    throw corrupt(
      source,
      `${where}: data_offsets [${begin}, ${end}] run past the end of the ${dataSize}-byte data ` +
        `region (truncated file?)`,
    );
  }
  const size = dtypeSize(dtype);
  // numel can only be trusted once it is known to fit in the data region, so
  // stop multiplying (before it loses precision) once it exceeds what the offsets allow.
  const span = end - begin;
  let numel = shape.includes(0) ? 0 : 1;
  let tooBig = false;
  for (let i = 0; i < shape.length && numel > 0; i++) {
    numel *= shape[i];
    if (numel * size > span && i < shape.length - 1) {
      tooBig = true;
      break;
    }
  }
  if (tooBig || numel * size !== span) {
    throw corrupt(
      source,
      `${where}: shape ${show(shape)} of ${dtype} needs ` +
        `${tooBig ? `more than ${span}` : numel * size} bytes but data_offsets ` +
        `[${begin}, ${end}] hold ${span}`,
    );
  }
  return { dtype, shape: [...shape], numel, byteLength: end - begin, offset: begin };
}

/**
 * Validates a whole header. `dataSize` is the number of bytes after the
 * header; `dataStart` is added to every offset in the result.
 */
function parseHeader(
  bytes: Uint8Array,
  dataStart: number,
  dataSize: number,
  source: string,
): ParsedHeader {
  const json = parseHeaderJson(bytes, source);
  let metadata: Record<string, string> = Object.freeze({});
  const entries: [string, SafetensorsTensorInfo][] = [];
  for (const [name, entry] of Object.entries(json)) {
    if (name === "__metadata__") metadata = parseMetadata(entry, source);
    else entries.push([name, parseTensorEntry(name, entry, dataSize, source)]);
  }
  // Sort by data position so overlaps are adjacent; empty tensors overlap nothing.
  entries.sort((a, b) =>
    a[1].offset - b[1].offset || a[1].byteLength - b[1].byteLength ||
    (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)
  );
  let prev: [string, SafetensorsTensorInfo] | undefined;
  for (const cur of entries) {
    if (cur[1].byteLength === 0) continue;
    if (prev && cur[1].offset < prev[1].offset + prev[1].byteLength) {
      const [pn, p] = prev, [cn, c] = cur;
      throw corrupt(
        source,
        `tensor ${show(cn)} (data_offsets [${c.offset}, ${c.offset + c.byteLength}]) ` +
          `overlaps tensor ${show(pn)} ([${p.offset}, ${p.offset + p.byteLength}])`,
      );
    }
    prev = cur;
  }
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, info] of entries) {
    tensors.set(name, { ...info, offset: info.offset + dataStart });
  }
  return { tensors, metadata };
}

// ---------------------------------------------------------------------------
// Byte sources: where tensor bytes come from.

/** Random access to the bytes of a file or buffer. */
interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** Reads `[offset, offset + length)` into a fresh (hence aligned) buffer. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): void;
}

class MemorySource implements ByteSource {
  constructor(readonly bytes: Uint8Array) {}
  get size(): number {
    return this.bytes.byteLength;
  }
  read(offset: number, length: number): Promise<Uint8Array> {
    // A copy: the caller owns the result, and the copy is aligned for any dtype.
    return Promise.resolve(this.bytes.slice(offset, offset + length));
  }
  close(): void {}
}

class FileSource implements ByteSource {
  /** seek + read pairs must not interleave, so reads run one after another. */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(readonly file: Deno.FsFile, readonly size: number, readonly path: string) {}

  read(offset: number, length: number): Promise<Uint8Array> {
    const result = this.#queue.then(() => this.#readNow(offset, length));
    this.#queue = result.catch(() => {});
    return result;
  }

  async #readNow(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(length);
    try {
      await this.file.seek(offset, Deno.SeekMode.Start);
      let got = 0;
      while (got < length) {
        const n = await this.file.read(out.subarray(got));
        if (n === null) {
          throw corrupt(
            this.path,
            `ended after ${offset + got} bytes while reading bytes [${offset}, ${
              offset + length
            })` +
              ` (was the file truncated while open?)`,
          );
        }
        got += n;
      }
    } catch (e) {
      if (e instanceof SafetensorsError) throw e;
      throw new SafetensorsError(
        `${this.path}: reading bytes [${offset}, ${offset + length}) failed: ` +
          `${(e as Error).message}. Check that the file is still readable.`,
        { cause: e },
      );
    }
    return out;
  }

  close(): void {
    this.file.close();
  }
}

// ---------------------------------------------------------------------------

/**
 * An open `.safetensors` file (or in-memory buffer). The header is parsed and
 * validated up front; tensor data is read on demand.
 *
 * ```ts
 * using st = await SafetensorsFile.open("model.safetensors");
 * const w = await st.readF32("classifier.weight");
 * ```
 */
export class SafetensorsFile {
  readonly #tensors: Map<string, SafetensorsTensorInfo>;
  readonly #source: ByteSource;
  #closed = false;

  /** The header's `__metadata__` string map (`{}` when absent); frozen. */
  readonly metadata: Record<string, string>;

  private constructor(
    /** File path (or the name given to an in-memory buffer), used in messages. */
    readonly path: string,
    header: ParsedHeader,
    source: ByteSource,
  ) {
    this.#tensors = header.tensors;
    this.metadata = header.metadata;
    this.#source = source;
  }

  /** Opens `path` and validates its header; tensor data is read lazily. */
  static async open(path: string): Promise<SafetensorsFile> {
    let file: Deno.FsFile;
    let size: number;
    // Opening a FIFO or a device blocks: refuse anything but a regular file first.
    const why = notRegularFileReason(path);
    if (why !== null && why !== "does not exist") {
      throw new SafetensorsError(
        `${path}: ${why.startsWith("a ") ? `is ${why}` : why}. Pass the .safetensors file ` +
          `itself (e.g. <model dir>/model.safetensors).`,
      );
    }
    try {
      file = await Deno.open(path, { read: true });
    } catch (e) {
      const what = e instanceof Deno.errors.NotFound
        ? "file not found. Check the path"
        : `cannot open the file (${(e as Error).message}). Check the path and its permissions`;
      throw new SafetensorsError(`${path}: ${what}.`, { cause: e });
    }
    try {
      const stat = await file.stat();
      if (!stat.isFile) {
        throw new SafetensorsError(
          `${path}: not a regular file. Pass the .safetensors file itself (e.g. ` +
            `<model dir>/model.safetensors).`,
        );
      }
      size = stat.size;
      const source = new FileSource(file, size, path);
      const prefix = size >= 8 ? await source.read(0, 8) : new Uint8Array(8);
      const headerLength = parseHeaderLength(prefix, size, path);
      const headerBytes = await source.read(8, headerLength);
      const dataStart = 8 + headerLength;
      const header = parseHeader(headerBytes, dataStart, size - dataStart, path);
      return new SafetensorsFile(path, header, source);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  /**
   * Parses an in-memory `.safetensors` buffer (not copied: do not modify it
   * while the result is in use). `name` is used in error messages.
   */
  static fromBytes(bytes: Uint8Array, name = "<in-memory safetensors>"): SafetensorsFile {
    const headerLength = parseHeaderLength(bytes, bytes.byteLength, name);
    const dataStart = 8 + headerLength;
    const header = parseHeader(
      bytes.subarray(8, dataStart),
      dataStart,
      bytes.byteLength - dataStart,
      name,
    );
    return new SafetensorsFile(name, header, new MemorySource(bytes));
  }

  /** Tensor names in the order their data appears in the file. */
  names(): string[] {
    return [...this.#tensors.keys()];
  }

  /** True if the file holds a tensor called `name`. */
  has(name: string): boolean {
    return this.#tensors.has(name);
  }

  /** dtype, shape, size and file offset of tensor `name` (a copy). */
  info(name: string): SafetensorsTensorInfo {
    const info = this.#tensors.get(name);
    if (!info) throw this.#notFound(name);
    return { ...info, shape: [...info.shape] };
  }

  /**
   * Reads tensor `name` as its natural typed array: Float32Array (F32),
   * Float64Array (F64), Uint16Array (raw bits of F16 / BF16, and U16),
   * Uint8Array (raw bits of F8_*, U8, BOOL), BigInt64Array (I64),
   * BigUint64Array (U64), Int32Array, Uint32Array, Int16Array, Int8Array.
   * The array is a fresh copy owned by the caller.
   */
  async read(name: string): Promise<RawTypedArray> {
    const info = this.#tensors.get(name);
    if (!info) throw this.#notFound(name);
    if (this.#closed) {
      throw new SafetensorsError(
        `${this.path}: cannot read tensor ${show(name)}: the file was closed. Read ` +
          `all tensors before calling close().`,
      );
    }
    if (!HOST_LITTLE_ENDIAN) {
      throw new SafetensorsError(
        `${this.path}: safetensors data is little-endian and this host is big-endian; ` +
          `run on a little-endian machine.`,
      );
    }
    const bytes = info.byteLength === 0
      ? new Uint8Array(0)
      : await this.#source.read(info.offset, info.byteLength);
    return viewRaw(bytes, info.dtype);
  }

  /**
   * Reads tensor `name` converted to float32: F16, BF16 and F8 exactly
   * (subnormals, infinities, NaN), F64 rounded to nearest, integers as
   * values (exact up to 2^24), BOOL as 0 / 1. This is the weights' read
   * path, so by default the values are checked ({@link checkWeightValues}):
   * a NaN / infinite value, or a negative BatchNorm variance, is a
   * {@link SafetensorsError} naming the tensor. Pass `allowNonFinite` to
   * read data that is checked elsewhere (prediction files).
   */
  async readF32(name: string, options: { allowNonFinite?: boolean } = {}): Promise<Float32Array> {
    const info = this.#tensors.get(name);
    if (!info) throw this.#notFound(name);
    const values = rawToF32(await this.read(name), info.dtype);
    if (!options.allowNonFinite) checkWeightValues(values, name, this.path);
    return values;
  }

  /** Closes the file handle; later `read`s fail. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#source.close();
  }

  /** `using st = await SafetensorsFile.open(...)` closes it at scope end. */
  [Symbol.dispose](): void {
    this.close();
  }

  #notFound(name: string): SafetensorsError {
    // Suggest tensors sharing the last name component ("...weight") to spot layout mix-ups.
    const leaf = name.slice(name.lastIndexOf(".") + 1);
    const similar = this.names().filter((n) => n.endsWith(`.${leaf}`) || n === leaf).slice(0, 5);
    const hint = similar.length > 0
      ? ` Similar names: ${similar.map((s) => show(s)).join(", ")}.`
      : "";
    return new SafetensorsError(
      `${this.path}: no tensor named ${show(name)} (the file has ` +
        `${this.#tensors.size} tensors).${hint} Check that the checkpoint matches the expected ` +
        `model layout.`,
    );
  }
}

/**
 * Parses an in-memory `.safetensors` buffer; the result has the same
 * interface as {@link SafetensorsFile.open}. `name` is used in messages.
 */
export function parseSafetensorsBytes(bytes: Uint8Array, name?: string): SafetensorsFile {
  return SafetensorsFile.fromBytes(bytes, name);
}

// ---------------------------------------------------------------------------
// Writing.

interface EncodedLayout {
  /** Header including the 8-byte length prefix, padded so data starts 8-aligned. */
  header: Uint8Array;
  /** Tensor bytes in file order. */
  chunks: Uint8Array[];
}

/**
 * Lays out tensors like the reference writer: sorted by element size
 * (largest first), then name, packed without gaps. With the data region
 * 8-aligned this keeps every tensor aligned to its element size.
 */
function layout(
  tensors: Record<string, SafetensorsTensorData>,
  metadata: Record<string, string> | undefined,
  target: string,
): EncodedLayout {
  const fail = (problem: string) =>
    new SafetensorsError(
      `cannot write ${target}: ${problem}. Fix the tensors passed to the writer.`,
    );
  const names = Object.keys(tensors);
  for (const name of names) {
    if (name === "__metadata__") throw fail(`"__metadata__" is reserved and cannot name a tensor`);
    const t = tensors[name];
    const where = `tensor ${show(name)}`;
    if (!isSafetensorsDType(t?.dtype)) {
      throw fail(`${where} has unsupported dtype ${describe(t?.dtype)}`);
    }
    if (!Array.isArray(t.shape) || !t.shape.every(isIndex)) {
      throw fail(`${where}: shape must be an array of non-negative integers`);
    }
    if (!ArrayBuffer.isView(t.data)) throw fail(`${where}: data must be a typed array`);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel * dtypeSize(t.dtype) !== t.data.byteLength) {
      throw fail(
        `${where}: shape [${t.shape.join(", ")}] of ${t.dtype} needs ` +
          `${numel * dtypeSize(t.dtype)} bytes, data has ${t.data.byteLength}`,
      );
    }
  }
  if (metadata !== undefined) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== "string") throw fail(`metadata ${show(k)} must be a string`);
    }
  }
  names.sort((a, b) =>
    dtypeSize(tensors[b].dtype) - dtypeSize(tensors[a].dtype) || (a < b ? -1 : a > b ? 1 : 0)
  );
  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    header.__metadata__ = metadata;
  }
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const { dtype, shape, data } = tensors[name];
    header[name] = { dtype, shape, data_offsets: [offset, offset + data.byteLength] };
    chunks.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    offset += data.byteLength;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8 + json.length); // spaces
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return { header: out, chunks };
}

/**
 * Encodes tensors (and optional `__metadata__`) as a `.safetensors` buffer.
 * The header is space-padded so the data starts 8-byte aligned; tensors are
 * ordered by element size then name, so each is aligned to its element size.
 */
export function encodeSafetensors(
  tensors: Record<string, SafetensorsTensorData>,
  metadata?: Record<string, string>,
): Uint8Array {
  const { header, chunks } = layout(tensors, metadata, "safetensors buffer");
  const out = new Uint8Array(header.length + chunks.reduce((a, c) => a + c.length, 0));
  out.set(header, 0);
  let at = header.length;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * Writes tensors (and optional `__metadata__`) to `path` in the layout of
 * {@link encodeSafetensors}, streaming each tensor (no second copy in memory).
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, SafetensorsTensorData>,
  metadata?: Record<string, string>,
): Promise<void> {
  const { header, chunks } = layout(tensors, metadata, path);
  let file: Deno.FsFile | undefined;
  try {
    file = await Deno.open(path, { write: true, create: true, truncate: true });
    for (const chunk of [header, ...chunks]) {
      let done = 0;
      while (done < chunk.length) done += await file.write(chunk.subarray(done));
    }
  } catch (e) {
    throw new SafetensorsError(
      `cannot write ${path}: ${(e as Error).message}. Check that the directory exists and is ` +
        `writable and that the disk has space.`,
      { cause: e },
    );
  } finally {
    file?.close();
  }
}
