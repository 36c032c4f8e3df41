/**
 * Issue 17: prediction files are never silently reinterpreted. The input
 * kind is stated, probabilities within the documented tolerances are
 * accepted (and clipped), look-alikes that miss them are refused unless
 * --probs / --logits says which; values must fit in float32; JSONL null,
 * labels beyond 32 bits and duplicated safetensors keys are errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { readLabels, readPredictions } from "../src/metrics/io.ts";
import { MetricsInputError, SafetensorsError } from "../src/errors.ts";
import { duplicateKey, parseSafetensorsBytes } from "../src/weights/safetensors.ts";
import { computeMetricsFromArrays } from "../src/metrics/report.ts";
import { runCli as cli } from "./_helpers.ts";

const dir = Deno.makeTempDirSync({ prefix: "visioneval_inputs_" });

function write(name: string, text: string): string {
  const p = join(dir, name);
  Deno.writeTextFileSync(p, text);
  return p;
}

Deno.test("metrics input kind: tolerances, clipping, ambiguous look-alikes refused, --probs / --logits decide", async () => {
  // One value at -1e-9: probabilities (clipped to 0), not logits softmaxed again.
  const tiny = write("tiny.csv", "0,0.7,0.3\n1,-1e-9,1.000000001\n");
  const p = await readPredictions(tiny);
  assert.equal(p.kind, "probs");
  assert.match(p.kindReason, /detected/);
  assert.deepEqual(Array.from(p.values), [0.7, 0.3, 0, 1]);
  // A row summing to 1.002: ambiguous, refused with both ways out.
  const sum = write("sum.csv", "0,0.702,0.3\n1,0.2,0.8\n");
  await assert.rejects(
    () => readPredictions(sum),
    (e: Error) =>
      e instanceof MetricsInputError &&
      /cannot tell logits from probabilities.*row 1: probabilities sum to 1.002/.test(e.message) &&
      /--probs/.test(e.message) && /--logits/.test(e.message),
  );
  assert.equal((await readPredictions(sum, { kind: "probs" })).kind, "probs");
  assert.equal((await readPredictions(sum, { kind: "logits" })).kind, "logits");
  // --probs still refuses rows off by more than its tolerance, and values far outside [0, 1].
  await assert.rejects(
    () => readPredictions(write("sum2.csv", "0,0.8,0.3\n"), { kind: "probs" }),
    /row 1: probabilities sum to 1.1/,
  );
  // Clearly logits: some value outside [-0.01, 1.01].
  const lg = await readPredictions(write("lg.csv", "0,2.5,-1\n1,0.1,0.3\n"));
  assert.equal(lg.kind, "logits");
  assert.match(lg.kindReason, /detected: values outside/);
  // Named probabilities keep the strict tolerance and point at --probs.
  await assert.rejects(
    () => readPredictions(write("named.jsonl", '{"label": 0, "probs": [0.702, 0.3]}\n')),
    /pass --probs to accept rows summing to 1 within 0.01/i,
  );
  // The summary states the kind.
  const r = await cli([
    "metrics",
    "--predictions",
    tiny,
    "--out",
    join(dir, "o"),
    "--bootstrap",
    "0",
  ]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /input\s+probs \(detected: values in \[0, 1\], rows sum to 1 within 0.001\)/);
  const m = JSON.parse(Deno.readTextFileSync(join(dir, "o", "metrics.json")));
  assert.equal(m.run.input.kind, "probs");
  const r2 = await cli(["metrics", "--predictions", sum, "--out", join(dir, "o2")]);
  assert.equal(r2.code, 1);
  assert.match(r2.err, /cannot tell logits from probabilities/);
});

Deno.test("metrics inputs: values beyond float32, JSONL null, labels beyond 32 bits are errors naming the row", async () => {
  await assert.rejects(
    () => readPredictions(write("big.csv", "0,1,2\n1,1e39,0\n")),
    /row 2: value 1e\+39 in column 0 does not fit in float32/,
  );
  // 3.4e38 fits (float32 max 3.40282347e38).
  assert.equal(
    (await readPredictions(write("edge.csv", "0,3.4e38,0\n1,-3.4e38,0\n"))).kind,
    "logits",
  );
  await assert.rejects(
    () =>
      readPredictions(
        write("null.jsonl", '{"label": 0, "logits": [1, 2]}\n{"label": 1, "logits": [null, 2]}\n'),
      ),
    /null\.jsonl: line 2: value null in column 0 is not a number \(NaN is written as null/,
  );
  await assert.rejects(
    () => readPredictions(write("str.jsonl", '{"label": 0, "logits": ["1", 2]}\n')),
    /line 1: value "1" in column 0 is not a number/,
  );
  // 2^32 + 1 would wrap to 1 through an Int32Array.
  await assert.rejects(
    () => readPredictions(write("wrap.csv", "4294967297,0.1,0.9\n1,0.5,0.5\n")),
    /line 1: label 4294967297 is outside 0..1/,
  );
  const preds = write("ok.csv", "0,0.1,0.9\n1,0.5,0.5\n");
  await assert.rejects(
    () => readPredictions(preds, { labels: write("l.json", "[0, 4294967297]") }),
    /l\.json: row 2: label 4294967297 is not a class index \(beyond the 32-bit range\)/,
  );
  await assert.rejects(
    () => readLabels(write("l.txt", "label\n0\n2147483648\n")),
    /l\.txt: line 3: label 2147483648 is not a class index/,
  );
  await assert.rejects(
    () => readLabels(write("l2.json", "[0, null]")),
    /entry 2: null is not a class index/,
  );
});

function safetensorsWithHeader(header: string, dataBytes = 8): Uint8Array {
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + dataBytes);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  return out;
}

Deno.test("safetensors: a duplicated key in the header is an error, not last-one-wins", () => {
  const e = '{"dtype":"F32","shape":[1],"data_offsets":[0,4]}';
  const e2 = '{"dtype":"F32","shape":[1],"data_offsets":[4,8]}';
  assert.throws(
    () => parseSafetensorsBytes(safetensorsWithHeader(`{"a":${e},"b":${e2},"a":${e2}}`), "dup"),
    (err: Error) =>
      err instanceof SafetensorsError &&
      /dup: tensor "a" appears twice in the header/.test(err.message),
  );
  // Equal after unescaping counts as the same key, as JSON.parse sees it.
  assert.throws(
    () => parseSafetensorsBytes(safetensorsWithHeader(`{"a":${e},"\\u0061":${e2}}`), "esc"),
    /tensor "a" appears twice/,
  );
  assert.throws(
    () =>
      parseSafetensorsBytes(
        safetensorsWithHeader(
          `{"a":{"dtype":"F32","dtype":"F16","shape":[1],"data_offsets":[0,4]}}`,
        ),
        "inner",
      ),
    /key "dtype" appears twice in header entry "a"/,
  );
  assert.throws(
    () =>
      parseSafetensorsBytes(
        safetensorsWithHeader(`{"__metadata__":{"k":"1","k":"2"},"a":${e}}`, 4),
        "meta",
      ),
    /key "k" appears twice in header entry "__metadata__"/,
  );
  // Same key names in different objects, and keys inside strings / arrays, are fine.
  assert.equal(
    duplicateKey(`{"a":{"x":1,"y":[{"x":2},{"x":3}]},"b":{"x":"\\"a\\":"},"c":[1,"a"]}`),
    null,
  );
  assert.ok(parseSafetensorsBytes(safetensorsWithHeader(`{"a":${e},"b":${e2}}`), "ok").has("b"));
});

Deno.test("metrics CSV: a path column first (eval's predictions.csv) is named, with what to run instead", async () => {
  // Bug: eval's own predictions.csv was read as label,scores and refused with
  // `label "/data/a.jpg" is not an integer class index`.
  const ours = write(
    "predictions.csv",
    "path,label,pred,confidence,top5,label_name,pred_name\n/data/a.jpg,0,0,0.9,0 1,cat,cat\n",
  );
  await assert.rejects(
    () => readPredictions(ours),
    (e: Error) =>
      e instanceof MetricsInputError && /line 1: the first column is "path"/.test(e.message) &&
      /label,p_0,\.\.\.,p_\{C-1\}/.test(e.message) &&
      /visioneval merge RUN\/state\.safetensors/.test(e.message),
  );
  // Any other file-name column is refused the same way, without the eval hint.
  const other = write("other.csv", "filename,p0,p1\na.jpg,0.2,0.8\n");
  await assert.rejects(
    () => readPredictions(other),
    (e: Error) => /first column is "filename"/.test(e.message) && !/merge/.test(e.message),
  );
  // A label-first header still reads.
  const good = await readPredictions(write("good.csv", "label,p_0,p_1\n1,0.2,0.8\n"));
  assert.deepEqual(Array.from(good.labels!), [1]);
});

Deno.test("computeMetricsFromArrays: an input kind other than logits/probs or a bad temperature is refused", () => {
  const opts = (extra: object) =>
    ({ numClasses: 2, ...extra }) as Parameters<typeof computeMetricsFromArrays>[2];
  // "probabilities" (a JavaScript caller's guess) was silently read as probabilities.
  assert.throws(
    () => computeMetricsFromArrays([0], [0.9, 0.1], opts({ input: "probabilities" })),
    (e) =>
      e instanceof MetricsInputError &&
      /input must be "logits" or "probs", got "probabilities"/.test(e.message),
  );
  for (const temperature of [0, -1, NaN]) {
    assert.throws(
      () => computeMetricsFromArrays([0], [2, 1], opts({ temperature })),
      (e) =>
        e instanceof MetricsInputError && /temperature must be a finite number > 0/.test(e.message),
    );
  }
  assert.equal(computeMetricsFromArrays([0], [0.9, 0.1], opts({ input: "probs" })).top1, 1);
});
