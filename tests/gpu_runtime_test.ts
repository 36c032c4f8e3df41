import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { splitGrid } from "../src/gpu/kernel.ts";
import { elementwise } from "../src/ops/elementwise.ts";
import { GpuLimitError } from "../src/errors.ts";
import { GpuError } from "../src/gpu/device.ts";
import { gemm, type GemmA, PackedMatrix } from "../src/ops/gemm.ts";

Deno.test("splitGrid keeps each dimension within the limit", () => {
  assert.deepEqual(splitGrid(10, 65535), [10, 1]);
  const [x, y] = splitGrid(200_000, 65535);
  assert(x <= 65535 && y <= 65535 && x * y >= 200_000);
  assert.throws(() => splitGrid(65536 * 65536, 65535), RangeError);
});

Deno.test("engine: elementwise ops, one readback of several tensors", async () => {
  const engine = await Engine.create();
  const n = 1000;
  const a = Float32Array.from({ length: n }, (_, i) => i - 500);
  const b = Float32Array.from({ length: n }, (_, i) => (i % 7) - 3);
  const ta = engine.upload(a, [n]), tb = engine.upload(b, [n]);
  const sum = elementwise(engine, "add", ta, tb);
  const relu = elementwise(engine, "relu", ta);
  const aff = elementwise(engine, "affine", ta, ta, 0.5, 2);
  const [s, r, f] = await engine.read(sum, relu, aff);
  for (let i = 0; i < n; i++) {
    assert.deepEqual(s[i], a[i] + b[i]);
    assert.deepEqual(r[i], Math.max(0, a[i]));
    assert.deepEqual(f[i], a[i] * 0.5 + 2);
  }
});

Deno.test("engine: a 1-D grid beyond maxComputeWorkgroupsPerDimension is split", async () => {
  const engine = await Engine.create();
  // 65535 * 256 + 1000 elements need more than 65535 workgroups of 256.
  const n = 65535 * 256 + 1000;
  const a = new Float32Array(n).fill(1.5);
  const ta = engine.upload(a, [n]);
  const out = elementwise(engine, "add", ta, ta);
  const r = await engine.readF32(out);
  assert.deepEqual(r[0], 3);
  assert.deepEqual(r[n - 1], 3);
  assert.deepEqual(r.every((v) => v === 3), true);
});

Deno.test("engine: pool reuses released buffers", async () => {
  const engine = await Engine.create();
  const t = engine.empty([1024]);
  const buf = t.buffer;
  t.release();
  const u = engine.empty([1000]);
  assert.deepEqual(u.buffer, buf);
  await engine.sync();
});

Deno.test("engine: binding above the storage limit is an explicit error", async () => {
  const engine = await Engine.create();
  const limit = engine.gpu.limits.maxStorageBufferBindingSize;
  const max = engine.gpu.limits.maxBufferSize;
  if (limit + 4 > max) return; // adapter with equal limits: nothing to test
  const n = limit / 4 + 16;
  const big = engine.empty([n], "f32", "huge-activation");
  assert.throws(() => elementwise(engine, "relu", big), (e: Error) => {
    assert(e instanceof GpuLimitError);
    assert(e.message.includes("huge-activation") && e.message.includes("--batch"));
    return true;
  });
  big.release();
  engine.pool.trim();
});

Deno.test("engine: use after release is caught", async () => {
  const engine = await Engine.create();
  const t = engine.upload(new Float32Array(4), [4]);
  t.release();
  assert.throws(() => elementwise(engine, "relu", t), /after release/);
});

Deno.test("engine: timestamp profiling records kernel times", async () => {
  const engine = await Engine.create({ profile: true });
  if (!engine.profiling) return; // adapter without timestamp-query
  const t = engine.upload(new Float32Array(4096).fill(1), [4096]);
  elementwise(engine, "add", t, t);
  elementwise(engine, "relu", t);
  await engine.sync();
  const prof = await engine.profile();
  const ew = prof.find((p) => p.name === "elementwise");
  assert(ew && ew.calls === 2 && ew.ms >= 0);
});

