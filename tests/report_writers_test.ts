/** Writers of the report layer: CSV escaping, JSON fractions/NaN, PNG round trip, colormaps. */
import assert from "node:assert/strict";
import { Image } from "imagescript";
import {
  csvField,
  embeddingCsv,
  parseCsv,
  PREDICTIONS_HEADER,
  predictionsCsv,
  writePredictionsCsv,
} from "../src/report/csv.ts";
import { formatJson, writeMetricsJson } from "../src/report/json.ts";
import { encodePng, imageDataUri, imageMime } from "../src/report/png.ts";
import { blues, categorical, luma, turbo, viridis } from "../src/report/colormap.ts";
import { rng } from "./_helpers.ts";

Deno.test("csv: fields with commas, quotes, newlines and edge spaces are quoted and round-trip", () => {
  const nasty = [
    "a,b",
    'say "hi"',
    "line1\nline2",
    " lead",
    "trail ",
    "crlf\r\nx",
    "plain",
    "ünï ✓",
  ];
  for (const s of nasty) {
    const parsed = parseCsv(csvField(s) + "\n");
    assert.deepEqual(parsed, [[s]], `round trip of ${JSON.stringify(s)}`);
  }
  assert.equal(csvField("plain"), "plain");
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField(NaN), "");
  assert.equal(csvField(null), "");
  assert.equal(csvField(0.125), "0.125");
});

