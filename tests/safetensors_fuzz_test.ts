/**
 * Fuzzing the safetensors reader: thousands of seeded mutations of valid
 * files must either parse into something self-consistent or fail with a
 * SafetensorsError — never a RangeError / TypeError / SyntaxError leaking out
 * of typed-array, JSON or UTF-8 handling.
 */
import assert from "node:assert/strict";
import { SafetensorsError } from "../src/errors.ts";
import {
  encodeSafetensors,
  parseSafetensorsBytes,
  SafetensorsFile,
  type SafetensorsTensorData,
} from "../src/weights/safetensors.ts";
import { dtypeSize, SAFETENSORS_DTYPES, type SafetensorsDType } from "../src/weights/dtype.ts";
import { rng } from "./_helpers.ts";

type Rand = () => number;
const int = (r: Rand, n: number) => Math.floor(r() * n);
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[int(r, xs.length)];

function randomBytes(r: Rand, n: number): Uint8Array {
  return Uint8Array.from({ length: n }, () => int(r, 256));
}

/** A random tensor of `dtype` with the given shape (random bytes are valid for every dtype). */
function tensor(r: Rand, dtype: SafetensorsDType, shape: number[]): SafetensorsTensorData {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype, shape, data: randomBytes(r, n * dtypeSize(dtype)) };
}

function validFiles(): Uint8Array[] {
  const r = rng(1234);
  const all: Record<string, SafetensorsTensorData> = {};
  SAFETENSORS_DTYPES.forEach((d, i) => (all[`t${i}.${d}`] = tensor(r, d, [2, i % 3 + 1])));
  return [
    encodeSafetensors(all, { format: "pt" }),
    encodeSafetensors({ s: tensor(r, "F32", []) }),
    encodeSafetensors({}, { only: "metadata", "": "" }),
    encodeSafetensors({
      e0: tensor(r, "F32", [0]),
      e1: tensor(r, "F16", [4, 0, 3]),
      h: tensor(r, "F16", [3, 5]),
      b: tensor(r, "BF16", [7]),
      l: tensor(r, "I64", [2]),
      "ünï/cøde.weight": tensor(r, "U8", [5]),
    }),
    encodeSafetensors({
      "layer.0.weight": tensor(r, "F32", [4, 3]),
      "layer.0.bias": tensor(r, "F32", [4]),
    }),
  ];
}

function headerOf(bytes: Uint8Array): { length: number; json: Record<string, unknown> } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { length, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) };
}

/** Rebuilds a file from an edited header and the original data region. */
function withHeader(json: unknown, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(json));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

const WEIRD_VALUES: unknown[] = [
  null,
  true,
  -1,
  0,
  1.5,
  1e308,
  -0,
  2 ** 53,
  2 ** 64,
  "8",
  "",
  [],
  {},
  [0],
  [1, 2, 3],
  [-4, 4],
  [2 ** 53, 2 ** 53 + 8],
  [1e300, 1e300],
  "F32",
  "F4",
  "f32",
  "__proto__",
];

/** A fresh copy of a weird value (copies, so later edits cannot create cycles). */
const weird = (r: Rand): unknown => structuredClone(pick(r, WEIRD_VALUES));

/** Structural edits of the parsed header. */
function jsonEdit(r: Rand, json: Record<string, unknown>, dataLength: number): unknown {
  const names = Object.keys(json);
  const name = names.length > 0 ? pick(r, names) : "x";
  const entry = json[name] as Record<string, unknown> | undefined;
  const near = () => int(r, dataLength + 17) - 8;
  switch (int(r, 12)) {
    case 0: // random offsets near the data region
      if (entry && typeof entry === "object") entry.data_offsets = [near(), near()];
      break;
    case 1: // copy another tensor's offsets: overlap
      if (entry && typeof entry === "object") {
        const other = json[pick(r, names)] as Record<string, unknown>;
        if (other && typeof other === "object") entry.data_offsets = other.data_offsets;
      }
      break;
    case 2: // shift offsets by a little
      if (entry && Array.isArray(entry.data_offsets)) {
        const d = int(r, 9) - 4;
        entry.data_offsets = entry.data_offsets.map((x: number) => x + d);
      }
      break;
    case 3: // change dtype (known or not)
      if (entry && typeof entry === "object") {
        entry.dtype = r() < 0.7 ? pick(r, SAFETENSORS_DTYPES) : weird(r);
      }
      break;
    case 4: // change shape
      if (entry && typeof entry === "object") {
        entry.shape = r() < 0.6 ? Array.from({ length: int(r, 4) }, () => int(r, 6)) : weird(r);
      }
      break;
    case 5: // weird value for a random field
      if (entry && typeof entry === "object") {
        entry[pick(r, ["dtype", "shape", "data_offsets", "extra"])] = weird(r);
      }
      break;
    case 6: // delete a field
      if (entry && typeof entry === "object") {
        delete entry[pick(r, ["dtype", "shape", "data_offsets"])];
      }
      break;
    case 7: // replace an entry
      json[name] = weird(r);
      break;
    case 8: // metadata edits
      json.__metadata__ = r() < 0.5 ? weird(r) : { k: weird(r) };
      break;
    case 9: // add an entry
      json[`new${int(r, 3)}`] = {
        dtype: pick(r, SAFETENSORS_DTYPES),
        shape: [int(r, 4)],
        data_offsets: [near(), near()],
      };
      break;
    case 10: // whole header replaced by a non-object
      return weird(r);
    default: // delete an entry
      delete json[name];
  }
  return json;
}