Deno.test("engine: an invalid shader fails the next read instead of returning garbage", async () => {
  const engine = await Engine.create();
  const t = engine.upload(new Float32Array(4), [4]);
  engine.run(
    { name: "broken-kernel", code: "@compute @workgroup_size(1) fn main() { let x: u32 = 1.5; }" },
    [],
    1,
  );
  await assert.rejects(() => engine.readF32(t), (e: Error) => {
    assert.ok(e instanceof GpuError, String(e));
    assert.match(e.message, /broken-kernel/);
    return true;
  });
  // the error is reported once; the engine keeps working afterwards
  const ok = elementwise(engine, "relu", t);
  assert.deepEqual(Array.from(await engine.readF32(ok)), [0, 0, 0, 0]);
});

Deno.test("engine: an upload into a recycled buffer waits for the recorded commands", async () => {
  const engine = await Engine.create();
  const a = engine.upload(Float32Array.from([1, 2, 3, 4]), [4]);
  const tmp = elementwise(engine, "add", a, a); // recorded, not submitted: [2, 4, 6, 8]
  const sum = elementwise(engine, "add", tmp, a); // reads tmp: [3, 6, 9, 12]
  tmp.release();
  // Reuses tmp's buffer while the commands that write and read it are still unsubmitted.
  const b = engine.upload(Float32Array.from([10, 20, 30, 40]), [4]);
  assert.equal(b.buffer, tmp.buffer);
  const out = elementwise(engine, "add", sum, b);
  assert.deepEqual(Array.from(await engine.readF32(out)), [13, 26, 39, 52]);
});

Deno.test("engine: textures are pooled by size, limit-checked and not bound after release", async () => {
  const engine = await Engine.create();
  const maxSide = engine.gpu.limits.maxTextureDimension2D;
  const maxLayers = engine.gpu.limits.maxTextureArrayLayers;
  assert.ok(engine.textureFits(16, 64, 3));
  assert.ok(!engine.textureFits(maxSide + 1, 1));
  assert.ok(!engine.textureFits(16, 16, maxLayers + 1));
  assert.throws(
    () => engine.emptyTexture(16, 16, maxLayers + 1, { arrayed: true, label: "panels" }),
    (e: Error) => e instanceof GpuLimitError && /panels.*exceeds/.test(e.message),
  );
  const before = engine.texturePool.allocatedBytes;
  const a = engine.emptyTexture(16, 8, 2, { arrayed: true });
  assert.deepEqual([a.width, a.height, a.layers], [16, 8, 2]);
  assert.equal(engine.texturePool.allocatedBytes - before, 16 * 8 * 2 * 16);
  const raw = a.texture;
  a.release();
  const b = engine.emptyTexture(16, 8, 2, { arrayed: true });
  assert.equal(b.texture, raw, "a released texture of the same size is reused");
  b.release();
  // A GEMM reading a released texture, or mixing a texture with a buffer, is
  // refused before anything is recorded.
  const panels = engine.emptyTexture(16, 4, 1, { arrayed: true });
  const out = engine.empty([8, 64]);
  const gemmWithA = (a: GemmA) =>
    gemm(engine, a, new PackedMatrix(panels, 4, 64, 1), 1, { t: out, batchStride: 0 });
  const wt = engine.emptyTexture(1, 8, 1);
  wt.release();
  assert.throws(() => gemmWithA({ t: wt, m: 8, batchStride: 0, rowStride: 1 }), /after release/);
  const aBuf = engine.upload(new Float32Array(32), [8, 4]);
  assert.throws(
    () => gemmWithA({ t: aBuf, m: 8, batchStride: 0, rowStride: 4 }),
    /both be textures or both buffers/,
  );
});
