/**
 * Test-time augmentation: `--tta` parsing and views; FiveCrop/TenCrop
 * geometry against torchvision's own crops (scripts/compare/tta_ref.py
 * --crops) on an image whose center crop is not symmetric; the GPU view and
 * reduction kernels against float64 references on awkward shapes; and
 * `eval --tta` end to end against PyTorch (PIL crops/flips + the same CIFAR
 * ResNet-20): hflip, five-crop and ten-crop predictions, with the plain view's
 * metrics equal to a run without TTA.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fixture, fixtureTest } from "./_helpers.ts";
import { fromFileUrl } from "./_path.ts";
import { HAVE_TORCH } from "./_family_refs.ts";
import { parseTta, prepareGroupCrops, ttaPlan } from "../src/data/tta.ts";
import { prepareBatch } from "../src/data/prepare.ts";
import { readImage } from "../src/data/decode.ts";
import { applyOverrides, preprocessConfigFromModelDir } from "../src/data/preprocess.ts";
import { UsageError } from "../src/errors.ts";
import { Engine } from "../src/gpu/engine.ts";
import { ttaReduce, ttaViews } from "../src/ops/tta.ts";
import { randomF32 } from "./_helpers.ts";
import { main } from "../cli.ts";

const PYTHON = Deno.env.get("VISIONEVAL_PYTHON") ?? "/usr/bin/python3";
const SCRIPT = fromFileUrl(new URL("../scripts/compare/tta_ref.py", import.meta.url));
const R20 = "models/resnet-cifar10/resnet20";

function torchRef(...args: string[]): unknown {
  const out = new Deno.Command(PYTHON, { args: [SCRIPT, ...args] }).outputSync();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

function torchFixtureTest(name: string, fn: () => Promise<void>): void {
  if (!HAVE_TORCH) {
    Deno.test({ name: `${name} (skipped: ${PYTHON} cannot import torch)`, ignore: true, fn });
  } else fixtureTest(name, fn);
}

Deno.test("tta: --tta parsing and the views of each mode", () => {
  assert.deepEqual(parseTta("hflip,scales=224,256"), {
    flip: true,
    crops: "plain",
    scales: [224, 256],
    mean: "probs",
  });
  assert.equal(parseTta("five-crop,hflip").crops, "ten");
  assert.equal(parseTta("ten-crop,hflip").flip, false);
  assert.equal(parseTta("scales=32,40,hflip", "logits").mean, "logits");
  assert.throws(() => parseTta("vflip"), UsageError);
  assert.throws(() => parseTta("five-crop,ten-crop"), UsageError);
  const cfg = {
    resizeMode: "shortest" as const,
    size: [36, 36] as [number, number],
    crop: [32, 32] as [number, number],
    cropRounding: "half-even" as const,
    interpolation: "bilinear" as const,
    rescale: { op: "divide" as const, value: 255 },
    mean: [0, 0, 0] as [number, number, number],
    std: [1, 1, 1] as [number, number, number],
    source: "test",
    warnings: [],
  };
  const ten = ttaPlan(cfg, parseTta("ten-crop"));
  assert.deepEqual(ten.groups[0].crops, ["tl", "tr", "bl", "br", "plain", "center-mirror"]);
  assert.equal(ten.meanViews, 10);
  // The mirror's crops, in TenCrop's order: mirrored tr, tl, br, bl and the mirrored center.
  assert.deepEqual(ten.groups[0].views.slice(5).map((v) => [v.crop, v.flip]), [
    [1, true],
    [0, true],
    [3, true],
    [2, true],
    [5, true],
  ]);
  assert.deepEqual(ten.plain, { group: 0, view: 4 });
  // Scales without the pipeline's own size: the plain view runs on the side, not averaged.
  const sc = ttaPlan(cfg, parseTta("hflip,scales=40,48"));
  assert.deepEqual(sc.groups.map((g) => [g.outSize[0], g.cfg.size[0], g.views.length]), [
    [40, 45, 2],
    [48, 54, 2],
    [32, 36, 1],
  ]);
  assert.equal(sc.meanViews, 4);
  assert.deepEqual(sc.plain, { group: 2, view: 0 });
  // A "floor" pipeline's own crop is kept beside torchvision's center crop.
  const floor = ttaPlan({ ...cfg, cropRounding: "floor" }, parseTta("five-crop"));
  assert.deepEqual(floor.groups[0].crops, ["tl", "tr", "bl", "br", "center", "plain"]);
  assert.deepEqual(floor.groups[0].views[5], { crop: 5, flip: false, mean: false });
});

torchFixtureTest(
  "tta: TenCrop views equal torchvision's (odd margin: the mirrored center differs)",
  async () => {
    const image = fixture("data/imagenet-sample/n01440764_tench.JPEG");
    const ref = torchRef("--crops", image, "37", "32") as { resized: number[]; views: number[][] };
    assert.deepEqual(ref.resized, [49, 37]); // 49 - 32 = 17: round(8.5) = 8 from the left
    const cfg = applyOverrides(preprocessConfigFromModelDir(fixture(R20)), {
      size: 37,
      crop: 32,
      interpolation: "bilinear",
    });
    const plan = ttaPlan(cfg, parseTta("ten-crop"));
    const g = plan.groups[0];
    const per = 3 * 32 * 32;
    const crops = new Float32Array(g.crops.length * per);
    prepareGroupCrops(await readImage(image), g, crops, 0);
    let worst = 0;
    g.views.forEach((v, k) => {
      const src = crops.subarray(v.crop * per, (v.crop + 1) * per);
      for (let i = 0; i < per; i++) {
        const x = i % 32, rest = i - x;
        const ours = src[rest + (v.flip ? 31 - x : x)];
        worst = Math.max(worst, Math.abs(ours - ref.views[k][i]));
      }
    });
    assert.ok(worst < 1e-6, `largest difference ${worst}`);
    // The plain crop is what the loader makes without TTA, bit for bit.
    const plain = await prepareBatch([{ path: image }], cfg, [32, 32]);
    const at = g.crops.indexOf("plain");
    assert.deepEqual(crops.subarray(at * per, (at + 1) * per), plain.pixels);
  },
);

Deno.test("tta: GPU views (gather + flip) and the weighted view reduction equal float64 references", async () => {
  const engine = await Engine.create();
  for (const [B, R, h, w] of [[1, 1, 1, 1], [3, 6, 5, 7], [2, 2, 17, 3]]) {
    const x = randomF32(B * R * 3 * h * w, B + R + h);
    const table = Array.from({ length: 2 * R + 1 }, (_, v) => [v % R, v % 2]);
    const V = table.length;
    const got = await engine.readF32(
      ttaViews(
        engine,
        engine.upload(x, [B * R, 3, h, w]),
        engine.upload(Uint32Array.from(table.flat()), [V, 2]),
        B,
      ),
    );
    for (let b = 0; b < B; b++) {
      for (let v = 0; v < V; v++) {
        for (let i = 0; i < 3 * h * w; i++) {
          const xo = i % w, flip = table[v][1] === 1;
          const src = ((b * R + table[v][0]) * 3 * h * w) + i - xo + (flip ? w - 1 - xo : xo);
          assert.equal(got[(b * V + v) * 3 * h * w + i], x[src]);
        }
      }
    }
  }
  for (const [B, V, C] of [[1, 1, 1], [5, 3, 1001], [2, 10, 7]]) {
    const x = randomF32(B * V * C, V * C, 0, 1);
    const w = Float32Array.from({ length: V }, (_, v) => (v % 3 === 1 ? 0 : 1 / V));
    const wt = engine.upload(w, [V]);
    const xt = engine.upload(x, [B * V, C]);
    const out = engine.upload(Float32Array.from({ length: B * C }, () => 0.25), [B, C]);
    ttaReduce(engine, xt, wt, out, { accumulate: true, finishLog: true });
    const got = await engine.readF32(out);
    for (let i = 0; i < B * C; i++) {
      const b = Math.floor(i / C), c = i % C;
      let s = 0.25;
      for (let v = 0; v < V; v++) if (w[v] !== 0) s += w[v] * x[(b * V + v) * C + c];
      assert.ok(
        Math.abs(got[i] - Math.log(s)) < 2e-6 * Math.max(1, Math.abs(Math.log(s))),
        `${got[i]}`,
      );
    }
  }
});

/** A labels CSV of the first `per` CIFAR-10 test images of every class (absolute paths). */
function cifarSubset(dir: string, per: number): string {
  const data = fixture("data/cifar10-test");
  const rows = Deno.readTextFileSync(join(data, "labels.csv")).trim().split("\n").slice(1)
    .map((l) => l.split(","));
  const seen = new Map<string, number>();
  const lines = ["path,label"];
  for (const [path, label] of rows) {
    const n = seen.get(label) ?? 0;
    if (n < per) lines.push(`${join(data, path)},${label}`);
    seen.set(label, n + 1);
  }
  const csv = join(dir, `cifar-${per}.csv`);
  Deno.writeTextFileSync(csv, lines.join("\n") + "\n");
  return csv;
}

