/**
 * Kernel path choice (software vs GPU-class kernels) and the autotuner of
 * the GPU path's GEMM tilings: heuristics, timing, the per-adapter cache file.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Engine } from "../src/gpu/engine.ts";
import { adapterKey, Autotuner, type TuneJob, tunerFor } from "../src/gpu/autotune.ts";
import {
  maxAbsDiff,
  randomFill,
  randomFillTexture,
  readDifference,
} from "../src/gpu/output_check.ts";
import { conv2d, uploadConvWeight } from "../src/ops/conv2d.ts";
import { elementwise } from "../src/ops/elementwise.ts";
import { chooseKernelPath, isSoftwareAdapter, setKernelDefaults } from "../src/gpu/kernel_path.ts";
import type { AdapterDescription } from "../src/gpu/device.ts";
import { UsageError } from "../src/errors.ts";
import { defaultGemmTiling, GEMM_TILINGS, linear } from "../src/ops/gemm.ts";
import { assertRelClose, randomF32 } from "./_helpers.ts";

function adapter(description: string, isFallbackAdapter = false): AdapterDescription {
  return { description, vendor: "", architecture: "", device: "", isFallbackAdapter };
}

const H100 = adapter("NVIDIA H100 80GB HBM3");
const LAVAPIPE = adapter("llvmpipe (LLVM 15.0.6, 256 bits)");

/** Runs `fn` with environment variables set, then restores them. */
function withEnv(vars: Record<string, string>, fn: () => void): void {
  const saved = Object.keys(vars).map((k) => [k, Deno.env.get(k)] as const);
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  try {
    fn();
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
}

Deno.test("software adapters are recognized by flag or by name", () => {
  assert.equal(isSoftwareAdapter(LAVAPIPE), true);
  assert.equal(isSoftwareAdapter(adapter("SwiftShader Device (Subzero)")), true);
  assert.equal(isSoftwareAdapter(adapter("Microsoft Basic Render Driver")), true);
  assert.equal(isSoftwareAdapter(adapter("some GPU", true)), true);
  assert.equal(isSoftwareAdapter(H100), false);
  assert.equal(isSoftwareAdapter(adapter("Apple M2 Pro")), false);
});

Deno.test("the kernel path follows the adapter unless forced", () => {
  withEnv({ VISIONEVAL_KERNELS: "auto", VISIONEVAL_AUTOTUNE: "1" }, () => {
    assert.deepEqual(chooseKernelPath(LAVAPIPE).name, "software");
    assert.equal(chooseKernelPath(LAVAPIPE).autotune, false);
    assert.deepEqual(chooseKernelPath(H100), {
      name: "gpu",
      reason: "hardware adapter",
      autotune: true,
    });
    assert.equal(chooseKernelPath(H100, { kernels: "software" }).name, "software");
    assert.equal(chooseKernelPath(LAVAPIPE, { kernels: "gpu" }).name, "gpu");
    assert.equal(chooseKernelPath(H100, { autotune: false }).autotune, false);
  });
  withEnv({ VISIONEVAL_KERNELS: "gpu", VISIONEVAL_AUTOTUNE: "0" }, () => {
    const p = chooseKernelPath(LAVAPIPE);
    assert.equal(p.name, "gpu");
    assert.match(p.reason, /VISIONEVAL_KERNELS/);
    assert.equal(p.autotune, false);
  });
  withEnv({ VISIONEVAL_KERNELS: "fast" }, () => {
    assert.throws(() => chooseKernelPath(H100), (e) => {
      assert.ok(e instanceof UsageError);
      assert.match((e as Error).message, /VISIONEVAL_KERNELS must be "software", "gpu" or "auto"/);
      return true;
    });
  });
  setKernelDefaults({ kernels: "software", autotune: false });
  try {
    withEnv({ VISIONEVAL_KERNELS: "gpu" }, () => {
      const p = chooseKernelPath(H100);
      assert.equal(p.name, "software");
      assert.match(p.reason, /--kernels/);
    });
  } finally {
    setKernelDefaults({});
  }
});

Deno.test("default GEMM tiling: large tiles for large products, small ones otherwise", () => {
  assert.equal(defaultGemmTiling(4096, 4096, 1), "128x128");
  assert.equal(defaultGemmTiling(768, 3136 * 8, 1), "128x128"); // a ResNet-50 stage-1 conv, batch 8
  assert.equal(defaultGemmTiling(197, 768, 1), "32x64");
  assert.equal(defaultGemmTiling(1, 1, 1), "32x64");
  for (const name of ["128x128", "64x128", "64x64", "32x64"]) assert.ok(GEMM_TILINGS[name]);
});

Deno.test("autotune checks and times every tiling once per shape, caches the winner per adapter", async () => {
  const dir = await Deno.makeTempDir({ prefix: "visioneval-tune-" });
  try {
    const file = join(dir, "kernel_tilings.json");
    const [m, n, k] = [45, 70, 20];
    const x = randomF32(m * k, 1), w = randomF32(n * k, 2);
    const probe = await Engine.create({ kernels: "software" });
    const key = adapterKey(probe.gpu.info);

    const tuner = new Autotuner(key, file, true);
    const engine = await Engine.create({ kernels: "gpu", autotune: true, tuner });
    const run = async () => {
      const y = linear(engine, engine.upload(x, [m, k]), engine.upload(w, [n, k]));
      return await engine.readF32(y);
    };
    const before = await run();
    assert.equal(tuner.pending, 1);
    // Before it is checked, a new shape runs the reference: the software kernel.
    assert.equal(tuner.inUse().get(`gemm m=${m} n=${n} k=${k} z=1`), "software");
    const results = await engine.tuneKernels();
    assert.equal(results.length, 1);
    const [r] = results;
    assert.equal(r.key, `gemm m=${m} n=${n} k=${k} z=1`);
    assert.deepEqual(Object.keys(r.ms).sort(), Object.keys(GEMM_TILINGS).sort());
    assert.deepEqual(r.rejected, {}); // every tiling computes the software kernel's product
    for (const ms of Object.values(r.ms)) assert.ok(ms > 0 && Number.isFinite(ms));
    assert.equal(r.ms[r.tiling], Math.min(...Object.values(r.ms)));
    assert.equal(tuner.inUse().get(r.key), r.tiling);
    assert.equal(tuner.pending, 0);
    assert.deepEqual(await engine.tuneKernels(), []); // nothing left to tune

    // The tuned tiling gives the same product.
    assertRelClose(await run(), before, 1e-6, "after tuning");

    // A later process on this adapter starts with the winner, queues nothing.
    const saved = JSON.parse(await Deno.readTextFile(file));
    assert.equal(saved.adapters[key][r.key].tiling, r.tiling);
    const next = new Autotuner(key, file, true);
    assert.equal(
      next.pick(r.key, Object.keys(GEMM_TILINGS), "32x64", () => {
        throw new Error("a cached shape must not be queued");
      }),
      r.tiling,
    );
    assert.equal(next.pending, 0);
    // Another adapter does not see it.
    assert.deepEqual(new Autotuner("other adapter", file, true).cached(), {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a corrupt or unwritable tiling cache costs tuning, not the run", async () => {
  const dir = await Deno.makeTempDir({ prefix: "visioneval-tune-" });
  try {
    const file = join(dir, "kernel_tilings.json");
    await Deno.writeTextFile(file, "{ not json");
    assert.deepEqual(new Autotuner("a", file, true).cached(), {});
    // A cache path under a regular file cannot be created: tuning still returns its result.
    const tuner = new Autotuner("a", join(file, "sub", "kernel_tilings.json"), true);
    const engine = await Engine.create({ kernels: "gpu", autotune: true, tuner });
    linear(
      engine,
      engine.upload(randomF32(12, 3), [3, 4]),
      engine.upload(randomF32(20, 4), [5, 4]),
    );
    const errors: string[] = [];
    const original = console.error;
    console.error = (msg: string) => errors.push(msg);
    try {
      assert.equal((await engine.tuneKernels()).length, 1);
    } finally {
      console.error = original;
    }
    assert.equal(errors.length, 1);
    assert.match(errors[0], /could not write the kernel tiling cache .*VISIONEVAL_CACHE_DIR/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs the CLI in a child process; returns exit code, stdout and stderr. */
async function cli(args: string[], env: Record<string, string> = {}) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-check", "cli.ts", ...args],
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, out: text.decode(stdout), err: text.decode(stderr) };
}

Deno.test("CLI: --kernels forces the path `info` reports; a bad value is a usage error", async () => {
  const dir = await Deno.makeTempDir({ prefix: "visioneval-cli-" });
  try {
    const env = { VISIONEVAL_CACHE_DIR: dir };
    const forced = await cli(["info", "--json", "--kernels", "gpu", "--no-autotune"], env);
    assert.equal(forced.code, 0, forced.err);
    const k = JSON.parse(forced.out).kernels;
    assert.equal(k.path, "gpu");
    assert.equal(k.autotune, false);
    assert.deepEqual(k.gemm_tilings, Object.keys(GEMM_TILINGS));
    assert.equal(k.tiling_cache, join(dir, "kernel_tilings.json"));
    const bad = await cli(["--kernels=fast", "info"], env);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--kernels must be "software", "gpu" or "auto", got "fast"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A tuning job over a copy kernel: candidate "same" copies the input (as
 * the reference does), "scaled" multiplies it by 1.001, "nan" writes NaN,
 * "invalid" is WGSL that does not compile.
 */
function copyJob(key: string, n: number): TuneJob {
  const scale: Record<string, number> = { reference: 1, same: 1, scaled: 1.001, nan: NaN };
  return {
    key,
    candidates: ["same", "scaled", "nan", "invalid"],
    reference: "reference",
    prepare(engine) {
      const x = randomFill(engine, engine.empty([n], "f32", "x"), 7);
      const y = engine.empty([n], "f32", "y");
      return {
        record(on, tiling) {
          if (tiling === "invalid") {
            on.run({ name: "invalid", code: "fn main( { this is not WGSL" }, [x, y], 1);
          } else {
            elementwise(on, "affine", x, x, scale[tiling], 0, y);
          }
          return y;
        },
        release() {
          x.release();
          y.release();
        },
      };
    },
  };
}

Deno.test("autotune rejects candidates that compute something else or do not compile", async () => {
  const dir = await Deno.makeTempDir({ prefix: "visioneval-tune-" });
  const errors: string[] = [];
  const original = console.error;
  console.error = (msg: string) => errors.push(msg);
  try {
    const file = join(dir, "kernel_tilings.json");
    const tuner = new Autotuner("adapter", file, true);
    const engine = await Engine.create({ kernels: "gpu", tuner });
    const pick = () =>
      tuner.pick(
        "copy n=1000",
        ["same", "scaled", "nan", "invalid", "reference"],
        "scaled",
        () => copyJob("copy n=1000", 1000),
      );
    assert.equal(pick(), "reference"); // unchecked: the reference runs
    const [r] = await engine.tuneKernels();
    assert.equal(r.tiling, "same");
    assert.deepEqual(r.ms, {}); // one passed: nothing to time it against
    assert.deepEqual(Object.keys(r.rejected).sort(), ["invalid", "nan", "scaled"]);
    assert.match(
      r.rejected.scaled,
      /differs from the reference kernel's by 0\.000998 \(largest \|value\| 0\.998\)/,
    );
    assert.match(r.rejected.nan, /differs .* by Infinity/);
    assert.match(r.rejected.invalid, /does not compile or run here/);
    assert.equal(pick(), "same");
    // Said once, on stderr; the device is still healthy afterwards.
    assert.equal(errors.length, 1);
    assert.match(errors[0], /kernel check on this adapter: copy n=1000: rejected .*Using same/);
    const y = elementwise(
      engine,
      "affine",
      engine.upload(new Float32Array([2]), [1]),
      undefined,
      3,
    );
    assert.deepEqual([...await engine.readF32(y)], [6]);
    // The cache keeps the rejections beside the winner.
    const saved = JSON.parse(await Deno.readTextFile(file));
    assert.equal(saved.version, 2);
    assert.equal(saved.adapters.adapter["copy n=1000"].tiling, "same");
    assert.ok(saved.adapters.adapter["copy n=1000"].rejected.scaled);
  } finally {
    console.error = original;
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("autotune: when every candidate fails the reference is kept; without tuning only the heuristic is checked", async () => {
  const original = console.error;
  console.error = () => {};
  try {
    const failing = new Autotuner("adapter", undefined, true);
    const engine = await Engine.create({ kernels: "gpu", tuner: failing });
    const job = (): TuneJob => ({ ...copyJob("copy n=70", 70), candidates: ["scaled", "nan"] });
    failing.pick("copy n=70", ["scaled", "nan", "reference"], "scaled", job);
    const [r] = await engine.tuneKernels();
    assert.equal(r.tiling, "reference");
    assert.deepEqual(Object.keys(r.rejected).sort(), ["nan", "scaled"]);

    const fixed = new Autotuner("adapter", undefined, false);
    const engine2 = await Engine.create({ kernels: "gpu", tuner: fixed });
    assert.equal(
      fixed.pick(
        "copy n=70",
        ["same", "scaled", "reference"],
        "same",
        () => copyJob("copy n=70", 70),
      ),
      "reference",
    );
    const [f] = await engine2.tuneKernels();
    assert.equal(f.tiling, "same");
    assert.deepEqual(f.ms, {}); // checked, not timed
    assert.deepEqual(f.rejected, {});
  } finally {
    console.error = original;
  }
});

Deno.test("a version-1 tiling cache (unchecked winners) is ignored", async () => {
  const dir = await Deno.makeTempDir({ prefix: "visioneval-tune-" });
  try {
    const file = join(dir, "kernel_tilings.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        version: 1,
        adapters: { a: { "gemm m=1 n=1 k=1 z=1": { tiling: "64x64", ms: {} } } },
      }),
    );
    assert.deepEqual(new Autotuner("a", file, true).cached(), {});
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("random fill is reproducible and spread over [-1, 1); maxAbsDiff finds the largest difference", async () => {
  const engine = await Engine.create();
  const n = 100_003;
  const a = await engine.readF32(randomFill(engine, engine.empty([n]), 5));
  const again = await engine.readF32(randomFill(engine, engine.empty([n]), 5));
  const other = await engine.readF32(randomFill(engine, engine.empty([n]), 6));
  assert.deepEqual(a, again);
  assert.notDeepEqual(a, other);
  let min = Infinity, max = -Infinity, sum = 0;
  for (const v of a) {
    min = Math.min(min, v);
    max = Math.max(max, v);
    sum += v;
  }
  assert.ok(min >= -1 && min < -0.999 && max < 1 && max > 0.999, `range [${min}, ${max}]`);
  assert.ok(Math.abs(sum / n) < 0.01, `mean ${sum / n}`);

  const b = a.slice();
  b[77_777] += 0.25;
  const ta = engine.upload(a, [n]), tb = engine.upload(b, [n]);
  const d = await readDifference(engine, maxAbsDiff(engine, tb, ta));
  assert.equal(d.maxDiff, Math.fround(Math.fround(b[77_777]) - a[77_777]));
  assert.equal(d.maxRef, Math.max(...a.map(Math.abs)));
  b[5] = NaN;
  const tn = engine.upload(b, [n]);
  assert.equal((await readDifference(engine, maxAbsDiff(engine, tn, ta))).maxDiff, Infinity);
  b[5] = -Infinity;
  const ti = engine.upload(b, [n]);
  assert.equal((await readDifference(engine, maxAbsDiff(engine, ti, ta))).maxDiff, Infinity);
});

Deno.test("autotune checks a convolution's GEMM on its own operands: textures, f16 weight textures", async () => {
  const hasF16 = (await Engine.create()).gpu.hasF16;
  for (const weights of hasF16 ? ["f32", "f16"] as const : ["f32"] as const) {
    const tuner = new Autotuner(`conv check ${weights}`, undefined, true);
    const engine = await Engine.create({ kernels: "gpu", tuner, weights });
    const xs = [2, 6, 9, 9], ws = [16, 6, 3, 3];
    const w = uploadConvWeight(engine, randomF32(16 * 6 * 9, 41), ws);
    assert.ok(w.texture, "the GEMM convolution runs on textures here");
    const x = engine.upload(randomF32(2 * 6 * 81, 42), xs);
    const before = await engine.readF32(conv2d(engine, x, w, { padding: 1 }));
    const results = await engine.tuneKernels();
    assert.equal(results.length, 1);
    const [r] = results;
    assert.equal(r.key, `gemm m=16 n=162 k=56 z=1 tex${weights === "f16" ? " a=f16" : ""}`);
    assert.deepEqual(r.rejected, {}); // every tiling reads textures as the software kernel does
    assert.deepEqual(Object.keys(r.ms).sort(), Object.keys(GEMM_TILINGS).sort());
    const after = await engine.readF32(conv2d(engine, x, w, { padding: 1 }));
    assertRelClose(after, before, 1e-6, `conv after tuning (${weights} weights)`);
  }
});

Deno.test("random texture fill: reproducible, in [-1, 1), every layer and component", async () => {
  const engine = await Engine.create();
  const t = engine.emptyTexture(3, 5, 2, { arrayed: true, persistent: true, label: "t" });
  randomFillTexture(engine, t, 9);
  const read = async () => {
    // Copy out through a buffer: 256-byte rows (3 texels = 48 bytes, padded).
    const buf = engine.device.createBuffer({
      size: 256 * 5 * 2,
      usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
    });
    const enc = engine.device.createCommandEncoder();
    enc.copyTextureToBuffer({ texture: t.texture }, {
      buffer: buf,
      bytesPerRow: 256,
      rowsPerImage: 5,
    }, [
      3,
      5,
      2,
    ]);
    engine.submit();
    engine.device.queue.submit([enc.finish()]);
    await buf.mapAsync(GPUMapMode.READ);
    const all = new Float32Array(buf.getMappedRange().slice(0));
    buf.destroy();
    const values: number[] = [];
    for (let layer = 0; layer < 2; layer++) {
      for (let y = 0; y < 5; y++) {
        const row = (layer * 5 + y) * 64;
        values.push(...all.subarray(row, row + 12));
      }
    }
    return values;
  };
  const first = await read();
  assert.equal(first.length, 120);
  assert.ok(first.every((v) => v >= -1 && v < 1));
  assert.equal(new Set(first).size, 120, "every component differs");
  randomFillTexture(engine, t, 9);
  assert.deepEqual(await read(), first);
  t.release();
});

Deno.test("VISIONEVAL_TILING: a tiling or heuristic, unchecked; anything else is a usage error", () => {
  withEnv({ VISIONEVAL_TILING: "64x128" }, () => {
    const t = tunerFor(adapter("tiling env test A"), true);
    assert.equal(t.fixed, "64x128");
    assert.equal(
      t.pick("gemm k", ["64x128", "software"], "32x64", () => assert.fail("queued")),
      "64x128",
    );
  });
  withEnv({ VISIONEVAL_TILING: "heuristic" }, () => {
    const t = tunerFor(adapter("tiling env test B"), true);
    assert.equal(
      t.pick("gemm k", ["64x128", "32x64", "software"], "32x64", () => assert.fail("queued")),
      "32x64",
    );
  });
  withEnv({ VISIONEVAL_TILING: "fastest" }, () => {
    assert.throws(() => tunerFor(adapter("tiling env test C"), true), (e) => {
      assert.ok(e instanceof UsageError);
      assert.match((e as Error).message, /VISIONEVAL_TILING must be .* got "fastest"/);
      return true;
    });
  });
});
