import assert from "node:assert/strict";
import { SafetensorsError } from "../src/errors.ts";
import {
  encodeSafetensors,
  parseSafetensorsBytes,
  SafetensorsFile,
  type SafetensorsTensorData,
  writeSafetensors,
} from "../src/weights/safetensors.ts";
import {
  bf16BitsToNumber,
  bf16ToF32,
  f16BitsToNumber,
  f16ToF32,
  f8e4m3ToF32,
  f8e5m2ToF32,
} from "../src/weights/dtype.ts";
import { fixture, fixtureTest, FULL, randomF32 } from "./_helpers.ts";

/** float32 bit pattern of each element. */
function bitsOf(a: Float32Array): number[] {
  return [...new Uint32Array(a.buffer, a.byteOffset, a.length)];
}

/** A file with a hand-written header (no padding) and `dataBytes` zero bytes of data. */
function handmade(header: unknown, dataBytes = 0): Uint8Array {
  const json = new TextEncoder().encode(
    typeof header === "string" ? header : JSON.stringify(header),
  );
  const out = new Uint8Array(8 + json.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}

/** Asserts that parsing (and reading every tensor of) `bytes` throws a SafetensorsError matching all `parts`. */
async function assertRejects(bytes: Uint8Array, ...parts: (string | RegExp)[]): Promise<void> {
  let error: unknown;
  try {
    const st = parseSafetensorsBytes(bytes, "bad.safetensors");
    for (const n of st.names()) await st.readF32(n);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof SafetensorsError, `expected SafetensorsError, got ${error}`);
  const msg = (error as Error).message;
  assert.match(msg, /^bad\.safetensors: /, msg);
  for (const p of parts) {
    if (typeof p === "string") assert.ok(msg.includes(p), `"${p}" not in: ${msg}`);
    else assert.match(msg, p);
  }
}

const sampleTensors: Record<string, SafetensorsTensorData> = {
  "w.f32": { dtype: "F32", shape: [3, 5], data: randomF32(15, 1) },
  "w.f64": {
    dtype: "F64",
    shape: [2, 1, 3],
    data: new Float64Array([1.5, -2, 1e300, 0, 3, 1e-300]),
  },
  "w.f16": { dtype: "F16", shape: [4], data: new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7c00]) },
  "w.bf16": { dtype: "BF16", shape: [2, 2], data: new Uint16Array([0x3f80, 0x4049, 0xbf80, 0]) },
  "i.i64": { dtype: "I64", shape: [3], data: new BigInt64Array([-5n, 0n, 1n << 40n]) },
  "i.i32": { dtype: "I32", shape: [5], data: new Int32Array([-1, 2, 3, 16777216, -7]) },
  "i.i16": { dtype: "I16", shape: [3], data: new Int16Array([-32768, 0, 32767]) },
  "i.i8": { dtype: "I8", shape: [3], data: new Int8Array([-128, 0, 127]) },
  "u.u8": { dtype: "U8", shape: [2, 3], data: new Uint8Array([0, 1, 2, 253, 254, 255]) },
  "u.bool": { dtype: "BOOL", shape: [3], data: new Uint8Array([1, 0, 1]) },
  "scalar": { dtype: "F32", shape: [], data: new Float32Array([42.5]) },
  "empty": { dtype: "F32", shape: [0, 7], data: new Float32Array(0) },
  "empty.f16": { dtype: "F16", shape: [3, 0], data: new Uint16Array(0) },
};

function assertSameTensors(st: SafetensorsFile, tensors: Record<string, SafetensorsTensorData>) {
  assert.deepEqual(st.names().sort(), Object.keys(tensors).sort());
}

