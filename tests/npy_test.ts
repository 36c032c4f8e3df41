import assert from "node:assert/strict";
import { DataError } from "../src/errors.ts";
import { npyToF64, parseNpy, readNpy } from "../src/weights/npy.ts";
import { rng } from "./_helpers.ts";

/** Files written by numpy 2.4.6 (`np.save`, or `np.lib.format.write_array` for v2/v3), base64. */
const NUMPY_FILES: Record<string, string> = {
  f4_2x3:
    "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsIDMpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAIC/AAAAvwAAAAAAAAA/AACAPwAAwD8=",
  f8_v2:
    "k05VTVBZAgB0AAAAeydkZXNjcic6ICc8ZjgnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwgMiksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAqamZmZmZm5Py8wt7OnybqBAAAAAAAA8H9VVVVVVVXVPw==",
  i8_v3:
    "k05VTVBZAwB0AAAAeydkZXNjcic6ICc8aTgnLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMywpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAP///wAAAAAAAAAABwAAAAAAAAA=",
  i2_big:
    "k05VTVBZAQB2AHsnZGVzY3InOiAnPmkyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAf/+ASw=",
  f4_big:
    "k05VTVBZAQB2AHsnZGVzY3InOiAnPmY0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo/wAAAvoAAAA==",
  u1_scalar:
    "k05VTVBZAQB2AHsnZGVzY3InOiAnfHUxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKCksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIArI",
  b1:
    "k05VTVBZAQB2AHsnZGVzY3InOiAnfGIxJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDMsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoBAAE=",
  f2:
    "k05VTVBZAQB2AHsnZGVzY3InOiAnPGYyJywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDQsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAPADA/3sBAA==",
  i4_empty:
    "k05VTVBZAQB2AHsnZGVzY3InOiAnPGk0JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDAsIDQpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAo=",
  fortran:
    "k05VTVBZAQB2AHsnZGVzY3InOiAnPGY0JywgJ2ZvcnRyYW5fb3JkZXInOiBUcnVlLCAnc2hhcGUnOiAoMiwgMyksIH0gICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAABAQAAAgD8AAIBAAAAAQAAAoEA=",
  structured:
    "k05VTVBZAQB2AHsnZGVzY3InOiBbKCdhJywgJzxmNCcpLCAoJ2InLCAnPGk0JyldLCAnZm9ydHJhbl9vcmRlcic6IEZhbHNlLCAnc2hhcGUnOiAoMiwpLCB9ICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAAAAAAAAAAA",
  c8:
    "k05VTVBZAQB2AHsnZGVzY3InOiAnPGM4JywgJ2ZvcnRyYW5fb3JkZXInOiBGYWxzZSwgJ3NoYXBlJzogKDIsKSwgfSAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgIAoAAAAAAAAAAAAAAAAAAAAA",
};

function numpyFile(name: string): Uint8Array {
  return Uint8Array.from(atob(NUMPY_FILES[name]), (c) => c.charCodeAt(0));
}

/** A .npy file written by hand: v1 (u16 length) or v2/v3 (u32 length), header as given. */
function handmade(header: string, data: Uint8Array, major = 1): Uint8Array {
  const h = new TextEncoder().encode(header);
  const prefix = major === 1 ? 10 : 12;
  const out = new Uint8Array(prefix + h.length + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, h.length, true);
  else view.setUint32(8, h.length, true);
  out.set(h, prefix);
  out.set(data, prefix + h.length);
  return out;
}

function assertDataError(bytes: Uint8Array, ...parts: string[]) {
  assert.throws(
    () => parseNpy(bytes, "x.npy"),
    (e) => {
      assert.ok(e instanceof DataError, `expected DataError, got ${e}`);
      assert.ok(e.message.startsWith("x.npy: "), e.message);
      for (const p of parts) assert.ok(e.message.includes(p), `"${p}" not in: ${e.message}`);
      return true;
    },
  );
}

