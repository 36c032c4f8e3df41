/**
 * `compare` end to end on the GPU: CIFAR ResNet-20 vs ResNet-56 on 80
 * CIFAR-10 test JPEGs with `--model`, then again from the two run folders it
 * kept. McNemar's counts and p-value equal scipy's on the runs'
 * predictions.csv; the predictions equal the fixtures' PyTorch references;
 * both ways give the same comparison.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fixture, fixtureTest } from "./_helpers.ts";
import { HAVE_SCIPY, scipyRef } from "./_scipy_ref.ts";
import { parseCsv } from "../src/csv.ts";
import { main } from "../cli.ts";

/** Runs the CLI; returns the exit code and what it printed on stderr. */
async function cli(args: string[]): Promise<{ code: number; stderr: string }> {
  const log = console.log, error = console.error;
  const lines: string[] = [];
  console.log = () => {};
  console.error = (...a: unknown[]) => void lines.push(a.join(" "));
  try {
    return { code: await main(args), stderr: lines.join("\n") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

fixtureTest(
  "compare --model r20 --model r56, then compare RUN_A RUN_B: McNemar = scipy, same comparison",
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "visioneval_compare_" });
    const data = fixture("data/cifar10-test");
    const rows = parseCsv(Deno.readTextFileSync(join(data, "labels.csv"))).slice(1);
    const picked = rows.filter((_, i) => i % 500 < 8); // 8 per class
    const csv = join(dir, "subset.csv");
    Deno.writeTextFileSync(
      csv,
      `path,label\n${picked.map((r) => `${join(data, r[0])},${r[1]}`).join("\n")}\n`,
    );
    const out = join(dir, "cmp");
    const models = ["resnet20", "resnet56"].map((m) => fixture("models/resnet-cifar10", m));
    const first = await cli([
      "compare",
      "--model",
      models[0],
      "--model",
      models[1],
      "--data",
      csv,
      "--out",
      out,
      "--bootstrap",
      "300",
      "--workers",
      "0",
      "--batch",
      "40",
    ]);
    assert.equal(first.code, 0, first.stderr);
    // Same pipeline (32x32, ImageNet mean/std): both models read one pass of the data.
    assert.match(first.stderr, /2 models, 1 pass over the data/);
    const c = JSON.parse(Deno.readTextFileSync(join(out, "comparison.json")));
    assert.equal(c.num_samples, 80);
    assert.deepEqual(c.models.map((m: { name: string }) => m.name), ["resnet20", "resnet56"]);
    // Each kept run predicts what PyTorch predicts (the fixtures' reference CSVs).
    for (const name of ["resnet20", "resnet56"]) {
      const ref = new Map(
        parseCsv(
          Deno.readTextFileSync(fixture("reference/resnet-cifar10", `predictions_${name}.csv`)),
        )
          .slice(1).map((r) => [join(data, r[0]), Number(r[2])]),
      );
      const ours = parseCsv(Deno.readTextFileSync(join(out, name, "predictions.csv"))).slice(1);
      assert.equal(ours.length, 80);
      for (const r of ours) assert.equal(Number(r[2]), ref.get(r[0]), r[0]);
    }
    const pair = c.pairs[0];
    if (HAVE_SCIPY) {
      const ref = scipyRef(
        join(out, "resnet20", "predictions.csv"),
        join(out, "resnet56", "predictions.csv"),
      ) as {
        b: number;
        c: number;
        p_value: number;
      };
      assert.equal(pair.mcnemar.b, ref.b);
      assert.equal(pair.mcnemar.c, ref.c);
      assert.ok(Math.abs(pair.mcnemar.p_value - ref.p_value) <= 1e-12 * ref.p_value);
    }
    // Log loss is compared (eval kept the probabilities) and matches each run's metrics.json.
    const runLoss = ["resnet20", "resnet56"].map((n) =>
      JSON.parse(Deno.readTextFileSync(join(out, n, "metrics.json"))).log_loss as number
    );
    assert.ok(Math.abs(c.models[0].metrics.log_loss.value - runLoss[0]) < 1e-6);
    assert.ok(Math.abs(pair.differences.log_loss.value - (runLoss[0] - runLoss[1])) < 2e-6);
    for (const k of ["top1", "macro_f1", "log_loss", "ece"]) {
      const d = pair.differences[k];
      assert.ok(d.interval.lo <= d.value && d.value <= d.interval.hi, k);
    }
    const html = Deno.readTextFileSync(join(out, "comparison.html"));
    assert.match(html, /McNemar/);
    assert.match(html, /Reliability diagrams/);
    assert.doesNotMatch(html, /src="http/);
    // The same comparison from the kept run folders, without the GPU.
    const again = join(dir, "again");
    const second = await cli([
      "compare",
      join(out, "resnet20"),
      join(out, "resnet56"),
      "--out",
      again,
      "--bootstrap",
      "300",
    ]);
    assert.equal(second.code, 0, second.stderr);
    const c2 = JSON.parse(Deno.readTextFileSync(join(again, "comparison.json")));
    assert.deepEqual(c2.pairs, c.pairs);
    assert.deepEqual(c2.models, c.models);
    // Run folders with the same name (exp1/run, exp2/run) are told apart with --name.
    const same = ["exp1", "exp2"].map((e) => join(dir, e, "run"));
    for (const [k, d] of same.entries()) {
      Deno.mkdirSync(d, { recursive: true });
      for (const f of ["predictions.csv", "state.safetensors"]) {
        Deno.copyFileSync(join(out, ["resnet20", "resnet56"][k], f), join(d, f));
      }
    }
    const clash = await cli(["compare", ...same, "--out", join(dir, "clash")]);
    assert.equal(clash.code, 2);
    assert.match(clash.stderr, /two runs are named "run"; give each model a distinct --name/);
    const named = join(dir, "named");
    const third = await cli([
      "compare",
      ...same,
      "--name",
      "resnet20",
      "--name",
      "resnet56",
      "--out",
      named,
      "--bootstrap",
      "300",
    ]);
    assert.equal(third.code, 0, third.stderr);
    const c3 = JSON.parse(Deno.readTextFileSync(join(named, "comparison.json")));
    assert.deepEqual(c3.pairs, c.pairs);
    assert.equal((await cli(["compare", ...same, "--name", "a"])).code, 2);
    // Mixing the two forms is a usage error (exit 2).
    assert.equal((await cli(["compare", join(out, "resnet20"), "--model", models[0]])).code, 2);
    // Runs of different images are refused (exit 1), naming what differs.
    const other = join(dir, "other");
    Deno.mkdirSync(other);
    const half = Deno.readTextFileSync(join(out, "resnet56", "predictions.csv")).split("\n");
    Deno.writeTextFileSync(
      join(other, "predictions.csv"),
      half.join("\n").replace(/airplane\/0000/, "airplane/9999"),
    );
    Deno.copyFileSync(join(out, "resnet56", "state.safetensors"), join(other, "state.safetensors"));
    const refused = await cli(["compare", join(out, "resnet20"), other, "--out", join(dir, "no")]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /evaluated on different images; only in .*other: .*airplane\/9999\.jpg/,
    );
    Deno.removeSync(dir, { recursive: true });
  },
);
