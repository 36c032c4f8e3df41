/**
 * Prediction readers (.safetensors, .npy, CSV, JSONL) and the metrics /
 * merge / calibrate commands end to end: same numbers from every format,
 * clear errors with row numbers for bad inputs, merged halves == whole.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fixtureTest } from "./_helpers.ts";
import { flat, loadCase } from "./_metrics_fixtures.ts";
import { readLabels, readPredictions } from "../src/metrics/io.ts";
import { MetricsInputError } from "../src/errors.ts";
import { writeSafetensors } from "../src/weights/safetensors.ts";
import { main } from "../cli.ts";
import { mulberry32 } from "../src/random.ts";

const dir = Deno.makeTempDirSync({ prefix: "visioneval_metrics_" });

function npyBytes(data: Float32Array | Int32Array, shape: number[]): Uint8Array {
  const descr = data instanceof Float32Array ? "<f4" : "<i4";
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(", ")}${
    shape.length === 1 ? "," : ""
  }), }`;
  header += " ".repeat((64 - ((10 + header.length + 1) % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

async function quiet<T>(fn: () => Promise<T>): Promise<T> {
  const log = console.log, err = console.error;
  console.log = () => {};
  console.error = () => {};
  try {
    return await fn();
  } finally {
    console.log = log;
    console.error = err;
  }
}

fixtureTest("metrics io: the same predictions from .safetensors, .npy, CSV and JSONL", async () => {
  const c = loadCase("missing_class.json");
  const C = c.num_classes;
  const logits = Float32Array.from(flat(c.logits!));
  const labels = Int32Array.from(c.labels);
  const st = join(dir, "p.safetensors");
  await writeSafetensors(st, {
    logits: { dtype: "F32", shape: [c.n, C], data: logits },
    labels: { dtype: "I32", shape: [c.n], data: labels },
  });
  Deno.writeFileSync(join(dir, "p.npy"), npyBytes(logits, [c.n, C]));
  Deno.writeFileSync(join(dir, "p.labels.npy"), npyBytes(labels, [c.n]));
  const csv = c.labels.map((y, i) => [y, ...c.logits![i]].join(",")).join("\n");
  Deno.writeTextFileSync(
    join(dir, "p.csv"),
    `label,${Array.from({ length: C }, (_, k) => `logit_${k}`)}\n${csv}\n`,
  );
  Deno.writeTextFileSync(
    join(dir, "p.jsonl"),
    c.labels.map((y, i) => JSON.stringify({ label: y, logits: c.logits![i] })).join("\n"),
  );
  // Probabilities CSV without header: detected as probabilities.
  Deno.writeTextFileSync(
    join(dir, "probs.csv"),
    c.labels.map((y, i) => [y, ...c.probs[i]].join(",")).join("\n"),
  );
  for (const f of ["p.safetensors", "p.npy", "p.csv", "p.jsonl"]) {
    const p = await readPredictions(join(dir, f));
    assert.equal(p.kind, "logits", f);
    assert.equal(p.numClasses, C);
    assert.deepEqual(p.labels, labels, f);
    assert.deepEqual(Float32Array.from(p.values), logits, f);
  }
  const probs = await readPredictions(join(dir, "probs.csv"));
  assert.equal(probs.kind, "probs");

  // metrics from logits (CSV) and from probabilities agree on the fixture values.
  assert.equal(
    await quiet(() =>
      main(["metrics", "--predictions", join(dir, "p.csv"), "--out", join(dir, "o1")])
    ),
    0,
  );
  const m = JSON.parse(Deno.readTextFileSync(join(dir, "o1", "metrics.json")));
  assert.ok(Math.abs(m.top1 - c.expected.accuracy) < 1e-12);
  assert.ok(Math.abs(m.ece - c.expected.ece) < 1e-6);
  assert.ok(Math.abs(m.auroc.macro - c.expected.roc_auc.macro) < 1e-6);
  assert.deepEqual(m.auroc.skipped_classes, [5]);
  assert.ok(m.bootstrap.top1.lo < m.top1 && m.top1 < m.bootstrap.top1.hi);
  const T = c.expected.temperature_scaling.temperature;
  assert.ok(Math.abs(m.temperature_scaling.temperature / T - 1) < 1e-5);

  // Two halves through `metrics`, then `merge` == whole.
  const half = Math.floor(c.n / 2);
  const lines = csv.split("\n");
  Deno.writeTextFileSync(join(dir, "a.csv"), lines.slice(0, half).join("\n"));
  Deno.writeTextFileSync(join(dir, "b.csv"), lines.slice(half).join("\n"));
  await quiet(() =>
    main(["metrics", "--predictions", join(dir, "a.csv"), "--logits", "--out", join(dir, "oa")])
  );
  await quiet(() =>
    main([
      "metrics",
      "--predictions",
      join(dir, "b.csv"),
      "--logits",
      "--sample-offset",
      String(half),
      "--out",
      join(dir, "ob"),
    ])
  );
  assert.equal(
    await quiet(() =>
      main([
        "merge",
        join(dir, "oa", "state.safetensors"),
        join(dir, "ob", "state.safetensors"),
        "--out",
        join(dir, "om"),
      ])
    ),
    0,
  );
  const merged = JSON.parse(Deno.readTextFileSync(join(dir, "om", "metrics.json")));
  delete merged.run;
  delete m.run;
  assert.deepEqual(merged, m);

  // calibrate writes T and both reliability tables.
  assert.equal(
    await quiet(() =>
      main(["calibrate", "--predictions", join(dir, "p.jsonl"), "--out", join(dir, "oc")])
    ),
    0,
  );
  const cal = JSON.parse(Deno.readTextFileSync(join(dir, "oc", "calibration.json")));
  assert.ok(Math.abs(cal.temperature / c.expected.temperature_scaling.temperature - 1) < 1e-5);
  assert.equal(cal.reliability_after.length, 15);
});

Deno.test("metrics io: malformed inputs name the file and row", async () => {
  const cases: [string, string, RegExp, ("--probs" | "--logits")?][] = [
    ["bad1.csv", "0,0.5,0.5\n1,0.5,x\n", /line 2: value "x" in column 2 is not a number/],
    ["bad2.csv", "0,0.5,0.5\n1,0.5\n", /line 2: 2 fields, expected 3/],
    ["bad3.csv", "0,0.5,0.5\n3,0.5,0.5\n", /line 2: label 3 is outside 0..1/],
    ["bad4.csv", "0,0.5,0.5\n1,0.7,0.5\n", /row 2: probabilities sum to 1.2/, "--probs"],
    [
      "bad5.jsonl",
      '{"label": 0, "probs": [1, 0]}\n{"label": 1.5, "probs": [0, 1]}\n',
      /line 2: "label" must be an integer/,
    ],
    ["bad6.jsonl", '{"label": 0, "probs": [1, 0]}\nnot json\n', /line 2: not valid JSON/],
    ["bad7.txt", "", /no prediction rows/],
  ];
  for (const [name, text, re, flag] of cases) {
    const path = join(dir, name);
    Deno.writeTextFileSync(path, text);
    await assert.rejects(
      () => readPredictions(path, { kind: flag === "--probs" ? "probs" : "auto" }),
      (e: Error) =>
        e instanceof MetricsInputError && re.test(e.message) && e.message.includes(name),
      name,
    );
  }
  await assert.rejects(() => readPredictions(join(dir, "missing.csv")), /file not found/);
  // The CLI turns these into exit code 1 (runtime) and 2 (usage).
  assert.equal(await quiet(() => main(["metrics", "--predictions", join(dir, "bad3.csv")])), 1);
  assert.equal(await quiet(() => main(["metrics"])), 2);
});

Deno.test("metrics io: labels files (.json, text with header, CSV column) and --labels", async () => {
  Deno.writeTextFileSync(join(dir, "l.json"), "[1, 0, 2]");
  Deno.writeTextFileSync(join(dir, "l.txt"), "label\n1\n0\n2\n");
  Deno.writeTextFileSync(join(dir, "l.csv"), "path,label\na.jpg,1\nb.jpg,0\nc.jpg,2\n");
  Deno.writeTextFileSync(join(dir, "v.csv"), "0,0.1,0.9,0\n0,0.8,0.1,0.1\n0,0.2,0.2,0.6\n");
  for (const f of ["l.json", "l.txt", "l.csv"]) {
    assert.deepEqual(Array.from(await readLabels(join(dir, f))), [1, 0, 2], f);
    const p = await readPredictions(join(dir, "v.csv"), { labels: join(dir, f) });
    assert.deepEqual(Array.from(p.labels), [1, 0, 2]);
    assert.equal(p.kind, "probs");
  }
  Deno.writeTextFileSync(join(dir, "l2.txt"), "1\nx\n");
  await assert.rejects(() => readLabels(join(dir, "l2.txt")), /line 2: "x" is not an integer/);
  Deno.writeTextFileSync(join(dir, "l3.txt"), "1\n0\n");
  await assert.rejects(
    () => readPredictions(join(dir, "v.csv"), { labels: join(dir, "l3.txt") }),
    /2 labels for 3 prediction rows/,
  );
});

Deno.test("metrics and merge write all-or-nothing: a refused run leaves the earlier outputs and no staging folder", async () => {
  const dir = Deno.makeTempDirSync();
  try {
    const out = join(dir, "out");
    Deno.writeTextFileSync(
      join(dir, "good.csv"),
      "label,0,1,2\n0,2.0,0.1,-1\n1,0.3,1.5,0.2\n2,0,0,3\n",
    );
    // A probability-looking file that misses the tolerance: refused as ambiguous.
    Deno.writeTextFileSync(join(dir, "bad.csv"), "label,0,1\n0,0.5,0.502\n1,0.2,0.8\n");
    assert.equal(
      await quiet(() => main(["metrics", "--predictions", join(dir, "good.csv"), "--out", out])),
      0,
    );
    Deno.writeTextFileSync(join(out, "notes.txt"), "the user's own file");
    const before = Deno.readTextFileSync(join(out, "metrics.json"));
    assert.notEqual(
      await quiet(() => main(["metrics", "--predictions", join(dir, "bad.csv"), "--out", out])),
      0,
    );
    assert.equal(Deno.readTextFileSync(join(out, "metrics.json")), before);
    assert.notEqual(
      await quiet(() => main(["merge", join(dir, "missing.safetensors"), "--out", out])),
      0,
    );
    assert.equal(Deno.readTextFileSync(join(out, "metrics.json")), before);
    const names = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    assert.deepEqual(names, ["metrics.json", "notes.txt", "state.safetensors"]);
    // A successful merge replaces both files together.
    assert.equal(
      await quiet(() => main(["merge", join(out, "state.safetensors"), "--out", join(dir, "m")])),
      0,
    );
    assert.deepEqual([...Deno.readDirSync(join(dir, "m"))].map((e) => e.name).sort(), [
      "metrics.json",
      "state.safetensors",
    ]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("metrics: an empty predictions part writes an empty state (with a warning) that merges like eval's empty shard", async () => {
  const C = 3, n = 8;
  const r = mulberry32(5);
  const logits = Float32Array.from({ length: n * C }, () => Math.round(r() * 40 - 20) / 4);
  const labels = Int32Array.from({ length: n }, () => Math.floor(r() * C));
  const part = (name: string, a: number, b: number) => {
    Deno.writeFileSync(join(dir, `${name}.npy`), npyBytes(logits.slice(a * C, b * C), [b - a, C]));
    Deno.writeFileSync(join(dir, `${name}.labels.npy`), npyBytes(labels.slice(a, b), [b - a]));
    return join(dir, `${name}.npy`);
  };
  const run = async (file: string, out: string, offset: number) => {
    const err: string[] = [];
    const log = console.log, error = console.error;
    console.log = () => {};
    console.error = (...a: unknown[]) => err.push(a.join(" "));
    try {
      const args = ["metrics", "--predictions", file, "--logits", "--bootstrap", "0"];
      const code = await main([
        ...args,
        "--sample-offset",
        String(offset),
        "--out",
        join(dir, out),
      ]);
      return { code, err: err.join("\n") };
    } finally {
      console.log = log;
      console.error = error;
    }
  };
  const empty = await run(part("e_mid", 3, 3), "e_mid", 3);
  assert.equal(empty.code, 0, empty.err);
  assert.match(empty.err, /holds no predictions; writing an empty state/);
  assert.equal((await run(part("e_a", 0, 3), "e_a", 0)).code, 0);
  assert.equal((await run(part("e_b", 3, n), "e_b", 3)).code, 0);
  assert.equal((await run(part("e_all", 0, n), "e_all", 0)).code, 0);
  const states = ["e_a", "e_mid", "e_b"].map((o) => join(dir, o, "state.safetensors"));
  const code = await quiet(() =>
    main(["merge", ...states, "--bootstrap", "0", "--out", join(dir, "e_merged")])
  );
  assert.equal(code, 0);
  const read = (o: string) => {
    const m = JSON.parse(Deno.readTextFileSync(join(dir, o, "metrics.json")));
    delete m.run;
    return m;
  };
  assert.deepEqual(read("e_merged"), read("e_all"));
});