/** One random mutation of a valid file. */
function mutate(r: Rand, file: Uint8Array): Uint8Array {
  let parsed: ReturnType<typeof headerOf>;
  try {
    parsed = headerOf(file);
  } catch {
    // Already broken by an earlier mutation: flip a byte anywhere or truncate.
    const out = file.slice(0, r() < 0.3 ? int(r, file.length + 1) : file.length);
    if (out.length > 0) out[int(r, out.length)] ^= 1 << int(r, 8);
    return out;
  }
  const { length, json } = parsed;
  const data = file.subarray(8 + length);
  const out = file.slice();
  const view = new DataView(out.buffer);
  switch (int(r, 7)) {
    case 0: // truncation
      return file.slice(0, int(r, file.length));
    case 1: { // bit flips in prefix + header
      for (let k = 1 + int(r, 4); k > 0; k--) {
        const i = int(r, 8 + length);
        out[i] ^= 1 << int(r, 8);
      }
      return out;
    }
    case 2: { // byte overwrites in the header, often with JSON punctuation
      const alphabet = new TextEncoder().encode('{}[]",:-.0123456789eE \\u\x00');
      for (let k = 1 + int(r, 4); k > 0; k--) {
        out[8 + int(r, length)] = r() < 0.6 ? pick(r, [...alphabet]) : int(r, 256);
      }
      return out;
    }
    case 3: { // header lengths: huge, off by a little, around the file size
      const choices = [
        BigInt(length + int(r, 17) - 8),
        BigInt(file.length - 8 + int(r, 5) - 2),
        2n ** 64n - 1n - BigInt(int(r, 3)),
        2n ** 53n,
        BigInt(100_000_000 + int(r, 3) - 1),
        BigInt(int(r, 2 ** 31)),
        0n,
      ];
      const n = pick(r, choices);
      view.setBigUint64(0, n < 0n ? 0n : n, true);
      return out;
    }
    case 4: // structural JSON edits (a few in a row)
    {
      let j: unknown = json;
      for (let k = 1 + int(r, 3); k > 0; k--) {
        if (j && typeof j === "object" && !Array.isArray(j)) {
          j = jsonEdit(r, j as Record<string, unknown>, data.length);
        }
      }
      return withHeader(j, data);
    }
    case 5: // data region edits: always still valid
      for (let k = 0; k < 4 && data.length > 0; k++) {
        out[8 + length + int(r, data.length)] = int(r, 256);
      }
      return out;
    default: // append or drop trailing bytes
      return r() < 0.5 ? new Uint8Array([...file, ...randomBytes(r, int(r, 9))]) : out;
  }
}

/** Parses and reads everything; checks consistency on success. */
async function exercise(st: SafetensorsFile, bytes: Uint8Array): Promise<void> {
  const spans: [number, number][] = [];
  for (const name of st.names()) {
    const info = st.info(name);
    assert.equal(info.numel, info.shape.reduce((a, b) => a * b, 1), name);
    assert.equal(info.byteLength, info.numel * dtypeSize(info.dtype), name);
    assert.ok(info.offset >= 8 && info.offset + info.byteLength <= bytes.length, name);
    if (info.byteLength > 0) spans.push([info.offset, info.offset + info.byteLength]);
    const raw = await st.read(name);
    assert.equal(raw.length, info.numel);
    assert.deepEqual(
      new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength),
      bytes.subarray(info.offset, info.offset + info.byteLength),
      name,
    );
    const f = await st.readF32(name, { allowNonFinite: true });
    assert.equal(f.length, info.numel);
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) assert.ok(spans[i][0] >= spans[i - 1][1], "no overlap");
  for (const v of Object.values(st.metadata)) assert.equal(typeof v, "string");
}

