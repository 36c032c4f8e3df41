/**
 * What a user sees when there is no GPU, and when the device is lost: a
 * typed error with a message that says what to do, never a hang.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { requestGpu } from "../src/gpu/device.ts";
import { GpuUnavailableError } from "../src/errors.ts";

Deno.test("no navigator.gpu: GpuUnavailableError says how to get an adapter", async () => {
  await assert.rejects(() => requestGpu(undefined), (e: Error) => {
    assert.ok(e instanceof GpuUnavailableError);
    assert.match(e.message, /mesa-vulkan-drivers/);
    return true;
  });
});

Deno.test("no adapter: GpuUnavailableError says how to get one", async () => {
  const noAdapter = { requestAdapter: () => Promise.resolve(null) } as unknown as GPU;
  await assert.rejects(() => requestGpu(noAdapter), (e: Error) => {
    assert.ok(e instanceof GpuUnavailableError);
    assert.match(e.message, /No WebGPU adapter/);
    assert.match(e.message, /lavapipe/);
    return true;
  });
});

Deno.test("device lost mid-run: the pending readback fails with the op's name", async () => {
  // In a child process, so the destroyed device cannot affect other tests.
  const script = `
    import { Engine } from "${new URL("../src/gpu/engine.ts", import.meta.url).href}";
    import { elementwise } from "${new URL("../src/ops/elementwise.ts", import.meta.url).href}";
    const engine = await Engine.create();
    const t = engine.upload(new Float32Array(1 << 16).fill(1), [1 << 16]);
    const out = elementwise(engine, "relu", t);
    const pending = engine.readF32(out);
    engine.gpu.device.destroy();
    try { await pending; console.log("RESOLVED"); }
    catch (e) { console.log("REJECTED " + e.name + ": " + e.message); }
    // later work on the lost device fails the same typed way, at once
    try { elementwise(engine, "relu", t); console.log("RECORDED"); }
    catch (e) { console.log("LATER " + e.name); }
  `;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, script);
  const deno = Deno.execPath();
  const child = new Deno.Command(deno, {
    args: ["run", "-A", "--no-check", file],
    cwd: fileURLToPath(new URL("..", import.meta.url)),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill(), 60_000);
  const { stdout, code } = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(stdout);
  assert.equal(code, 0, "the child must finish by itself, not hang");
  assert.match(text, /REJECTED GpuDeviceLostError: .*lost while running "elementwise"/);
  assert.match(text, /LATER GpuDeviceLostError/);
});
