/**
 * QA: decodes every file of `gen_images.py`'s OUTDIR/imgs with visioneval and compares the pixels
 * with Pillow's `convert("RGB")` (OUTDIR/imgs_ref.safetensors). Prints max |diff| per file and
 * the error of files visioneval refuses.
 *
 * deno run -A scripts/qa/compare_decode.ts OUTDIR
 */
import { join } from "node:path";
import { readImage } from "../../src/data/decode.ts";
import { SafetensorsFile } from "../../src/weights/safetensors.ts";

const dir = Deno.args[0];
const ref = await SafetensorsFile.open(join(dir, "imgs_ref.safetensors"));
for (const e of [...Deno.readDirSync(join(dir, "imgs"))].sort((a, b) => a.name < b.name ? -1 : 1)) {
  const has = ref.has(e.name);
  let line = `${e.name.padEnd(20)} pillow:${has ? "ok " : "err"} `;
  try {
    const img = await readImage(join(dir, "imgs", e.name));
    line += `ours ${img.width}x${img.height}`;
    if (has) {
      const want = await ref.read(e.name) as Uint8Array;
      const [h, w] = ref.info(e.name).shape;
      if (h !== img.height || w !== img.width) line += ` SIZE MISMATCH pillow ${w}x${h}`;
      else {
        let max = 0, sum = 0;
        for (let i = 0; i < want.length; i++) {
          const d = Math.abs(want[i] - img.data[i]);
          max = Math.max(max, d);
          sum += d;
        }
        line += ` max|diff| ${max} mean ${(sum / want.length).toFixed(3)}`;
      }
    }
  } catch (err) {
    line += `refused: ${(err as Error).constructor.name}: ${(err as Error).message}`;
  }
  console.log(line);
}
ref.close();
