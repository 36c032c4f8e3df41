/**
 * Reference checkpoints of the new layouts, made by
 * `scripts/families/gen_refs.py` with Debian's python3-torch: generated once
 * into a cache folder named after the script's hash (so an edited script
 * regenerates), shared by every test file in the run. Tests that need them
 * use {@link refsTest}, which is ignored, saying why in its name, only when
 * `/usr/bin/python3` cannot import torch.
 */
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromFileUrl } from "./_path.ts";
import { SafetensorsFile } from "../src/weights/safetensors.ts";
import { fixture, HAVE_FIXTURES } from "./_helpers.ts";

const PYTHON = Deno.env.get("VISIONEVAL_PYTHON") ?? "/usr/bin/python3";

/** True when the reference generator can run (python3 with torch and torchvision). */
export const HAVE_TORCH: boolean = (() => {
  try {
    const r = new Deno.Command(PYTHON, {
      args: ["-c", "import torch, torchvision"],
      stdout: "null",
      stderr: "null",
    }).outputSync();
    return r.success;
  } catch {
    return false;
  }
})();

const ready = new Map<string, Promise<string>>();

/** The folder holding every generated case (generating it on first use). */
export function familyRefs(): Promise<string> {
  return generatedRefs("gen_refs.py");
}

/**
 * The folder written by `scripts/families/<script> OUTDIR` (e.g.
 * "gen_mobilenet_refs.py"), generated on first use into a cache folder
 * named after the script's hash.
 */
export function generatedRefs(script: string): Promise<string> {
  let p = ready.get(script);
  if (p) return p;
  p = (async () => {
    const path = fromFileUrl(new URL(`../scripts/families/${script}`, import.meta.url));
    // Scripts other than gen_refs.py import its helpers: they count in the hash too.
    const helpers = fromFileUrl(new URL("../scripts/families/gen_refs.py", import.meta.url));
    const h = createHash("sha256").update(Deno.readFileSync(path));
    if (helpers !== path) h.update(Deno.readFileSync(helpers));
    // Without the fixtures' CIFAR JPEGs the seed cases differ (centred on noise, no predictions).
    h.update(HAVE_FIXTURES ? "cifar" : "no-cifar");
    const hash = h.digest("hex").slice(0, 12);
    const stem = script.replace(/\.py$/, "").replace(/^gen_/, "");
    const dir = join(tmpdir(), `visioneval-family-${stem}-${hash}`);
    try {
      if (Deno.statSync(join(dir, "manifest.json")).isFile) return dir;
    } catch { /* not generated yet */ }
    const tmp = `${dir}.${Deno.pid}.tmp`;
    const r = await new Deno.Command(PYTHON, {
      args: [path, tmp],
      stdout: "null",
      env: { VISIONEVAL_CIFAR_DIR: fixture("data", "cifar10-test") },
    }).output();
    if (!r.success) {
      throw new Error(`${path} failed:\n${new TextDecoder().decode(r.stderr)}`);
    }
    try {
      Deno.renameSync(tmp, dir);
    } catch {
      // Another test process finished first: use its copy.
      Deno.removeSync(tmp, { recursive: true });
    }
    return dir;
  })();
  ready.set(script, p);
  return p;
}

/** `Deno.test` for tests that need the generated references. */
export function refsTest(name: string, fn: (dir: string) => Promise<void>): void {
  Deno.test({
    name: HAVE_TORCH ? name : `${name} (skipped: ${PYTHON} cannot import torch/torchvision)`,
    ignore: !HAVE_TORCH,
    fn: async () => fn(await familyRefs()),
  });
}

/** Every tensor of a reference file, as f32 (class indices as their values). */
export async function readRef(
  path: string,
): Promise<Record<string, { data: Float32Array; shape: number[] }>> {
  const f = await SafetensorsFile.open(path);
  try {
    const out: Record<string, { data: Float32Array; shape: number[] }> = {};
    for (const n of f.names()) {
      out[n] = { data: await f.readF32(n), shape: f.info(n).shape };
    }
    return out;
  } finally {
    f.close();
  }
}

/** max |a - b| / max |b|. */
export function relDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0, m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return m === 0 ? d : d / m;
}