Deno.test("safetensors: encode -> parse round trip of every dtype, scalars and empty tensors", async () => {
  const bytes = encodeSafetensors(sampleTensors, { format: "pt", note: "héllo" });
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal((8 + headerLength) % 8, 0, "data region starts 8-aligned");
  const st = parseSafetensorsBytes(bytes, "mem");
  assertSameTensors(st, sampleTensors);
  assert.deepEqual(st.metadata, { format: "pt", note: "héllo" });
  for (const [name, t] of Object.entries(sampleTensors)) {
    const info = st.info(name);
    assert.equal(info.dtype, t.dtype);
    assert.deepEqual(info.shape, t.shape);
    assert.equal(info.byteLength, t.data.byteLength);
    assert.equal(info.offset % (t.data as Uint8Array).BYTES_PER_ELEMENT, 0, `${name} aligned`);
    const raw = await st.read(name);
    assert.equal(raw.constructor, t.data.constructor, name);
    assert.deepEqual(raw, t.data, name);
    assert.ok(st.has(name));
  }
  assert.equal(st.info("scalar").numel, 1);
  assert.equal(st.info("empty").numel, 0);
  assert.deepEqual([...await st.readF32("i.i64")], [-5, 0, 2 ** 40]);
  assert.deepEqual([...await st.readF32("i.i16")], [-32768, 0, 32767]);
  assert.deepEqual([...await st.readF32("u.bool")], [1, 0, 1]);
  // Conversion of special values (the weights check refuses them unless told otherwise).
  const raw = { allowNonFinite: true };
  assert.deepEqual([...await st.readF32("w.f64", raw)], [1.5, -2, Infinity, 0, 3, 0]);
  assert.deepEqual([...await st.readF32("w.f16", raw)], [1, -2, 2 ** -24, Infinity]);
  await assert.rejects(() => st.readF32("w.f64"), /tensor "w.f64" holds 1 NaN or infinite value/);
  assert.deepEqual([...await st.readF32("w.bf16")], [1, 3.140625, -1, 0]);
  assert.deepEqual(await st.readF32("w.f32"), sampleTensors["w.f32"].data);
  assert.deepEqual(await st.readF32("empty"), new Float32Array(0));
  assert.ok(!st.has("nope"));
  st.close();
});

