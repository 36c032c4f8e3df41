/**
 * Issue 17: `merge` checks what it is given. States record their
 * provenance; a shard merged with the full run (samples twice), states of
 * different models / classes, an `eval` state with a `metrics` state, and
 * states with negative, NaN or mismatching counts are refused naming the two
 * files; old states without provenance merge with a warning. Property
 * tests feed random non-finite, huge and duplicate values through
 * `metrics`, `merge` and the ranking code: every outcome is a clear
 * MetricsInputError or a finite, correct result, never a hang.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { MetricsInputError } from "../src/errors.ts";
import { mulberry32 } from "../src/random.ts";
import { accumulateArrays, mergeSnapshots, type MetricSnapshot } from "../src/metrics/snapshot.ts";
import { computeMetrics } from "../src/metrics/report.ts";
import { decodeSnapshot, encodeSnapshot, saveSnapshot } from "../src/metrics/state_file.ts";
import type { StateProvenance } from "../src/metrics/provenance.ts";
import { exactRanking, tieGroups } from "../src/metrics/ranking.ts";
import { encodeSafetensors } from "../src/weights/safetensors.ts";
import { runCli as cli } from "./_helpers.ts";

const dir = Deno.makeTempDirSync({ prefix: "visioneval_merge_" });
const C = 4;

function data(n: number, seed: number) {
  const r = mulberry32(seed);
  const labels = Int32Array.from({ length: n }, () => Math.floor(r() * C));
  const logits = Float64Array.from({ length: n * C }, () => Math.round((r() * 4 - 2) * 8) / 8);
  return { labels, logits };
}
const ALL = data(100, 7);

const PROV: StateProvenance = {
  command: "eval",
  model: { path: "m", architecture: "resnet", weightsSha256: "aa".repeat(32) },
  dataset: { path: "d", items: 100, itemsSha256: "bb".repeat(32) },
  classNames: ["a", "b", "c", "d"],
  pipeline: "resize 64",
  shard: null,
  samples: [],
};

/** The state of samples [start, end) of ALL with provenance `prov` (null: none). */
function shard(
  start: number,
  end: number,
  prov: Partial<StateProvenance> | null = {},
): MetricSnapshot {
  const s = accumulateArrays(
    ALL.labels.subarray(start, end),
    ALL.logits.subarray(start * C, end * C),
    { numClasses: C, sampleOffset: start, keepScores: false, keepLogits: false },
  );
  s.provenance = prov === null ? null : { ...PROV, samples: [[start, end]], ...prov };
  return s;
}

async function save(name: string, s: MetricSnapshot): Promise<string> {
  const p = join(dir, name);
  await saveSnapshot(p, s);
  return p;
}

const strip = (m: Record<string, unknown>) => {
  delete m.run;
  return m;
};

/** Deep equality with numbers within 1e-12 relative (the CPU reference sums in float64 order). */
function assertClose(a: unknown, b: unknown, path = ""): void {
  if (typeof a === "number" && typeof b === "number") {
    assert.ok(Math.abs(a - b) <= 1e-12 * Math.max(1, Math.abs(b)), `${path}: ${a} vs ${b}`);
  } else if (a && b && typeof a === "object" && typeof b === "object") {
    const ka = Object.keys(a), kb = Object.keys(b);
    assert.deepEqual(ka, kb, path);
    for (const k of ka) {
      assertClose(
        (a as Record<string, unknown>)[k],
        (b as Record<string, unknown>)[k],
        `${path}.${k}`,
      );
    }
  } else assert.equal(a, b, path);
}

