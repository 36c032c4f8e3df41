/**
 * The MATLAB 5 MAT reader (src/data/mat5.ts) and the devkit's meta.mat
 * synsets (src/data/devkit.ts) against scipy.io: scripts/data/make_meta_mat.py
 * writes the files with scipy.io.savemat (compressed and not) and records
 * what scipy.io.loadmat reads back; MATLAB's own element choices (doubles
 * stored as uint8, UTF-16 chars, big-endian files) are built here byte by
 * byte and checked with scipy.io.loadmat too.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { makeMetaMats } from "../scripts/data/make_datasets.ts";
import { type MatValue, parseMatVariable, readMatVariable } from "../src/data/mat5.ts";
import { readSynsets } from "../src/data/ground_truth.ts";
import { devkitFiles, metaMatBeside, withDevkit } from "../src/data/devkit.ts";
import { DataError } from "../src/errors.ts";
import { HAVE_SCIPY, PYTHON } from "./_scipy_ref.ts";

const dir = await Deno.makeTempDir({ prefix: "visioneval-devkit-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
// 1000 leaf wnids in a fixed, unsorted order (337 is prime to 1000): the ILSVRC2012_ID order.
const leaves = Array.from(
  { length: 1000 },
  (_, k) => `n${String(10_000_000 + ((k + 1) * 337 % 1000) * 1000)}`,
);
Deno.writeTextFileSync(join(dir, "order.txt"), leaves.join("\n") + "\n");
const written = HAVE_SCIPY && makeMetaMats(dir, join(dir, "order.txt"));
const mat = (f: string) => join(dir, f);

function scipyTest(name: string, fn: () => void | Promise<void>) {
  Deno.test({
    name: written ? name : `${name} (skipped: ${PYTHON} cannot import scipy)`,
    ignore: !written,
    fn,
  });
}

/** A reader value in the shape of make_meta_mat.py's scipy readback. */
function plain(v: MatValue): unknown {
  if (v.kind === "numeric") {
    return { kind: v.kind, class: v.class, dims: v.dims, data: [...v.data] };
  }
  if (v.kind === "char") return { kind: v.kind, rows: v.rows };
  return {
    kind: v.kind,
    dims: v.dims,
    fields: v.fields,
    elements: v.elements.map((e) => Object.fromEntries(v.fields.map((f) => [f, plain(e[f])]))),
  };
}

scipyTest("mat5: numeric classes, logical, char, empty, nested struct = scipy.io.loadmat", () => {
  const ref = JSON.parse(Deno.readTextFileSync(mat("classes.json")));
  // scipy loads a MATLAB logical as uint8; the logical flag is in the file and kept here.
  ref.logical.class = "logical";
  for (const file of ["classes.mat", "classes_uncompressed.mat"]) {
    for (const [name, want] of Object.entries(ref)) {
      assert.deepEqual(plain(readMatVariable(mat(file), name)), want, `${file}: ${name}`);
    }
  }
});

scipyTest("devkit: meta.mat's leaf synsets in ILSVRC2012_ID order, compressed or not", () => {
  const meta = mat("ILSVRC2012_devkit_t12/data/meta.mat");
  const s = readMatVariable(meta, "synsets");
  assert.equal(s.kind, "struct");
  if (s.kind !== "struct") return;
  assert.deepEqual(s.dims, [1860, 1]);
  assert.deepEqual(s.fields.slice(0, 2), ["ILSVRC2012_ID", "WNID"]);
  assert.deepEqual(readSynsets(meta), leaves);
  // Internal nodes first, leaves from the last id down, ids as uint16 small elements.
  assert.deepEqual(readSynsets(mat("meta_uncompressed.mat")), leaves);
});

scipyTest("devkit: --devkit DIR and meta.mat beside the ground truth", () => {
  const root = mat("ILSVRC2012_devkit_t12");
  const data = join(root, "data");
  const want = {
    groundTruth: join(data, "ILSVRC2012_validation_ground_truth.txt"),
    meta: join(data, "meta.mat"),
  };
  assert.deepEqual(devkitFiles(root), want);
  assert.deepEqual(devkitFiles(data), want);
  assert.equal(metaMatBeside(want.groundTruth), want.meta);
  assert.equal(metaMatBeside(mat("order.txt")), undefined);
  assert.deepEqual(withDevkit({ devkit: root, labels: "x.txt" }), {
    devkit: undefined,
    labels: "x.txt",
    synsets: want.meta,
  });
  assert.throws(() => withDevkit({ devkit: root, synsets: want.meta }), /--devkit or --synsets/);
  assert.throws(() => devkitFiles(mat("nope")), /--devkit .*nope is not a folder/);
  assert.throws(() => devkitFiles(dir), /no data\/meta\.mat in it/);
});