Deno.test("npy: files written by numpy (v1/v2/v3, both byte orders, every supported kind)", () => {
  const f4 = parseNpy(numpyFile("f4_2x3"));
  assert.equal(f4.dtype, "f4");
  assert.deepEqual(f4.shape, [2, 3]);
  assert.deepEqual(f4.data, new Float32Array([-1, -0.5, 0, 0.5, 1, 1.5]));
  const f8 = parseNpy(numpyFile("f8_v2"));
  assert.deepEqual(f8.shape, [2, 2]);
  assert.deepEqual(f8.data, new Float64Array([0.1, -2.5e-300, Infinity, 1 / 3]));
  const i8 = parseNpy(numpyFile("i8_v3"));
  assert.deepEqual(i8.data, new BigInt64Array([-(2n ** 40n), 0n, 7n]));
  assert.deepEqual([...npyToF64(i8)], [-(2 ** 40), 0, 7]);
  const i2 = parseNpy(numpyFile("i2_big"));
  assert.equal(i2.dtype, "i2");
  assert.deepEqual(i2.data, new Int16Array([1, -2, 300]));
  assert.deepEqual(parseNpy(numpyFile("f4_big")).data, new Float32Array([1.5, -0.25]));
  const scalar = parseNpy(numpyFile("u1_scalar"));
  assert.deepEqual(scalar.shape, []);
  assert.deepEqual(scalar.data, new Uint8Array([200]));
  const b1 = parseNpy(numpyFile("b1"));
  assert.equal(b1.dtype, "b1");
  assert.deepEqual([...npyToF64(b1)], [1, 0, 1]);
  const f2 = parseNpy(numpyFile("f2"));
  assert.ok(f2.data instanceof Uint16Array);
  assert.deepEqual([...npyToF64(f2)], [1, -2, 65504, 2 ** -24]);
  const empty = parseNpy(numpyFile("i4_empty"));
  assert.deepEqual(empty.shape, [0, 4]);
  assert.ok(empty.data instanceof Int32Array && empty.data.length === 0);
});