interface TtaMetrics {
  top1: number;
  log_loss: number;
  tta: {
    metrics: { top1: number; log_loss: number };
    flipped: { count: number; images: { path: string; after: number }[] };
  };
}

/** eval --tta MODE on `csv`; returns metrics.json and the per-image predictions without and with TTA. */
async function evalTta(dir: string, csv: string, mode: string, extra: string[] = []) {
  const out = join(dir, mode.replaceAll(",", "_"));
  const log = console.log;
  console.log = () => {};
  try {
    const code = await main([
      "eval",
      "--model",
      fixture(R20),
      "--data",
      csv,
      "--out",
      out,
      "--size",
      "36",
      "--crop",
      "32",
      "--interpolation",
      "bilinear",
      "--tta",
      mode,
      "--batch",
      "50",
      "--no-report",
      "--bootstrap",
      "0",
      "--workers",
      "0",
      ...extra,
    ]);
    assert.equal(code, 0);
  } finally {
    console.log = log;
  }
  const m = JSON.parse(Deno.readTextFileSync(join(out, "metrics.json"))) as TtaMetrics;
  const rows = Deno.readTextFileSync(join(out, "predictions.csv")).trim().split("\n").slice(1)
    .map((l) => l.split(","));
  const plain = new Map(rows.map((r) => [r[0], Number(r[2])]));
  const withTta = new Map(plain);
  for (const f of m.tta.flipped.images) withTta.set(f.path, f.after);
  return { metrics: m, plain, withTta };
}