scipyTest(
  "devkit: MAT files that are not the devkit's synsets are refused, naming the file",
  () => {
    const refuses = (file: string, pattern: RegExp) =>
      assert.throws(
        () => readSynsets(file),
        (e: Error) => e instanceof DataError && e.message.includes(file) && pattern.test(e.message),
        file,
      );
    refuses(
      mat("wrong_variable.mat"),
      /holds no variable "synsets" \(variables: classes, synset\)/,
    );
    refuses(mat("synsets_cell.mat"), /synsets is a cell array/);
    refuses(mat("synsets_complex.mat"), /complex numbers/);
    refuses(mat("synsets_no_wnid.mat"), /has no field WNID/);
    refuses(mat("meta_sorted.mat"), /sorted order/);

    const bytes = Deno.readFileSync(mat("ILSVRC2012_devkit_t12/data/meta.mat"));
    const write = (name: string, b: Uint8Array) => (Deno.writeFileSync(mat(name), b), mat(name));
    refuses(write("cut_header.mat", bytes.slice(0, 100)), /not a MATLAB 5 MAT file/);
    refuses(write("cut_body.mat", bytes.slice(0, 5000)), /needs \d+ bytes.*corrupt or truncated/);
    const flipped = bytes.slice();
    for (let i = 3000; i < 3010; i++) flipped[i] ^= 0xff;
    refuses(write("flipped.mat", flipped), /does not inflate.*corrupt or truncated/);
    const plainBytes = Deno.readFileSync(mat("meta_uncompressed.mat"));
    refuses(write("cut_plain.mat", plainBytes.slice(0, 400_000)), /corrupt or truncated/);
    const v73 = new Uint8Array(512);
    v73.set(new TextEncoder().encode("MATLAB 7.3 MAT-file, Platform: GLNXA64, HDF5 schema 1.00 ."));
    v73.set([0, 2, 0x49, 0x4d], 124);
    refuses(write("v73.mat", v73), /MATLAB 7\.3 \(HDF5\).*-v7/);
    refuses(write("text.mat", new TextEncoder().encode(leaves.join("\n"))), /not a MATLAB 5/);
  },
);

// MATLAB's own choices, which scipy never writes: doubles stored in the smallest
// integer type (uint8 here, a small element), chars as UTF-16 (uint16), either byte order.
const MI_INT8 = 1, MI_UINT8 = 2, MI_UINT16 = 4, MI_INT32 = 5, MI_UINT32 = 6, MI_MATRIX = 14;

function element(type: number, data: Uint8Array, le: boolean): Uint8Array {
  if (data.length <= 4) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setUint32(0, (data.length << 16) | type, le);
    out.set(data, 4);
    return out;
  }
  const out = new Uint8Array(8 + Math.ceil(data.length / 8) * 8);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, le);
  v.setUint32(4, data.length, le);
  out.set(data, 8);
  return out;
}

function words(values: number[], width: 2 | 4, le: boolean): Uint8Array {
  const out = new Uint8Array(values.length * width);
  const v = new DataView(out.buffer);
  values.forEach((x, i) => width === 2 ? v.setUint16(i * 2, x, le) : v.setUint32(i * 4, x, le));
  return out;
}

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((o, p) => (out.set(p, o), o + p.length), 0);
  return out;
};

function matrix(cls: number, dims: number[], name: string, body: Uint8Array[], le: boolean) {
  return element(
    MI_MATRIX,
    concat(
      element(MI_UINT32, words([cls, 0], 4, le), le),
      element(MI_INT32, words(dims, 4, le), le),
      element(MI_INT8, new TextEncoder().encode(name), le),
      ...body,
    ),
    le,
  );
}

function matlabStyleFile(records: [number, string][], le: boolean): Uint8Array {
  const header = new Uint8Array(128).fill(0x20);
  header.set(new TextEncoder().encode("MATLAB 5.0 MAT-file, Platform: test, Created by hand"));
  new DataView(header.buffer).setUint16(124, 0x0100, le);
  header.set(new TextEncoder().encode(le ? "IM" : "MI"), 126);
  const names = new Uint8Array(64);
  names.set(new TextEncoder().encode("ILSVRC2012_ID"), 0);
  names.set(new TextEncoder().encode("WNID"), 32);
  const body = [element(MI_INT32, words([32], 4, le), le), element(MI_INT8, names, le)];
  for (const [id, wnid] of records) {
    body.push(matrix(6, [1, 1], "", [element(MI_UINT8, new Uint8Array([id]), le)], le));
    const chars = [...wnid].map((c) => c.charCodeAt(0));
    body.push(matrix(4, [1, wnid.length], "", [element(MI_UINT16, words(chars, 2, le), le)], le));
  }
  return concat(header, matrix(2, [1, records.length], "synsets", body, le));
}

scipyTest("mat5: MATLAB-style elements (uint8-stored doubles, UTF-16 chars), LE and BE", () => {
  const records: [number, string][] = [[2, "n00000001"], [1, "n09999999"], [3, "n05000000"]];
  for (const le of [true, false]) {
    const file = mat(`matlab_${le ? "le" : "be"}.mat`);
    Deno.writeFileSync(file, matlabStyleFile(records, le));
    const py = new Deno.Command(PYTHON, {
      args: [
        "-c",
        "import json, sys, scipy.io; s = scipy.io.loadmat(sys.argv[1], squeeze_me=True)" +
        "['synsets']; print(json.dumps([[int(i), str(w)] for i, w in " +
        "zip(s['ILSVRC2012_ID'], s['WNID'])]))",
        file,
      ],
    }).outputSync();
    assert.ok(py.success, new TextDecoder().decode(py.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(py.stdout)), records);
    const s = parseMatVariable(Deno.readFileSync(file), "synsets", file);
    assert.ok(s.kind === "struct");
    assert.deepEqual(
      s.elements.map((e) => [plain(e.ILSVRC2012_ID), plain(e.WNID)]),
      records.map(([id, w]) => [
        { kind: "numeric", class: "double", dims: [1, 1], data: [id] },
        { kind: "char", rows: [w] },
      ]),
    );
    assert.deepEqual(readSynsets(file), ["n09999999", "n00000001", "n05000000"]);
  }
});