Deno.test("merge: disjoint shards merge to one pass; the merged state records the union", async () => {
  const a = await save("a.safetensors", shard(0, 40, { shard: { index: 0, count: 2 } }));
  const b = await save("b.safetensors", shard(40, 100, { shard: { index: 1, count: 2 } }));
  const r = await cli(["merge", b, a, "--out", join(dir, "ab"), "--bootstrap", "0"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.err, "");
  const merged = await decodeSnapshot(
    Deno.readFileSync(join(dir, "ab", "state.safetensors")),
    "merged",
  );
  assert.deepEqual(merged.provenance!.samples, [[0, 100]]);
  assert.equal(merged.provenance!.command, "merge");
  const one = computeMetrics(shard(0, 100), { bootstrap: 0 });
  const got = JSON.parse(Deno.readTextFileSync(join(dir, "ab", "metrics.json")));
  assertClose(strip(got), JSON.parse(JSON.stringify(one)));
});

Deno.test("merge: refuses overlapping samples, other models / classes / pipelines, eval + metrics, naming both files", async () => {
  const a = await save("s0.safetensors", shard(0, 50));
  const cases: [string, MetricSnapshot, RegExp][] = [
    ["full.safetensors", shard(0, 100), /both hold sample 0 .*counted twice/],
    ["s0copy.safetensors", shard(20, 60), /both hold sample 20/],
    [
      "vit.safetensors",
      shard(50, 100, { model: { path: "v", architecture: "vit", weightsSha256: "cc".repeat(32) } }),
      /different models: .*resnet, weights sha256 aaaaaaaaaaaa.*vit, weights sha256 cccccccccccc/,
    ],
    [
      "classes.safetensors",
      shard(50, 100, { classNames: ["a", "b", "x", "d"] }),
      /different class names .*class 2: "c" vs "x"/,
    ],
    ["pipe.safetensors", shard(50, 100, { pipeline: "resize 224" }), /different pipelines/],
    [
      "data.safetensors",
      shard(50, 100, { dataset: { path: "d", items: 99, itemsSha256: "bb".repeat(32) } }),
      /different datasets/,
    ],
    [
      "metrics.safetensors",
      shard(50, 100, { command: "metrics", model: null, dataset: null }),
      /written by `eval` for model m, .*metrics.safetensors by `metrics`/,
    ],
  ];
  for (const [name, s, re] of cases) {
    const b = await save(name, s);
    const r = await cli(["merge", a, b, "--out", join(dir, "bad")]);
    assert.equal(r.code, 1, name);
    assert.match(r.err, re, name);
    assert.ok(r.err.includes(a) && r.err.includes(b), `${name}: ${r.err}`);
  }
  // Without provenance the kept sample indices still reveal the overlap.
  const old = [shard(0, 50, null), shard(0, 100, null)];
  assert.throws(
    () => mergeSnapshots(old, { names: ["x", "y"] }),
    (e: Error) =>
      e instanceof MetricsInputError && /cannot merge y with x: both hold sample 0/.test(e.message),
  );
});

Deno.test("merge: old states (no provenance) merge with a warning; inconsistent counts are refused", async () => {
  const a = await save("new.safetensors", shard(0, 50));
  const b = await save("old.safetensors", shard(50, 100, null));
  const r = await cli(["merge", a, b, "--out", join(dir, "old"), "--bootstrap", "0"]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /warning: .*old\.safetensors records no provenance/);

  const bad: [string, (s: MetricSnapshot) => void, RegExp][] = [
    ["neg", (s) => (s.labelCount[0] = -1), /labelCount\[0\] is -1, not a count/],
    ["nan", (s) => (s.predCount[1] = NaN), /predCount\[1\] is NaN/],
    ["frac", (s) => (s.scoreAll[3] = 0.5), /scoreAll\[3\] is 0.5/],
    ["sum", (s) => (s.labelCount[0] += 1), /labelCount totals 51 but numSamples is 50/],
    ["n", (s) => (s.numSamples = -50), /numSamples is -50/],
    ["nll", (s) => (s.nllSum = NaN), /nllSum is (NaN|null)/],
    ["conf", (s) => (s.confusion![0] += 1), /confusion row 0 totals/],
    [
      "ranges",
      (s) => (s.provenance!.samples = [[0, 60]]),
      /lists 60 sample indices but it counts 50/,
    ],
  ];
  for (const [name, edit, re] of bad) {
    const s = shard(50, 100);
    edit(s);
    const p = await save(`${name}.safetensors`, s);
    const r2 = await cli(["merge", a, p, "--out", join(dir, "bad2")]);
    assert.equal(r2.code, 1, name);
    assert.match(r2.err, re, name);
    assert.ok(r2.err.includes(p), name);
  }
  // Provenance metadata that is not JSON is a one-line error, not "internal error".
  const { tensors, metadata } = encodeSnapshot(shard(0, 10));
  metadata.visioneval_provenance = "{not json";
  await assert.rejects(
    () => decodeSnapshot(encodeSafetensors(tensors, metadata), "broken"),
    /broken: metadata visioneval_provenance is not a JSON object/,
  );
});

Deno.test("property: random non-finite, huge and duplicate values through ranking, merge and metrics", async () => {
  const r = mulberry32(17);
  const special = [NaN, Infinity, -Infinity, 1e39, -1e39, 3.4e38, 0, 0, 1, 1, 0.5];
  const pick =
    () => (r() < 0.3 ? special[Math.floor(r() * special.length)] : Math.round(r() * 8) / 8);

  // Ranking: tie grouping ends and accounts for every score; exactRanking refuses or is in [0, 1].
  for (let t = 0; t < 300; t++) {
    const P = Math.floor(r() * 20), N = Math.floor(r() * 20);
    const pos = Float64Array.from({ length: P }, pick),
      neg = Float64Array.from({ length: N }, pick);
    const g = tieGroups(pos, neg);
    assert.equal(g.pos.reduce((a, b) => a + b, 0), P);
    assert.equal(g.neg.reduce((a, b) => a + b, 0), N);
    assert.ok(g.pos.every((a, i) => a + g.neg[i] > 0), "no empty group");
    const n = P + N;
    const scores = Float64Array.from({ length: n * 2 }, pick);
    const labels = Array.from({ length: n }, () => Math.floor(r() * 2));
    try {
      const res = exactRanking(scores, labels, 2);
      assert.ok(Array.from(scores).every(Number.isFinite));
      for (const v of [...res.auroc.per_class, ...res.auprc.per_class]) {
        assert.ok(v === null || (v >= 0 && v <= 1 + 1e-12), String(v));
      }
    } catch (e) {
      assert.ok(e instanceof MetricsInputError, String(e));
      assert.ok(!Array.from(scores).every(Number.isFinite));
    }
  }

  // Merge: random splits, with random duplicates and corrupted counts.
  for (let t = 0; t < 60; t++) {
    const cut = 1 + Math.floor(r() * 98);
    const dup = r() < 0.3 ? Math.floor(r() * 20) : 0; // second part starts earlier: overlap
    const parts = [shard(0, cut), shard(cut - Math.min(dup, cut), 100)];
    const corrupt = r() < 0.4;
    if (corrupt) {
      const s = parts[Math.floor(r() * 2)];
      const f =
        (["labelCount", "predCount", "calibCount", "scoreAll"] as const)[Math.floor(r() * 4)];
      s[f][Math.floor(r() * s[f].length)] = special[Math.floor(r() * 6)] || -1;
    }
    const roundTripped: MetricSnapshot[] = [];
    let refused = false;
    for (const [k, s] of parts.entries()) {
      const { tensors, metadata } = encodeSnapshot(s);
      try {
        roundTripped.push(await decodeSnapshot(encodeSafetensors(tensors, metadata), `p${k}`));
      } catch (e) {
        assert.ok(e instanceof MetricsInputError, String(e));
        refused = true;
      }
    }
    if (!refused) {
      try {
        const m = mergeSnapshots(roundTripped);
        assert.ok(!corrupt && !dup, `merged a ${corrupt ? "corrupt" : "overlapping"} pair`);
        assertClose(
          computeMetrics(m, { bootstrap: 0 }),
          computeMetrics(shard(0, 100), { bootstrap: 0 }),
        );
      } catch (e) {
        if (e instanceof assert.AssertionError) throw e;
        assert.ok(e instanceof MetricsInputError, String(e));
        refused = true;
      }
    }
    assert.equal(refused, corrupt || dup > 0, `t=${t} corrupt=${corrupt} dup=${dup}`);
  }

  // metrics: random CSVs with special values and duplicated rows exit 0 with finite numbers, or 1.
  for (let t = 0; t < 8; t++) {
    const rows: string[] = [];
    for (let i = 0; i < 12; i++) {
      const row = Array.from(
        { length: 3 },
        () => (r() < 0.05 ? special[Math.floor(r() * 5)] : r() * 6 - 3),
      );
      const line = `${Math.floor(r() * 3)},${row.join(",")}`;
      rows.push(line);
      if (r() < 0.2) rows.push(line); // duplicates
    }
    const p = join(dir, `prop${t}.csv`);
    Deno.writeTextFileSync(p, rows.join("\n"));
    const res = await cli([
      "metrics",
      "--predictions",
      p,
      "--out",
      join(dir, `po${t}`),
      "--bootstrap",
      "0",
    ]);
    const bad = rows.some((l) =>
      l.split(",").slice(1).some((v) => !Number.isFinite(Math.fround(Number(v))))
    );
    assert.equal(res.code, bad ? 1 : 0, `${p}: ${res.err}`);
    if (bad) assert.match(res.err, /not finite|not a number|does not fit in float32/);
    else {
      const m = JSON.parse(Deno.readTextFileSync(join(dir, `po${t}`, "metrics.json")));
      for (const k of ["top1", "log_loss", "brier", "ece"]) assert.ok(Number.isFinite(m[k]), k);
    }
  }
});

Deno.test("eval states record provenance: a shard plus the full run is refused, the two shards merge", async () => {
  const { writeSyntheticImages, writeSyntheticModel } = await import("../src/demo/synthetic.ts");
  const model = join(dir, "model"), images = join(dir, "images");
  await writeSyntheticModel(model);
  await writeSyntheticImages(images, 1, 5);
  const run = (out: string, ...extra: string[]) => evalQuiet(model, images, out, ...extra);
  for (
    const [out, extra] of [["full", []], ["sh0", ["--shard", "0/2"]], ["sh1", [
      "--shard",
      "1/2",
    ]]] as const
  ) {
    const r = await run(out, ...extra);
    assert.equal(r.code, 0, r.err);
  }
  const state = (o: string) => join(dir, o, "state.safetensors");
  const s0 = await decodeSnapshot(Deno.readFileSync(state("sh0")), "sh0");
  const p = s0.provenance!;
  assert.equal(p.command, "eval");
  assert.match(p.model!.weightsSha256!, /^[0-9a-f]{64}$/);
  assert.equal(p.dataset!.items, 5);
  assert.deepEqual(p.shard, { index: 0, count: 2 });
  assert.deepEqual(p.samples, [[0, 2]]);
  assert.equal(p.classNames!.length, s0.numClasses);
  const bad = await cli(["merge", state("sh0"), state("full"), "--out", join(dir, "m1")]);
  assert.equal(bad.code, 1);
  assert.match(bad.err, /both hold sample 0/);
  const ok = await cli([
    "merge",
    state("sh0"),
    state("sh1"),
    "--out",
    join(dir, "m2"),
    "--bootstrap",
    "0",
  ]);
  assert.equal(ok.code, 0, ok.err);
  const merged = JSON.parse(Deno.readTextFileSync(join(dir, "m2", "metrics.json")));
  const full = JSON.parse(Deno.readTextFileSync(join(dir, "full", "metrics.json")));
  assert.equal(merged.top1, full.top1);
  assert.equal(merged.num_samples, 5);
});

/** `eval` of `model` on `images` into `dir/out` without bootstrap or report; asserts it succeeds. */
async function evalQuiet(model: string, images: string, out: string, ...extra: string[]) {
  const r = await cli([
    "eval",
    "--model",
    model,
    "--data",
    images,
    "--out",
    join(dir, out),
    "--bootstrap",
    "0",
    "--no-report",
    ...extra,
  ]);
  assert.equal(r.code, 0, r.err);
  return r;
}

Deno.test("merge lists the images the shards skipped, as one eval over all of them does", async () => {
  const { writeSyntheticImages, writeSyntheticModel } = await import("../src/demo/synthetic.ts");
  const model = join(dir, "model_failed"), images = join(dir, "images_failed");
  await writeSyntheticModel(model);
  await writeSyntheticImages(images, 2, 9);
  // Two unreadable images, in different shards.
  const classes = [...Deno.readDirSync(images)].map((e) => e.name).sort();
  for (const c of [classes[0], classes[classes.length - 1]]) {
    Deno.writeTextFileSync(join(images, c, "zz_broken.png"), "not an image");
  }
  const run = async (out: string, ...extra: string[]) => {
    await evalQuiet(model, images, out, ...extra);
    return JSON.parse(Deno.readTextFileSync(join(dir, out, "metrics.json")));
  };
  const full = await run("failed_full");
  assert.equal(full.failed.length, 2);
  for (const i of [0, 1, 2]) await run(`failed_sh${i}`, "--shard", `${i}/3`);
  // Shards given out of order: the list still follows the samples.
  const states = [2, 0, 1].map((i) => join(dir, `failed_sh${i}`, "state.safetensors"));
  const r = await cli(["merge", ...states, "--out", join(dir, "failed_m"), "--bootstrap", "0"]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /skipped 2 image\(s\); first: .*zz_broken\.png/);
  const merged = JSON.parse(Deno.readTextFileSync(join(dir, "failed_m", "metrics.json")));
  assert.deepEqual(merged.failed, full.failed);
  assertClose(strip(merged), strip(full));
});

Deno.test("merge recomputes the shards' calibration split and calibrator over all samples, and says TTA is not merged", async () => {
  const { writeSyntheticImages, writeSyntheticModel } = await import("../src/demo/synthetic.ts");
  const model = join(dir, "model_cal"), images = join(dir, "images_cal");
  await writeSyntheticModel(model);
  await writeSyntheticImages(images, 3, 4);
  const run = (out: string, ...extra: string[]) => evalQuiet(model, images, out, ...extra);
  const read = (out: string) => JSON.parse(Deno.readTextFileSync(join(dir, out, "metrics.json")));
  await run("cal_fit", "--calibration-split", "0.5");
  const fit = await cli(["calibrate", "--run", join(dir, "cal_fit"), "--out", join(dir, "cal")]);
  assert.equal(fit.code, 0, fit.err);
  const opts = ["--calibration-split", "0.5", "--calibrator", join(dir, "cal", "calibrator.json")];
  await run("cal_full", ...opts);
  for (const i of [0, 1, 2]) await run(`cal_sh${i}`, ...opts, "--shard", `${i}/3`);
  // A shard too small for a split of its own says so and still writes its state.
  const tiny = await run("cal_tiny", ...opts, "--limit", "1", "--shard", "0/1");
  assert.match(tiny.err, /shard 0\/1: no calibration split of its own/);
  assert.ok(read("cal_tiny").calibrated);
  const states = [1, 2, 0].map((i) => join(dir, `cal_sh${i}`, "state.safetensors"));
  const m = await cli(["merge", ...states, "--out", join(dir, "cal_m"), "--bootstrap", "0"]);
  assert.equal(m.code, 0, m.err);
  const full = read("cal_full"), merged = read("cal_m");
  assert.ok(full.calibration_split && full.calibrated);
  assertClose(merged.calibration_split, full.calibration_split);
  assertClose(merged.calibrated, full.calibrated);
  assert.equal(merged.not_merged, undefined);
  // TTA: listed as not merged, with a warning; shards with other analyses are said too.
  for (const i of [0, 1]) await run(`tta_sh${i}`, "--tta", "hflip", "--shard", `${i}/2`);
  const ttaStates = [0, 1].map((i) => join(dir, `tta_sh${i}`, "state.safetensors"));
  const t = await cli(["merge", ...ttaStates, "--out", join(dir, "tta_m"), "--bootstrap", "0"]);
  assert.equal(t.code, 0, t.err);
  assert.match(t.err, /tta not merged: the shards' TTA metrics \(hflip/);
  assert.deepEqual(read("tta_m").not_merged.map((x: { analysis: string }) => x.analysis), ["tta"]);
  await run("plain_sh1", "--shard", "1/2");
  const mixed = await cli([
    "merge",
    ttaStates[0],
    join(dir, "plain_sh1", "state.safetensors"),
    "--out",
    join(dir, "mixed_m"),
  ]);
  assert.equal(mixed.code, 0, mixed.err);
  assert.match(mixed.err, /analyses not merged: .* ran different analyses/);
});