Deno.test("csv: predictions.csv has the documented columns and escapes paths and names", async () => {
  const names = ["cat", 'dog, "big"', "bird\nnewline"];
  const rows = [
    { path: "imgs/a,1.jpg", label: 1, pred: 0, confidence: 0.8125, top5: [0, 1, 2] },
    { path: 'imgs/"q".png', label: null, pred: 2, confidence: 1, top5: new Int32Array([2, 1]) },
    { path: "imgs/c.jpg", label: 2, pred: 2, confidence: 0.5 },
  ];
  const text = predictionsCsv(rows, names);
  const parsed = parseCsv(text);
  assert.deepEqual(parsed[0], PREDICTIONS_HEADER);
  assert.deepEqual(parsed[0], [
    "path",
    "label",
    "pred",
    "confidence",
    "top5",
    "label_name",
    "pred_name",
  ]);
  assert.equal(parsed.length, 4);
  assert.deepEqual(parsed[1], ["imgs/a,1.jpg", "1", "0", "0.8125", "0 1 2", 'dog, "big"', "cat"]);
  assert.deepEqual(parsed[2], ['imgs/"q".png', "", "2", "1", "2 1", "", "bird\nnewline"]);
  assert.deepEqual(parsed[3], [
    "imgs/c.jpg",
    "2",
    "2",
    "0.5",
    "",
    "bird\nnewline",
    "bird\nnewline",
  ]);
  // Without names, the index stands in.
  assert.equal(parseCsv(predictionsCsv([rows[0]]))[1][5], "class 1");

  const dir = await Deno.makeTempDir({ prefix: "report_csv_" });
  try {
    await writePredictionsCsv(`${dir}/sub/predictions.csv`, rows, names);
    assert.equal(await Deno.readTextFile(`${dir}/sub/predictions.csv`), text);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("csv: embedding CSV keeps coordinates exactly", () => {
  const pts = [{ x: 0.1 + 0.2, y: -1e-12, label: 3, pred: 1, path: "a b.jpg" }, { x: 5, y: 6 }];
  const parsed = parseCsv(embeddingCsv(pts));
  assert.deepEqual(parsed[0], ["path", "x", "y", "label", "pred", "label_name", "pred_name"]);
  assert.equal(Number(parsed[1][1]), 0.1 + 0.2);
  assert.equal(Number(parsed[1][2]), -1e-12);
  assert.deepEqual(parsed[2], ["", "5", "6", "", "", "", ""]);
});

Deno.test("json: fractions stay fractions, NaN/Infinity become null, typed arrays become arrays", async () => {
  const metrics = {
    top1: 0.827,
    top5: NaN,
    log_loss: Infinity,
    auroc: { macro: 0.9, per_class: [0.5, null, NaN] },
    confusion_matrix: [[3, 1], [0, 4]],
    counts: new Float64Array([1.5, 2]),
    nested: { deep: { deeper: [{ a: 1 }] } },
    skip: undefined,
  };
  const text = formatJson(metrics);
  const back = JSON.parse(text);
  assert.equal(back.top1, 0.827);
  assert.equal(back.top5, null);
  assert.equal(back.log_loss, null);
  assert.deepEqual(back.auroc.per_class, [0.5, null, null]);
  assert.deepEqual(back.counts, [1.5, 2]);
  assert.deepEqual(back.nested, { deep: { deeper: [{ a: 1 }] } });
  assert.ok(!("skip" in back));
  // Numeric rows stay on one line each.
  assert.ok(text.includes("[3, 1]") && text.includes("[0, 4]"), text);
  // Every float64 round-trips exactly.
  const r = rng(7);
  const values = Array.from({ length: 100 }, () => r() / 3);
  assert.deepEqual(JSON.parse(formatJson({ values })).values, values);

  const dir = await Deno.makeTempDir({ prefix: "report_json_" });
  try {
    await writeMetricsJson(`${dir}/a/metrics.json`, metrics);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/a/metrics.json`)), back);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("png: gray, RGB and RGBA images round-trip exactly through imagescript's decoder", async () => {
  const r = rng(3);
  for (const [w, h, c] of [[1, 1, 3], [7, 5, 3], [33, 17, 4], [16, 9, 1], [300, 2, 3]] as const) {
    const data = new Uint8Array(w * h * c);
    for (let i = 0; i < data.length; i++) data[i] = Math.floor(r() * 256);
    const png = encodePng({ width: w, height: h, data });
    assert.equal(imageMime(png), "image/png");
    const img = await Image.decode(png);
    assert.equal(img.width, w);
    assert.equal(img.height, h);
    let mismatches = 0;
    for (let p = 0; p < w * h; p++) {
      const rgba = img.bitmap.subarray(p * 4, p * 4 + 4);
      const want = c === 1
        ? [data[p], data[p], data[p], 255]
        : c === 3
        ? [data[p * 3], data[p * 3 + 1], data[p * 3 + 2], 255]
        : Array.from(data.subarray(p * 4, p * 4 + 4));
      for (let k = 0; k < 4; k++) if (rgba[k] !== want[k]) mismatches++;
    }
    assert.equal(mismatches, 0, `${w}x${h}x${c}: ${mismatches} channel values differ`);
  }
  const uri = imageDataUri({ width: 2, height: 2, data: new Uint8Array(12) });
  assert.match(uri, /^data:image\/png;base64,[A-Za-z0-9+/]+=*$/);
  assert.throws(
    () => encodePng({ width: 2, height: 2, data: new Uint8Array(7) }),
    /1, 3 or 4 per pixel/,
  );
  assert.equal(imageMime(new Uint8Array([0xff, 0xd8, 0xff, 0xe0])), "image/jpeg");
});

Deno.test("colormaps: endpoints match the published tables; viridis lightness increases", () => {
  const close = (got: number[], want: number[], tol: number, what: string) =>
    got.forEach((g, i) =>
      assert.ok(Math.abs(g / 255 - want[i]) <= tol, `${what}: ${got} vs ${want}`)
    );
  // matplotlib viridis table: first and last entries
  close(viridis(0), [0.267004, 0.004874, 0.329415], 0.015, "viridis(0)");
  close(viridis(1), [0.993248, 0.906157, 0.143936], 0.015, "viridis(1)");
  close(viridis(0.5), [0.127568, 0.566949, 0.550556], 0.015, "viridis(0.5)");
  // turbo LUT endpoints (the polynomial is looser at the very ends)
  close(turbo(0), [0.18995, 0.07176, 0.23217], 0.13, "turbo(0)");
  close(turbo(1), [0.4796, 0.01583, 0.01055], 0.1, "turbo(1)");
  // turbo's middle is bright green-ish, its ends dark
  assert.ok(luma(turbo(0.5)) > 0.6 && luma(turbo(0)) < 0.2 && luma(turbo(1)) < 0.3);
  let prev = -1;
  for (let t = 0; t <= 1.0001; t += 0.05) {
    const l = luma(viridis(t));
    assert.ok(l > prev, `viridis lightness not increasing at ${t}`);
    prev = l;
  }
  // clamping and NaN
  assert.deepEqual(viridis(-3), viridis(0));
  assert.deepEqual(turbo(7), turbo(1));
  assert.deepEqual(turbo(NaN), turbo(0));
  assert.deepEqual(blues(0), [247, 251, 255]);
  assert.ok(luma(blues(1)) < 0.2);
  // categorical: 10 distinct palette colors, then distinct turbo samples
  assert.equal(new Set(Array.from({ length: 10 }, (_, k) => categorical(k, 10))).size, 10);
  assert.ok(new Set(Array.from({ length: 100 }, (_, k) => categorical(k, 100))).size >= 90);
});
