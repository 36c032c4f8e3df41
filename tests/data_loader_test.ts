/**
 * Loader tests: worker batches equal in-process ones and the fixture
 * reference tensors; failures are skipped, counted and listed with reasons
 * (also when a whole batch fails); CIFAR records go through workers;
 * the prefetch window bounds work in flight; progress display formats.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { openDataset } from "../src/data/datasets.ts";
import { type Batch, loadBatches, LoaderPool } from "../src/data/loader.ts";
import { preprocessConfigFromModelDir } from "../src/data/preprocess.ts";
import { ProgressDisplay } from "../src/data/progress.ts";
import { DataError } from "../src/errors.ts";
import { SafetensorsFile } from "../src/weights/safetensors.ts";
import { fixture, fixtureTest, FULL } from "./_helpers.ts";

const timmCfg = () => preprocessConfigFromModelDir(fixture("models", "vit-tiny-in1k", "timm"));

async function collect(it: AsyncIterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

// Each Worker start is type-checked under `deno test` (seconds on a busy
// 2-core machine; ~0.3 s under `deno run`), so one test exercises the
// worker path end to end and the rest run in-process (workers: 0), which
// shares every line of the per-batch code (prepare.ts).
fixtureTest(
  "loader: workers match in-process and the references; failures; prefetch bound",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "visioneval-loader-" });
    try {
      const sample = openDataset(fixture("data", "imagenet-sample"), { limit: 9 });
      for (const it of sample.items) {
        await Deno.copyFile(it.path, join(dir, it.path.split("/").pop()!));
      }
      const good = await Deno.readFile(sample.items[0].path);
      await Deno.writeFile(join(dir, "n01_truncated.jpg"), good.slice(0, 3000));
      await Deno.writeFile(join(dir, "n02_text.jpg"), new TextEncoder().encode("not an image"));
      const ds = openDataset(dir);
      assert.equal(ds.items.length, 11);
      const cfg = timmCfg();
      let maxAhead = 0;
      let consumed = 0;
      const viaWorkers: Batch[] = [];
      const pool = new LoaderPool(2);
      for await (
        const b of loadBatches(ds.items, {
          preprocess: cfg,
          batchSize: 2,
          pool,
          prefetch: 2,
          // Batches prepared beyond the ones handed out never exceed the window.
          onProgress: (p) => (maxAhead = Math.max(maxAhead, Math.ceil(p.done / 2) - consumed)),
        })
      ) {
        viaWorkers.push(b);
        consumed++;
        if (consumed === 4) break; // early stop with a batch still in flight
      }
      assert.ok(maxAhead <= 2, `prepared ${maxAhead} batches ahead with prefetch 2`);
      // The same workers serve a new loader once the abandoned work is done.
      try {
        const again = await collect(loadBatches(ds.items, { preprocess: cfg, batchSize: 4, pool }));
        assert.equal(again.reduce((s, b) => s + b.shape[0], 0), 9);
      } finally {
        pool.close();
      }
      await assert.rejects(pool.whenIdle(), /closed/);
      const inProcess = await collect(
        loadBatches(ds.items, { preprocess: cfg, batchSize: 2, workers: 0 }),
      );
      assert.deepEqual(
        inProcess.map((b) => b.shape[0]),
        [2, 2, 2, 2, 1, 0].slice(0, inProcess.length),
      );
      for (let i = 0; i < viaWorkers.length; i++) {
        assert.deepEqual(viaWorkers[i].shape, inProcess[i].shape);
        assert.deepEqual(viaWorkers[i].items, inProcess[i].items);
        assert.deepEqual(viaWorkers[i].failed, inProcess[i].failed);
        assert.deepEqual(viaWorkers[i].pixels, inProcess[i].pixels, `batch ${i}`);
      }
      const failed = inProcess.flatMap((b) => b.failed);
      assert.deepEqual(failed.map((f) => f.path.slice(dir.length + 1)), [
        "n01_truncated.jpg",
        "n02_text.jpg",
      ]);
      assert.match(failed[0].reason, /truncated JPEG/);
      assert.match(failed[1].reason, /not an image/);
      // The hammerhead image equals the fixture's timm tensor exactly.
      const ref = await SafetensorsFile.open(
        fixture("reference", "preprocess", "n01494475_hammerhead.safetensors"),
      );
      const want = await ref.readF32("timm");
      ref.close();
      const per = 3 * 224 * 224;
      const all = viaWorkers.flatMap((b) =>
        b.items.map((it, i) => ({ it, px: b.pixels.subarray(i * per, (i + 1) * per) }))
      );
      const hammer = all.find((x) => x.it.path.endsWith("n01494475_hammerhead.JPEG"))!;
      assert.deepEqual(hammer.px, want);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

fixtureTest("loader: a batch that fails entirely travels with the next; labels kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "visioneval-loader-" });
  try {
    const good = await Deno.readFile(fixture("data", "imagenet-sample", "n01440764_tench.JPEG"));
    const files: [string, Uint8Array][] = [
      ["00_good.jpg", good],
      ["01_truncated.jpg", good.slice(0, 3000)],
      ["02_text.jpg", new TextEncoder().encode("not an image")],
      ["03_empty.png", new Uint8Array(0)],
      ["04_good.jpg", good],
      ["05_webp.webp", new TextEncoder().encode("RIFF\0\0\0\0WEBPVP8 ")],
    ];
    for (const [n, b] of files) await Deno.writeFile(join(dir, n), b);
    const ds = openDataset(dir);
    const items = ds.items.map((it, i) => ({ ...it, label: i * 10 }));
    const cfg = timmCfg();
    const progress: number[] = [];
    const batches = await collect(
      loadBatches(items, {
        preprocess: cfg,
        batchSize: 2,
        workers: 0,
        onProgress: (p) => progress.push(p.done, p.failed),
      }),
    );
    // Batch [02, 03] fails entirely: its failures come with the next batch.
    assert.deepEqual(batches.map((b) => b.shape[0]), [1, 1]);
    assert.deepEqual(batches.map((b) => b.items), [
      [{ path: join(dir, "00_good.jpg"), label: 0 }],
      [{ path: join(dir, "04_good.jpg"), label: 40 }],
    ]);
    assert.deepEqual(batches.map((b) => b.failed.length), [1, 3]);
    assert.deepEqual(progress, [2, 1, 6, 4]);
    const failed = batches.flatMap((b) => b.failed);
    assert.match(failed[2].reason, /empty file/);
    assert.match(failed[3].reason, /corrupt or truncated WebP/);
    assert.deepEqual(batches[0].pixels, batches[1].pixels);
    // Everything failing still reports: one empty final batch.
    const bad = items.filter((i) => !i.path.includes("good"));
    const only = await collect(loadBatches(bad, { preprocess: cfg, batchSize: 3, workers: 0 }));
    assert.equal(only.length, 1);
    assert.equal(only[0].shape[0], 0);
    assert.equal(only[0].failed.length, 4);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

fixtureTest("loader: CIFAR records through a 1-worker pool the loader owns", async () => {
  const dir = await Deno.makeTempDir({ prefix: "visioneval-cifar-" });
  try {
    const n = 10, row = 3073;
    const bytes = new Uint8Array(n * row);
    for (let r = 0; r < n; r++) {
      bytes[r * row] = r % 10;
      for (let i = 0; i < 3072; i++) bytes[r * row + 1 + i] = (r * 31 + i) & 255;
    }
    await Deno.writeFile(join(dir, "test_batch.bin"), bytes);
    const ds = openDataset(dir);
    const cfg = preprocessConfigFromModelDir(fixture("models", "resnet-cifar10", "resnet20"));
    const batches = await collect(
      loadBatches(ds.items, { preprocess: cfg, batchSize: 4, workers: 1 }),
    );
    assert.deepEqual(batches.map((b) => b.shape[0]), [4, 4, 2]);
    // Record 5, channel G (plane 1), pixel (y=2, x=3): x/255 then ImageNet normalisation.
    const v = (5 * 31 + 1024 + 2 * 32 + 3) & 255;
    const f = Math.fround;
    const want = f(f(f(v / 255) - f(0.456)) / f(0.224));
    assert.equal(batches[1].pixels[1 * 3072 + 1024 + 2 * 32 + 3], want);
    assert.deepEqual(batches[1].items[1], { path: `${dir}/test_batch.bin#5`, label: 5 });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  // A pipeline without a fixed output size cannot be batched.
  const cfg = { ...timmCfg(), crop: null };
  await assert.rejects(
    collect(loadBatches([{ path: "x.jpg" }], { preprocess: cfg, batchSize: 1, workers: 0 })),
    (e: unknown) => e instanceof DataError && /no fixed output size/.test(e.message),
  );
});

Deno.test("progress: single rewritten line on a terminal, periodic lines otherwise", () => {
  let t = 0;
  let out = "";
  const tty = new ProgressDisplay({
    total: 100,
    label: "eval",
    tty: true,
    write: (s) => (out += s),
    now: () => t,
  });
  t = 2000;
  tty.update(50, 1);
  assert.equal(out, "\r\x1b[2Keval 50/100 (50.0%) | 25.0 img/s | ETA 0:02 | 1 failed");
  t = 2050;
  tty.update(51, 1); // throttled
  assert.equal(out.split("\r").length, 2);
  t = 4000;
  tty.update(100, 2);
  tty.finish();
  assert.ok(out.endsWith("eval 100/100 (100.0%) | 25.0 img/s | took 0:04 | 2 failed\n"));

  let log = "";
  t = 0;
  const plain = new ProgressDisplay({
    total: 1000,
    tty: false,
    intervalMs: 10_000,
    write: (s) => (log += s),
    now: () => t,
  });
  for (let i = 1; i <= 30; i++) {
    t = i * 1000;
    plain.update(i * 10, 0);
  }
  plain.finish();
  const lines = log.trim().split("\n");
  assert.equal(lines.length, 4, log); // t = 1 s, 11 s, 21 s, final
  assert.ok(!log.includes("\r"));
  assert.match(lines[3], /images 300\/1000 \(30\.0%\) \| 10\.0 img\/s \| took 0:30 \| 0 failed/);
});

Deno.test({
  name: "loader (FULL): all 500 ImageNet sample JPEGs load; exactly the 9 grayscale ones are gray",
  ignore: !FULL,
  fn: async () => {
    const ds = openDataset(fixture("data", "imagenet-sample"));
    const cfg = timmCfg(); // mean = std = 0.5 on every channel: gray stays gray
    const plane = 224 * 224;
    const gray: string[] = [];
    let n = 0;
    const t = performance.now();
    for await (const b of loadBatches(ds.items, { preprocess: cfg, batchSize: 32, workers: 2 })) {
      assert.deepEqual(b.failed, []);
      b.items.forEach((it, i) => {
        const px = b.pixels.subarray(i * 3 * plane, (i + 1) * 3 * plane);
        let same = true;
        for (let j = 0; j < plane && same; j++) {
          same = px[j] === px[plane + j] && px[j] === px[2 * plane + j];
        }
        if (same) gray.push(it.path.split("/").pop()!.replace(/^n\d+_|\.JPEG$/g, ""));
      });
      n += b.shape[0];
    }
    console.log(`  500 images in ${((performance.now() - t) / 1000).toFixed(1)} s (2 workers)`);
    assert.equal(n, 500);
    assert.deepEqual(gray.sort(), [
      "acoustic_guitar",
      "beaker",
      "fountain",
      "lumbermill",
      "pencil_sharpener",
      "projectile",
      "rifle",
      "switch",
      "viaduct",
    ]);
  },
});