function agreement(ours: Map<string, number>, paths: string[], ref: number[]): number {
  return paths.filter((p, i) => ours.get(p) === ref[i]).length / paths.length;
}

torchFixtureTest(
  "eval --tta: hflip, five-crop and ten-crop predictions agree with PyTorch",
  async () => {
    const dir = Deno.makeTempDirSync({ prefix: "visioneval_tta_" });
    const csv = cifarSubset(dir, 8); // 80 images
    type Ref = {
      paths: string[];
      modes: Record<string, { probs: number[]; logits: number[]; nll: number }>;
    };
    const ref = torchRef(fixture(R20), csv, "36", "32") as Ref;
    for (const mode of ["hflip", "five-crop", "ten-crop"]) {
      const { metrics, plain, withTta } = await evalTta(dir, csv, mode);
      assert.equal(agreement(plain, ref.paths, ref.modes.plain.probs), 1, `${mode}: plain view`);
      const a = agreement(withTta, ref.paths, ref.modes[mode].probs);
      assert.ok(a >= 0.995, `${mode}: ${a} of the TTA predictions agree with PyTorch`);
      // PyTorch clamps at 1e-15, we clip at 2.2e-16 as scikit-learn: equal unless p < 1e-15.
      assert.ok(Math.abs(metrics.tta.metrics.log_loss - ref.modes[mode].nll) < 1e-4, mode);
      assert.ok(Math.abs(metrics.log_loss - ref.modes.plain.nll) < 1e-4, `${mode} plain log loss`);
    }
    const logits = await evalTta(dir, csv, "five-crop", ["--tta-mean", "logits"]);
    assert.ok(agreement(logits.withTta, ref.paths, ref.modes["five-crop"].logits) >= 0.995);
    // The plain view is the run without TTA: same predictions and metrics.
    const out = join(dir, "plain");
    const log = console.log;
    console.log = () => {};
    await main([
      "eval",
      "--model",
      fixture(R20),
      "--data",
      csv,
      "--out",
      out,
      "--size",
      "36",
      "--crop",
      "32",
      "--interpolation",
      "bilinear",
      "--batch",
      "50",
      "--no-report",
      "--bootstrap",
      "0",
      "--workers",
      "0",
    ]).finally(() => (console.log = log));
    const plainRun = JSON.parse(Deno.readTextFileSync(join(out, "metrics.json")));
    assert.equal(plainRun.top1, logits.metrics.top1);
    assert.ok(Math.abs(plainRun.log_loss - logits.metrics.log_loss) < 1e-6);
    Deno.removeSync(dir, { recursive: true });
  },
);

Deno.test("tta: the report's section shows without/with and the flipped images, fixed first", async () => {
  const { sampleReport } = await import("./_report_sample.ts");
  const { renderHtmlReport } = await import("../src/report/html.ts");
  const { orderFlips } = await import("../src/report/tta_section.ts");
  const base = sampleReport();
  const tta = {
    spec: "hflip (mean of softmax probabilities)",
    views: 2,
    changes: {
      top1: { without: 0.8, with: 0.825, delta: 0.025 },
      ece: { without: 0.1, with: 0.12, delta: 0.02 },
    },
    flipped: { count: 2, fixed: 1, broken: 1 },
  };
  const flips = orderFlips([
    { path: "b.jpg", label: 1, before: 1, after: 2, confidence_before: 0.6, confidence_after: 0.5 },
    { path: "a.jpg", label: 0, before: 2, after: 0, confidence_before: 0.7, confidence_after: 0.8 },
  ]);
  assert.deepEqual(flips.map((f) => f.path), ["a.jpg", "b.jpg"]);
  const html = renderHtmlReport({ ...base, metrics: { ...base.metrics, tta }, ttaFlips: flips });
  assert.match(html, /<h2>Test-time augmentation<\/h2>/);
  assert.match(
    html,
    /<td>top1<\/td><td>0\.8000<\/td><td>0\.8250<\/td><td>\+0\.0250<\/td><td>better<\/td>/,
  );
  assert.match(html, /<td>ece<\/td>.*?<td>worse<\/td>/);
  assert.match(html, /2 predictions changed: 1 became right, 1 became wrong/);
  assert.ok(html.indexOf("a.jpg") < html.indexOf("b.jpg"));
  // The tta block is shown in its section, not dumped into the run metadata.
  assert.doesNotMatch(html, /<td>tta\.spec<\/td>/);
});