/** Phrases of the validation messages; every one must be provoked by the fuzzer. */
const PROBLEMS = [
  "shorter than the 8-byte header-length prefix",
  "header length is 0",
  "-byte limit",
  "runs past the end of the",
  "not valid UTF-8",
  "not valid JSON",
  "must be a JSON object",
  "header entry must be an object",
  "which this reader does not support",
  '"dtype" must be a string',
  '"shape" must be an array of non-negative integers',
  '"data_offsets" must be [begin, end]',
  "end before they begin",
  "bytes but data_offsets",
  "-byte data region",
  "overlaps tensor",
  '"__metadata__" must be an object',
  "not a string",
];

async function check(bytes: Uint8Array, seed: number, counts: Map<string, number>): Promise<void> {
  try {
    await exercise(parseSafetensorsBytes(bytes, "fuzz.safetensors"), bytes);
    counts.set("ok", (counts.get("ok") ?? 0) + 1);
  } catch (e) {
    if (!(e instanceof SafetensorsError)) {
      throw new Error(`seed ${seed}: expected SafetensorsError, got ${e}`, { cause: e });
    }
    assert.match(e.message, /^fuzz\.safetensors: /, `seed ${seed}`);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(e.message, /[\x00-\x1f\x7f]/, `seed ${seed}: message must be printable`);
    counts.set("error", (counts.get("error") ?? 0) + 1);
    for (const kind of PROBLEMS) {
      if (e.message.includes(kind)) counts.set(kind, (counts.get(kind) ?? 0) + 1);
    }
  }
}

Deno.test("safetensors fuzz: 20000 mutated buffers parse consistently or throw SafetensorsError", async () => {
  const files = validFiles();
  for (const f of files) await exercise(parseSafetensorsBytes(f), f); // the seeds are valid
  const counts = new Map<string, number>();
  for (let seed = 1; seed <= 20000; seed++) {
    const r = rng(seed);
    let bytes = pick(r, files);
    for (let k = 1 + int(r, 2); k > 0; k--) bytes = mutate(r, bytes);
    await check(bytes, seed, counts);
  }
  // Both outcomes must be well represented, or the mutations are not probing anything.
  assert.ok((counts.get("ok") ?? 0) > 2000, `ok: ${counts.get("ok")}`);
  assert.ok((counts.get("error") ?? 0) > 8000, `error: ${counts.get("error")}`);
  for (const kind of PROBLEMS) assert.ok(counts.has(kind), `no mutation provoked "${kind}"`);
});

Deno.test("safetensors fuzz: mutated files on disk behave like the in-memory parser", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = validFiles();
    const path = `${dir}/fuzz.safetensors`;
    for (let seed = 1; seed <= 150; seed++) {
      const r = rng(seed * 7919);
      const bytes = mutate(r, pick(r, files));
      await Deno.writeFile(path, bytes);
      let memory: string, disk: string;
      try {
        const st = parseSafetensorsBytes(bytes, path);
        await exercise(st, bytes);
        memory = JSON.stringify(st.names().map((n) => st.info(n)));
      } catch (e) {
        assert.ok(e instanceof SafetensorsError, `seed ${seed}: ${e}`);
        memory = e.message;
      }
      try {
        using st = await SafetensorsFile.open(path);
        await exercise(st, bytes);
        disk = JSON.stringify(st.names().map((n) => st.info(n)));
      } catch (e) {
        assert.ok(e instanceof SafetensorsError, `seed ${seed}: ${e}`);
        disk = e.message;
      }
      assert.equal(disk, memory, `seed ${seed}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors fuzz: random tensor sets round-trip through the writer", async () => {
  const r = rng(99);
  for (let trial = 0; trial < 300; trial++) {
    const tensors: Record<string, SafetensorsTensorData> = {};
    for (let i = int(r, 6); i > 0; i--) {
      const name = pick(r, [
        "a",
        "b.weight",
        "ünï",
        "x".repeat(int(r, 40)),
        `${int(r, 100)}`,
        "layer.1",
      ]);
      const shape = Array.from({ length: int(r, 4) }, () => int(r, 5));
      tensors[name] = tensor(r, pick(r, SAFETENSORS_DTYPES), shape);
    }
    const metadata = r() < 0.5
      ? { format: "pt", [`k${int(r, 9)}`]: "ü".repeat(int(r, 5)) }
      : undefined;
    const bytes = encodeSafetensors(tensors, metadata);
    assert.equal(Number(new DataView(bytes.buffer).getBigUint64(0, true)) % 8, 0);
    const st = parseSafetensorsBytes(bytes);
    assert.deepEqual(st.names().sort(), Object.keys(tensors).sort());
    assert.deepEqual(st.metadata, metadata ?? {});
    for (const [name, t] of Object.entries(tensors)) {
      const info = st.info(name);
      assert.equal(info.dtype, t.dtype);
      assert.deepEqual(info.shape, t.shape);
      assert.equal(info.offset % dtypeSize(t.dtype), 0, "aligned to the element size");
      const raw = await st.read(name);
      assert.deepEqual(new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength), t.data);
    }
  }
});
