/**
 * Opt-in side-by-side: visioneval vs onnxruntime-web's WebGPU execution
 * provider, same adapter, same process, same weights and inputs.
 *
 *   npm install onnxruntime-web@1.30.0 --prefix /tmp/ortpeer
 *   ORT_WEB_DIR=/tmp/ortpeer/node_modules/onnxruntime-web \
 *     deno run -A bench/peers/ort_vit.ts [--models tiny,base] [--batches 1,4]
 *
 * Each model is written as a timm-layout .safetensors file in a temporary
 * folder (ViT-Ti/16: the fixture's real weights when present; ViT-B/16:
 * random weights), exported to ONNX (opset 17) by bench/peers/export_vit_onnx.py
 * with Debian's python3-torch ($PYTHON, default /usr/bin/python3), then both
 * engines run warm-up passes and one timed pass per batch size (upload +
 * forward + logits readback). Prints images/s for both and the max logit
 * difference. Nothing is written into the repository.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { Engine } from "../../src/gpu/engine.ts";
import { ViTModel } from "../../src/models/vit/model.ts";
import { writeSafetensors } from "../../src/weights/safetensors.ts";
import { maxAbs, maxAbsDiff, randomF32 } from "../../tests/_helpers.ts";
import { synthTimmViT, VIT_BASE, VIT_TINY, type ViTSize } from "../../tests/_vit_synth.ts";
import { fromFileUrl } from "../../tests/_path.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    models: { type: "string", default: "tiny,base" },
    batches: { type: "string", default: "1,4" },
  },
});
const ortDir = Deno.env.get("ORT_WEB_DIR");
if (!ortDir) {
  console.error("Set ORT_WEB_DIR to an installed onnxruntime-web package (see the header).");
  Deno.exit(2);
}
// deno-lint-ignore no-explicit-any
const ort: any = await import(`file://${ortDir}/dist/ort.webgpu.min.mjs`);
ort.env.wasm.numThreads = 1;
ort.env.wasm.wasmPaths = `file://${ortDir}/dist/`;
ort.env.logLevel = "error";

const python = Deno.env.get("PYTHON") ?? "/usr/bin/python3";
const exporter = fromFileUrl(new URL("./export_vit_onnx.py", import.meta.url));
const fixtureTimm = fromFileUrl(
  new URL("../../../shared/fixtures/models/vit-tiny-in1k/timm/model.safetensors", import.meta.url),
);
const engine = await Engine.create();
const adapter = engine.gpu.info.description;
const batches = values.batches!.split(",").map(Number);
const tmp = await Deno.makeTempDir({ prefix: "ort-vit-" });
const lines: string[] = [];

async function timed<T>(f: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await f();
  return [r, (performance.now() - t0) / 1000];
}

try {
  for (const key of values.models!.split(",")) {
    const [name, size, eps]: [string, ViTSize, number] = key === "tiny"
      ? ["ViT-Ti/16", VIT_TINY, 1e-6]
      : ["ViT-B/16", VIT_BASE, 1e-6];
    const dir = join(tmp, key);
    await Deno.mkdir(dir);
    const weights = join(dir, "model.safetensors");
    const { tensors, config } = synthTimmViT(size, 11);
    let source = "random weights";
    if (key === "tiny" && (await Deno.stat(fixtureTimm).catch(() => undefined))) {
      await Deno.copyFile(fixtureTimm, weights);
      source = "fixture weights";
    } else {
      await writeSafetensors(weights, tensors);
    }
    await Deno.writeTextFile(join(dir, "config.json"), JSON.stringify(config));
    const onnx = join(dir, "model.onnx");
    const exp = await new Deno.Command(python, {
      args: [exporter, weights, onnx, String(size.heads), String(eps)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!exp.success) {
      throw new Error(`ONNX export failed: ${new TextDecoder().decode(exp.stderr)}`);
    }

    const model = await ViTModel.load(dir, engine);
    const session = await ort.InferenceSession.create(await Deno.readFile(onnx), {
      executionProviders: ["webgpu"],
    });
    const [H, W] = model.inputSize;
    for (const b of batches) {
      const px = randomF32(b * 3 * H * W, b, -1, 1);
      const ours = () =>
        timed(async () => {
          const x = engine.upload(px, [b, 3, H, W], "pixels");
          const { logits } = model.forward(engine, x);
          const l = await engine.readF32(logits);
          x.release();
          logits.release();
          return l;
        });
      const theirs = () =>
        timed(async () => {
          const r = await session.run({
            pixel_values: new ort.Tensor("float32", px, [b, 3, H, W]),
          });
          return r.logits.data as Float32Array;
        });
      await ours(); // warm-up: pipeline compilation
      await theirs();
      const [l1, s1] = await ours();
      const [l2, s2] = await theirs();
      lines.push(
        `${name} (${source}) batch ${b}: visioneval ${(b / s1).toFixed(3)} images/s, ` +
          `onnxruntime-web ${ort.env.versions.web} webgpu ${(b / s2).toFixed(3)} images/s ` +
          `(ratio ${(s2 / s1).toFixed(2)}x); max |logit diff| ${
            maxAbsDiff(l1, l2).toExponential(2)
          } ` +
          `(max |logit| ${maxAbs(l2).toFixed(2)}) on ${adapter}`,
      );
      console.log(lines[lines.length - 1]);
    }
    model.dispose();
    await session.release();
  }
} finally {
  await Deno.remove(tmp, { recursive: true });
}
