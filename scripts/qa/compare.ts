/**
 * QA: runs models made by `scripts/qa/gen_models.py` on their reference input and prints the
 * largest logit difference relative to PyTorch (max |diff| / max |ref|).
 *
 * deno run -A scripts/qa/compare.ts OUTDIR [name ...]
 */
import { join } from "node:path";
import { Engine } from "../../src/gpu/engine.ts";
import { loadModel } from "../../src/models/load.ts";
import { SafetensorsFile } from "../../src/weights/safetensors.ts";

const [dir, ...only] = Deno.args;
const names = only.length ? only : [...Deno.readDirSync(dir)]
  .filter((e) => e.isDirectory).map((e) => e.name)
  .filter((n) => {
    try {
      return Deno.statSync(join(dir, `${n}.ref.safetensors`)).isFile;
    } catch {
      return false; // a folder without a reference (e.g. a layout expected to fail)
    }
  }).sort();
const engine = await Engine.create();
let worst = 0;
for (const name of names) {
  const ref = await SafetensorsFile.open(join(dir, `${name}.ref.safetensors`));
  const pixels = await ref.readF32("pixels");
  const want = await ref.readF32("logits");
  const shape = ref.info("pixels").shape;
  ref.close();
  try {
    const t0 = performance.now();
    const model = await loadModel(join(dir, name), engine);
    const x = engine.upload(pixels, shape, "pixels");
    const { logits } = model.forward(engine, x, {});
    const [got] = await engine.read(logits);
    let maxDiff = 0, maxRef = 0;
    for (let i = 0; i < want.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
      maxRef = Math.max(maxRef, Math.abs(want[i]));
    }
    const rel = maxDiff / maxRef;
    worst = Math.max(worst, rel);
    console.log(
      `${rel < 1e-3 ? "PASS" : "FAIL"} ${name.padEnd(28)} ${model.architecture} in ${
        shape.slice(2).join("x")
      } C=${model.numClasses} rel ${rel.toExponential(2)} (${
        ((performance.now() - t0) / 1000).toFixed(1)
      } s)`,
    );
    x.release();
    logits.release();
    model.dispose();
  } catch (e) {
    console.log(`ERROR ${name}: ${(e as Error).constructor.name}: ${(e as Error).message}`);
  }
}
console.log(`worst ${worst.toExponential(2)}`);