Deno.test("npy: unsupported layouts and dtypes are DataErrors saying how to re-save", () => {
  assertDataError(numpyFile("fortran"), "Fortran", "np.ascontiguousarray");
  assertDataError(numpyFile("structured"), "structured", "astype");
  assertDataError(numpyFile("c8"), "dtype '<c8' is not supported");
  assertDataError(
    handmade("{'descr': '<U4', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(16)),
    "'<U4'",
  );
  assertDataError(
    handmade("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", new Uint8Array(8)),
    "'|O'",
  );
});

Deno.test("npy: hand-written headers (v1, v2, spacing, Python 2 longs, trailing commas)", () => {
  const data = new Uint8Array(new Float64Array([1, 2, 3, 4, 5, 6]).buffer);
  const a = parseNpy(handmade("{'shape':(2L,3L),'fortran_order':False,'descr':'<f8'}\n", data));
  assert.deepEqual(a.shape, [2, 3]);
  assert.deepEqual(a.data, new Float64Array([1, 2, 3, 4, 5, 6]));
  const b = parseNpy(
    handmade('{ "descr" : "=f8" , "fortran_order" : False , "shape" : ( 6 , ) , }   \n', data, 2),
  );
  assert.deepEqual(b.shape, [6]);
  const c = parseNpy(
    handmade(
      "{'descr': '<i4', 'fortran_order': False, 'shape': (), }",
      new Uint8Array([7, 0, 0, 0]),
    ),
  );
  assert.deepEqual(c.data, new Int32Array([7]));
  // UTF-8 in a v3 header (only structured field names need it, but any string may use it).
  const d = parseNpy(
    handmade(
      "{'descr': '<u2', 'fortran_order': False, 'shape': (1,), 'ünï': 'ok'}",
      new Uint8Array([1, 2]),
      3,
    ),
  );
  assert.deepEqual(d.data, new Uint16Array([0x201]));
});

Deno.test("npy: damaged files are DataErrors naming the file", () => {
  const good = numpyFile("f4_2x3");
  assertDataError(new Uint8Array(0), "magic");
  assertDataError(new TextEncoder().encode("PK\x03\x04 not npy at all"), "magic");
  const v9 = good.slice();
  v9[6] = 9;
  assertDataError(v9, "version 9.0");
  assertDataError(
    good.subarray(0, good.length - 1),
    "needs 24 data bytes but the file has 23",
    "truncated",
  );
  assertDataError(good.subarray(0, 50), "runs past the end");
  assertDataError(new Uint8Array([...good, 0]), "has 25");
  const f = (h: string, n = 0) => handmade(h, new Uint8Array(n));
  assertDataError(f("{'descr': '<f4', 'shape': (1,)}", 4), "fortran_order");
  assertDataError(f("{'descr': '<f4', 'fortran_order': 0, 'shape': (1,)}", 4), "fortran_order");
  assertDataError(
    f("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"),
    "non-negative integers",
  );
  assertDataError(
    f("{'descr': '<f4', 'fortran_order': False, 'shape': 3}", 12),
    "'shape' must be a tuple",
  );
  assertDataError(
    f("{'descr': '<f4', 'fortran_order': False, 'shape': (1,)"),
    "not a valid Python literal",
  );
  assertDataError(f("{'descr: '<f4'}"), "not a valid Python literal");
  assertDataError(f("['descr', '<f4']"), "not a dictionary");
  assertDataError(
    f("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}"),
    "non-negative",
  );
  assertDataError(
    f("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}"),
    "needs",
  );
  const badUtf8 = handmade(
    "{'descr': '<f4', 'fortran_order': False, 'shape': (0,)}",
    new Uint8Array(0),
    3,
  );
  badUtf8[14] = 0xff;
  assertDataError(badUtf8, "not valid UTF-8");
});

Deno.test("npy: seeded mutations of numpy files give results or DataError only", () => {
  const r = rng(2024);
  const files = Object.keys(NUMPY_FILES).map(numpyFile);
  let ok = 0, failed = 0;
  for (let trial = 0; trial < 4000; trial++) {
    const src = files[Math.floor(r() * files.length)];
    let bytes = src.slice();
    const kind = Math.floor(r() * 3);
    if (kind === 0) bytes = bytes.slice(0, Math.floor(r() * bytes.length));
    else {
      for (let k = 1 + Math.floor(r() * 3); k > 0; k--) {
        const i = Math.floor(r() * (r() < 0.7 ? Math.min(bytes.length, 140) : bytes.length));
        bytes[i] = kind === 1 ? bytes[i] ^ (1 << Math.floor(r() * 8)) : "{}()[]',: 0123456789LTF<>|"
          .charCodeAt(Math.floor(r() * 27)) || 0;
      }
    }
    try {
      const a = parseNpy(bytes, "fuzz.npy");
      assert.equal(a.data.length, a.shape.reduce((x, y) => x * y, 1));
      ok++;
    } catch (e) {
      if (!(e instanceof DataError)) throw new Error(`trial ${trial}: ${e}`, { cause: e });
      assert.ok(e.message.startsWith("fuzz.npy: "));
      failed++;
    }
  }
  assert.ok(ok > 50 && failed > 2000, `ok ${ok}, failed ${failed}`);
});

Deno.test("npy: readNpy reads files and names missing ones", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/a.npy`, numpyFile("f8_v2"));
    const a = await readNpy(`${dir}/a.npy`);
    assert.deepEqual(a.shape, [2, 2]);
    await assert.rejects(
      () => readNpy(`${dir}/missing.npy`),
      (e) => e instanceof DataError && e.message.includes("missing.npy: file not found"),
    );
    await Deno.writeFile(`${dir}/bad.npy`, new Uint8Array(3));
    await assert.rejects(
      () => readNpy(`${dir}/bad.npy`),
      (e) => e instanceof DataError && e.message.startsWith(`${dir}/bad.npy: `),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
