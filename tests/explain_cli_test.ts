import assert from "node:assert/strict";
import { join } from "node:path";
import { run as runExplain } from "../src/cli/explain.ts";
import { run as runEmbed } from "../src/cli/embed.ts";
import { UsageError } from "../src/errors.ts";
import { fixture, fixtureTest } from "./_helpers.ts";

fixtureTest("explain command writes overlays, heat map, raw map JSON per image", async () => {
  const out = await Deno.makeTempDir({ prefix: "visioneval-explain-" });
  try {
    const model = fixture("models", "resnet-cifar10", "resnet20");
    const cat = fixture("data", "cifar10-test", "cat", "0003.jpg");
    await runExplain(["--model", model, "--image", cat, "--method", "gradcam", "--out", out]);
    const files = [...Deno.readDirSync(out)].map((e) => e.name).sort();
    assert.deepEqual(files, [
      "0003.gradcam.heatmap.png",
      "0003.gradcam.input.png",
      "0003.gradcam.map.json",
      "0003.gradcam.original.png",
      "0003.input.png",
    ]);
    const rec = JSON.parse(await Deno.readTextFile(join(out, "0003.gradcam.map.json")));
    assert.equal(rec.method, "gradcam");
    assert.equal(rec.class, rec.predicted);
    assert.equal(rec.map.length, 8);
    assert.equal(rec.map[0].length, 8);
    assert.ok(rec.confidence > 0 && rec.confidence <= 1);
    await assert.rejects(
      runExplain(["--model", model, "--image", cat, "--method", "saliency", "--out", out]),
      UsageError,
    );
    await assert.rejects(
      runExplain(["--model", model, "--image", cat, "--class", "12", "--out", out]),
      UsageError,
    );
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

fixtureTest(
  "embed command: seeded sample, t-SNE coordinates as CSV + SVG, reproducible",
  async () => {
    const out = await Deno.makeTempDir({ prefix: "visioneval-embed-" });
    try {
      const args = [
        "--model",
        fixture("models", "resnet-cifar10", "resnet20"),
        "--data",
        fixture("data", "cifar10-test"),
        "--sample",
        "10",
        "--seed",
        "4",
        "--method",
        "tsne",
        "--iterations",
        "300",
        "--workers",
        "0",
      ];
      await runEmbed([...args, "--out", join(out, "a")]);
      await runEmbed([...args, "--out", join(out, "b")]);
      const a = await Deno.readTextFile(join(out, "a", "embedding_tsne.csv"));
      assert.equal(a, await Deno.readTextFile(join(out, "b", "embedding_tsne.csv")));
      const rows = a.trim().split("\n");
      assert.equal(rows[0], "path,x,y,label,pred,label_name,pred_name");
      assert.equal(rows.length, 11);
      // A seeded sample spans several classes of the class-sorted folder.
      assert.ok(new Set(rows.slice(1).map((r) => r.split(",")[3])).size >= 3);
      const svg = await Deno.readTextFile(join(out, "a", "embedding_tsne.svg"));
      assert.ok(svg.startsWith("<svg") && svg.includes("</svg>"));
      const info = JSON.parse(await Deno.readTextFile(join(out, "a", "embedding_tsne.json")));
      assert.equal(info.images, 10);
      assert.equal(info.feature_dims, 64);
      await assert.rejects(runEmbed([...args, "--method", "lda", "--out", out]), UsageError);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);

fixtureTest(
  "eval --restrict --explain maps the restricted prediction, not the model's argmax over all classes",
  async () => {
    const out = await Deno.makeTempDir({ prefix: "visioneval-explain-restrict-" });
    try {
      // cat/0040.jpg: ResNet-20's argmax over all 10 classes is deer (PyTorch), over
      // cat, frog, ship, truck it is frog.
      const img = (c: string, f: string) => fixture("data", "cifar10-test", c, f);
      const csv = join(out, "labels.csv");
      await Deno.writeTextFile(
        csv,
        `path,label\n${img("cat", "0040.jpg")},cat\n${img("frog", "0000.jpg")},frog\n` +
          `${img("ship", "0000.jpg")},ship\n${img("truck", "0000.jpg")},truck\n`,
      );
      const { main } = await import("../cli.ts");
      const log = console.log, error = console.error;
      console.log = console.error = () => {};
      let code: number;
      try {
        code = await main([
          "eval",
          "--model",
          fixture("models", "resnet-cifar10", "resnet20"),
          "--data",
          csv,
          "--restrict",
          "--explain",
          "1",
          "--bootstrap",
          "0",
          "--out",
          join(out, "run"),
        ]);
      } finally {
        console.log = log;
        console.error = error;
      }
      assert.equal(code, 0);
      const rows = (await Deno.readTextFile(join(out, "run", "predictions.csv"))).split("\n");
      assert.match(rows.find((r) => r.includes("cat/0040.jpg"))!, /,3,6,.*,cat,frog$/);
      const html = await Deno.readTextFile(join(out, "run", "report.html"));
      assert.match(html, /<b>gradcam<\/b> for frog<\/div><div>pred frog/);
      assert.doesNotMatch(html, /for class -1/);
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);