Deno.test("safetensors: written file read back lazily, concurrent reads, close", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/t.safetensors`;
  try {
    const big = randomF32(100_003, 7);
    await writeSafetensors(path, {
      ...sampleTensors,
      big: { dtype: "F32", shape: [100_003], data: big },
    }, {
      k: "v",
    });
    const st = await SafetensorsFile.open(path);
    assert.equal(st.path, path);
    assert.deepEqual(st.metadata, { k: "v" });
    // Concurrent reads share one handle; each must still get its own bytes.
    const names = [...st.names(), ...st.names()];
    const arrays = await Promise.all(names.map((n) => st.read(n)));
    names.forEach((n, i) => {
      const want = n === "big" ? big : sampleTensors[n].data;
      assert.deepEqual(arrays[i], want, n);
    });
    // Byte-identical to the in-memory encoder.
    assert.deepEqual(
      await Deno.readFile(path),
      encodeSafetensors({ ...sampleTensors, big: { dtype: "F32", shape: [100_003], data: big } }, {
        k: "v",
      }),
    );
    st.close();
    st.close(); // idempotent
    await assert.rejects(
      () => st.read("big"),
      (e) => e instanceof SafetensorsError && /closed/.test(e.message),
    );
    {
      using st2 = await SafetensorsFile.open(path);
      assert.equal((await st2.readF32("scalar"))[0], 42.5);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors: a 350 MB file is opened and read lazily (sparse file)", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/big.safetensors`;
  try {
    const bigBytes = 350_000_000;
    const header = handmade({
      __metadata__: { format: "pt" },
      big: { dtype: "F32", shape: [bigBytes / 4], data_offsets: [0, bigBytes] },
      tail: { dtype: "F32", shape: [2, 2], data_offsets: [bigBytes, bigBytes + 16] },
    });
    const tail = new Float32Array([1, -2, 3.5, 1e-30]);
    // Header, then a hole (no disk blocks, reads as zeros), then the tail tensor.
    await Deno.writeFile(path, header);
    await Deno.truncate(path, header.length + bigBytes);
    using f = await Deno.open(path, { append: true });
    await f.write(new Uint8Array(tail.buffer));
    const rss0 = Deno.memoryUsage().rss;
    using st = await SafetensorsFile.open(path);
    assert.deepEqual(await st.read("tail"), tail);
    assert.equal(st.info("big").byteLength, bigBytes);
    const grew = Deno.memoryUsage().rss - rss0;
    assert.ok(grew < 50e6, `opening + reading a 16-byte tensor grew RSS by ${grew} bytes`);
    if (FULL) {
      // Reading the big tensor holds it once (no whole-file buffer, no second copy).
      const big = await st.readF32("big");
      const held = Deno.memoryUsage().rss - rss0;
      assert.equal(big.length, bigBytes / 4);
      assert.equal(big[big.length - 1], 0);
      assert.ok(held < 1.4 * bigBytes, `reading 350 MB grew RSS by ${held} bytes`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors: file-level errors name the file and say what to do", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      () => SafetensorsFile.open(`${dir}/missing.safetensors`),
      (e) =>
        e instanceof SafetensorsError && e.message.includes("missing.safetensors: file not found"),
    );
    await assert.rejects(
      () => SafetensorsFile.open(dir),
      (e) => e instanceof SafetensorsError && e.message.includes("not a regular file"),
    );
    const whole = encodeSafetensors(sampleTensors);
    await Deno.writeFile(`${dir}/short.safetensors`, whole.subarray(0, 5));
    await assert.rejects(
      () => SafetensorsFile.open(`${dir}/short.safetensors`),
      (e) => e instanceof SafetensorsError && /short\.safetensors: only 5 bytes/.test(e.message),
    );
    await Deno.writeFile(`${dir}/cut.safetensors`, whole.subarray(0, whole.length - 3));
    await assert.rejects(
      () => SafetensorsFile.open(`${dir}/cut.safetensors`),
      (e) =>
        e instanceof SafetensorsError &&
        /cut\.safetensors: tensor ".*": data_offsets .* run past the end/.test(e.message),
    );
    await assert.rejects(
      () => writeSafetensors(`${dir}/no/such/dir/x.safetensors`, sampleTensors),
      (e) => e instanceof SafetensorsError && /cannot write .*x\.safetensors/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("safetensors: every malformed header is a SafetensorsError naming the problem", async () => {
  const ok = { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] } };
  const withA = (entry: unknown) => handmade({ a: entry }, 16);
  await assertRejects(new Uint8Array(7), "only 7 bytes");
  await assertRejects(new Uint8Array(8), "header length is 0");
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 200_000_000n, true);
  await assertRejects(huge, "exceeds the 100000000-byte limit");
  new DataView(huge.buffer).setBigUint64(0, 0xffffffffffffffffn, true);
  await assertRejects(huge, "exceeds");
  new DataView(huge.buffer).setBigUint64(0, 9n, true);
  await assertRejects(huge, "runs past the end of the 16-byte file");
  const badUtf8 = handmade("{}");
  badUtf8.set([0xff, 0xfe], 8);
  await assertRejects(badUtf8, "not valid UTF-8");
  await assertRejects(handmade('{"a": '), "not valid JSON");
  await assertRejects(handmade("[1, 2]"), "must be a JSON object, found an array");
  await assertRejects(handmade("null"), "found null");
  await assertRejects(handmade({ a: 3 }), 'tensor "a"', "must be an object, found number 3");
  await assertRejects(withA({ ...ok.a, dtype: "F4" }), 'tensor "a"', 'dtype "F4"', "not support");
  await assertRejects(withA({ ...ok.a, dtype: 7 }), 'tensor "a"', '"dtype" must be a string');
  await assertRejects(withA({ ...ok.a, shape: [2.5] }), "non-negative integers", "[2.5]");
  await assertRejects(withA({ ...ok.a, shape: [-2] }), "non-negative integers");
  await assertRejects(withA({ ...ok.a, shape: "2" }), "non-negative integers");
  await assertRejects(withA({ ...ok.a, shape: [1e300, 1e300] }), "non-negative integers");
  await assertRejects(withA({ ...ok.a, shape: [2 ** 52, 2 ** 52] }), "needs more than 8 bytes");
  await assertRejects(withA({ ...ok.a, shape: [3] }), "needs 12 bytes", "hold 8");
  await assertRejects(withA({ ...ok.a, data_offsets: [0] }), '"data_offsets" must be [begin, end]');
  await assertRejects(withA({ ...ok.a, data_offsets: [0, "8"] }), '"data_offsets" must be');
  await assertRejects(withA({ ...ok.a, data_offsets: [8, 0] }), "end before they begin");
  await assertRejects(
    withA({ ...ok.a, data_offsets: [12, 20] }),
    "run past the end of the 16-byte data",
  );
  await assertRejects(withA({ dtype: "F32", shape: [2] }), "data_offsets");
  await assertRejects(
    handmade({ ...ok, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, 16),
    'tensor "b"',
    'overlaps tensor "a"',
  );
  await assertRejects(
    handmade({ ...ok, b: { dtype: "I8", shape: [1], data_offsets: [7, 8] } }, 16),
    'overlaps tensor "a"',
  );
  await assertRejects(handmade({ ...ok, __metadata__: { x: 1 } }, 8), '"__metadata__" entry "x"');
  await assertRejects(
    handmade({ ...ok, __metadata__: ["x"] }, 8),
    '"__metadata__" must be an object',
  );
  // Accepted edge cases: empty header object, gaps, empty tensors at shared offsets, trailing bytes.
  assert.deepEqual(parseSafetensorsBytes(handmade({})).names(), []);
  const gappy = parseSafetensorsBytes(handmade({
    a: { dtype: "U8", shape: [1], data_offsets: [3, 4] },
    e1: { dtype: "F32", shape: [0], data_offsets: [3, 3] },
    e2: { dtype: "F32", shape: [0], data_offsets: [3, 3] },
  }, 10));
  assert.deepEqual(gappy.names(), ["e1", "e2", "a"]);
  // Names that are special to JS objects are ordinary tensor names.
  const special = parseSafetensorsBytes(handmade(
    '{"__proto__": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},' +
      ' "constructor": {"dtype": "U8", "shape": [], "data_offsets": [1, 2]}}',
    2,
  ));
  assert.deepEqual(special.names(), ["__proto__", "constructor"]);
  assert.deepEqual(special.info("constructor").shape, []);
  assert.ok(!special.has("toString"));
  const proto = parseSafetensorsBytes(handmade('{"__metadata__": {"__proto__": "x"}}'));
  assert.equal(Object.getPrototypeOf(proto.metadata), Object.prototype);
  assert.equal(proto.metadata["__proto__"], "x");
});

Deno.test("safetensors: unknown tensor names suggest similar ones", async () => {
  const st = parseSafetensorsBytes(encodeSafetensors(sampleTensors), "m.safetensors");
  assert.throws(
    () => st.info("x.f16"),
    (e) =>
      e instanceof SafetensorsError &&
      e.message.includes('m.safetensors: no tensor named "x.f16"') &&
      e.message.includes('"w.f16"'),
  );
  await assert.rejects(() => st.read("nope"), SafetensorsError);
  assert.throws(
    () => encodeSafetensors({ t: { dtype: "F32", shape: [3], data: new Float32Array(2) } }),
    (e) =>
      e instanceof SafetensorsError && /tensor "t".*needs 12 bytes, data has 8/.test(e.message),
  );
  assert.throws(() => encodeSafetensors({ __metadata__: sampleTensors.scalar }), SafetensorsError);
});

Deno.test("dtype: F16 -> F32 is exact for all 65536 bit patterns", () => {
  // Known patterns.
  const cases: [number, number][] = [
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x7bff, 65504],
    [0x0400, 2 ** -14],
    [0x0001, 2 ** -24],
    [0x03ff, 1023 * 2 ** -24],
    [0x8001, -(2 ** -24)],
    [0x3555, 0.333251953125],
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ];
  for (const [h, v] of cases) assert.equal(f16BitsToNumber(h), v, `0x${h.toString(16)}`);
  assert.ok(Object.is(f16BitsToNumber(0x8000), -0));
  assert.ok(Number.isNaN(f16BitsToNumber(0x7e00)));
  // NaN payloads survive: quiet NaN 0x7e01 -> 0x7fc02000, signalling 0xfc01 -> 0xff802000.
  assert.deepEqual(bitsOf(f16ToF32(new Uint16Array([0x7e01, 0xfc01]))), [0x7fc02000, 0xff802000]);
  // Every pattern against the defining formula in float64.
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const out = f16ToF32(all);
  for (let h = 0; h < 65536; h++) {
    const s = h >> 15 ? -1 : 1, e = (h >> 10) & 31, m = h & 1023;
    const want = e === 31
      ? (m ? NaN : s * Infinity)
      : e === 0
      ? s * m * 2 ** -24
      : s * (1 + m / 1024) * 2 ** (e - 15);
    assert.ok(Object.is(out[h], want), `0x${h.toString(16)}: ${out[h]} != ${want}`);
  }
});

Deno.test("dtype: BF16 -> F32 is exact (the top 16 bits of a float32)", () => {
  assert.equal(bf16BitsToNumber(0x3f80), 1);
  assert.equal(bf16BitsToNumber(0x4049), 3.140625);
  assert.equal(bf16BitsToNumber(0x0001), 2 ** -133); // smallest subnormal
  assert.equal(bf16BitsToNumber(0x7f7f), 3.3895313892515355e38); // largest finite
  assert.equal(bf16BitsToNumber(0xff80), -Infinity);
  assert.ok(Object.is(bf16BitsToNumber(0x8000), -0));
  assert.ok(Number.isNaN(bf16BitsToNumber(0x7fc0)));
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const bits = bitsOf(bf16ToF32(all));
  for (let h = 0; h < 65536; h++) assert.equal(bits[h], (h << 16) >>> 0);
});

Deno.test("dtype: float8 e4m3fn and e5m2 -> F32", () => {
  const e4 = f8e4m3ToF32(Uint8Array.from({ length: 256 }, (_, i) => i));
  assert.equal(e4[0x38], 1);
  assert.equal(e4[0x7e], 448); // largest finite
  assert.equal(e4[0x01], 2 ** -9); // smallest subnormal
  assert.equal(e4[0x08], 2 ** -6); // smallest normal
  assert.equal(e4[0xb8], -1);
  assert.ok(Number.isNaN(e4[0x7f]) && Number.isNaN(e4[0xff]));
  assert.equal(e4.filter(Number.isNaN).length, 2, "e4m3fn has exactly two NaNs and no infinities");
  const e5 = f8e5m2ToF32(Uint8Array.from({ length: 256 }, (_, i) => i));
  assert.equal(e5[0x3c], 1);
  assert.equal(e5[0x7b], 57344);
  assert.equal(e5[0x01], 2 ** -16);
  assert.equal(e5[0x7c], Infinity);
  assert.ok(Number.isNaN(e5[0x7d]));
});

// ---------------------------------------------------------------------------
// Real fixture files.

const MODEL_FILES: [string, number, number][] = [
  // [path under models/, tensors, parameters]
  ["vit-tiny-in1k/hf/model.safetensors", 200, 5_717_416],
  ["vit-tiny-in1k/timm/model.safetensors", 152, 5_717_416],
];

fixtureTest("safetensors: real model checkpoints (counts, dtypes, metadata)", async () => {
  for (const [rel, count, params] of MODEL_FILES) {
    using st = await SafetensorsFile.open(fixture("models", rel));
    assert.equal(st.names().length, count, rel);
    let total = 0;
    for (const n of st.names()) {
      const info = st.info(n);
      assert.equal(info.dtype, "F32", `${rel} ${n}`);
      total += info.numel;
    }
    assert.equal(total, params, rel);
    assert.equal(st.metadata.format, "pt", rel);
  }
  using hf = await SafetensorsFile.open(fixture("models/vit-tiny-in1k/hf/model.safetensors"));
  using timm = await SafetensorsFile.open(fixture("models/vit-tiny-in1k/timm/model.safetensors"));
  assert.equal(hf.metadata.format, "pt");
  assert.deepEqual(hf.info("classifier.weight").shape, [1000, 192]);
  const patch = "vit.embeddings.patch_embeddings.projection.weight";
  assert.deepEqual(hf.info(patch).shape, [192, 3, 16, 16]);
  assert.deepEqual(timm.info("patch_embed.proj.weight").shape, [192, 3, 16, 16]);
  assert.deepEqual(timm.info("blocks.3.attn.qkv.weight").shape, [576, 192]);
  // Same numbers in both layouts: timm's qkv = concat(query, key, value).
  const qkv = await timm.readF32("blocks.3.attn.qkv.weight");
  const k = await hf.readF32("vit.encoder.layer.3.attention.attention.key.weight");
  assert.deepEqual(qkv.subarray(192 * 192, 2 * 192 * 192), k);
  // The in-memory parser agrees with the lazy file reader.
  const mem = parseSafetensorsBytes(await Deno.readFile(hf.path), hf.path);
  assert.deepEqual(mem.names(), hf.names());
  assert.deepEqual(await mem.read("classifier.bias"), await hf.read("classifier.bias"));
});

fixtureTest(
  "safetensors: every fixture model and reference file parses; shapes as documented",
  async () => {
    const paths: string[] = [];
    for (
      const d of [
        "deit-tiny-random-distilled",
        "resnet-tiny-hf-basic",
        "resnet-tiny-hf-bottleneck",
        "vit-cifar-random",
        "vit-random-timm",
        "resnet-cifar10/resnet20",
        "resnet-cifar10/resnet56",
      ]
    ) {
      paths.push(fixture("models", d, "model.safetensors"));
    }
    const walk = (dir: string) => {
      for (const e of Deno.readDirSync(dir)) {
        if (e.isDirectory) walk(`${dir}/${e.name}`);
        else if (e.name.endsWith(".safetensors")) paths.push(`${dir}/${e.name}`);
      }
    };
    walk(fixture("reference"));
    assert.ok(paths.length >= 20, `found ${paths.length} files`);
    for (const p of paths) {
      using st = await SafetensorsFile.open(p);
      assert.ok(st.names().length > 0, p);
      for (const n of st.names()) {
        const info = st.info(n);
        assert.ok(["F32", "I32", "U8"].includes(info.dtype), `${p} ${n} ${info.dtype}`);
        assert.equal(info.numel * (info.dtype === "U8" ? 1 : 4), info.byteLength);
      }
      if (p.startsWith(fixture("models")) && p.includes("random")) {
        assert.equal(st.metadata.format, "pt", p);
      }
    }
    using r20 = await SafetensorsFile.open(
      fixture("models/resnet-cifar10/resnet20/model.safetensors"),
    );
    assert.equal(r20.metadata.blocks_per_stage, "3");
    assert.deepEqual(r20.info("linear.weight").shape, [10, 64]);
    assert.deepEqual(r20.info("conv1.weight").shape, [16, 3, 3, 3]);
    using ref = await SafetensorsFile.open(
      fixture("reference/vit-tiny-in1k/first16_inputs_and_logits.safetensors"),
    );
    assert.deepEqual(ref.info("pixel_values").shape, [16, 3, 224, 224]);
    assert.deepEqual(ref.info("logits").shape, [16, 1000]);
    assert.equal(ref.info("labels").dtype, "I32");
    assert.equal(ref.metadata.files.split(",").length, 16);
    const labels = await ref.read("labels");
    assert.ok(labels instanceof Int32Array);
    assert.deepEqual([...labels], [...await ref.readF32("labels")]);
    using pre = await SafetensorsFile.open(
      fixture("reference/preprocess/n01440764_tench.safetensors"),
    );
    const rgb = pre.info("rgb_u8");
    assert.equal(rgb.dtype, "U8");
    assert.deepEqual(rgb.shape, [
      Number(pre.metadata.decoded_height),
      Number(pre.metadata.decoded_width),
      3,
    ]);
    assert.ok((await pre.read("rgb_u8")) instanceof Uint8Array);
  },
);
