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
import { SafetensorsFile, writeSafetensors } from "../src/weights/safetensors.ts";
import { assertRelClose } from "./_helpers.ts";
import type { Engine } from "../src/gpu/engine.ts";
import type { ClassifierModel } from "../src/models/model.ts";
import type { ModelFamily } from "../src/models/family.ts";
import { findModelFiles } from "../src/models/config.ts";
import type { PreprocessConfig } from "../src/data/preprocess.ts";
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

/**
 * Removes earlier caches of the same script (other hashes: an older script
 * or the other fixtures variant) untouched for an hour, so editing a
 * generator does not pile up ~100 MB folders in the temp dir; recent ones
 * may belong to a test process running beside this one.
 */
function pruneStaleCaches(prefix: string, keep: string): void {
  const hourAgo = Date.now() - 3600_000;
  for (const e of Deno.readDirSync(tmpdir())) {
    const path = join(tmpdir(), e.name);
    if (!e.isDirectory || !e.name.startsWith(prefix) || path === keep) continue;
    try {
      if ((Deno.statSync(path).mtime?.getTime() ?? Date.now()) < hourAgo) {
        Deno.removeSync(path, { recursive: true });
      }
    } catch { /* removed meanwhile */ }
  }
}

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
    pruneStaleCaches(`visioneval-family-${stem}-`, dir);
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

/** A CNN's outputs on one reference input: logits, pooled features and the final feature map. */
export interface CnnOutputs {
  /** [B, C] */
  logits: Float32Array;
  /** [B, K] */
  features: Float32Array;
  /** [B, K, h, w] */
  featureMap: Float32Array;
  /** Shape of `featureMap`. */
  mapShape: readonly number[];
}

/** Runs `model` on reference pixels with the features and feature-map taps. */
export async function runCnn(
  engine: Engine,
  model: ClassifierModel,
  pixels: { data: Float32Array; shape: number[] },
): Promise<CnnOutputs> {
  const x = engine.upload(pixels.data, pixels.shape, "pixels");
  const r = model.forward(engine, x, { features: true, featureMap: true });
  const out: CnnOutputs = {
    logits: await engine.readF32(r.logits),
    features: await engine.readF32(r.features!),
    featureMap: await engine.readF32(r.featureMap!),
    mapShape: r.featureMap!.shape,
  };
  for (const t of [x, r.logits, r.features!, r.featureMap!]) t.release();
  return out;
}

/**
 * Grad-CAM on the host from the taps (a reference independent of the GPU
 * Grad-CAM kernel): w_k = mean over positions of d logit / d A_k, with the
 * model's class-score gradient w.r.t. the pooled features.
 */
export function hostGradCam(
  model: ClassifierModel,
  o: CnnOutputs,
  classes: ArrayLike<number>,
): Float32Array {
  const [B, K, h, w] = o.mapShape;
  const g = model.classScoreGradient!(o.features, classes);
  const out = new Float32Array(B * h * w);
  for (let b = 0; b < B; b++) {
    for (let p = 0; p < h * w; p++) {
      let s = 0;
      for (let k = 0; k < K; k++) {
        s += (g[b * K + k] / (h * w)) * o.featureMap[(b * K + k) * h * w + p];
      }
      out[b * h * w + p] = Math.max(s, 0);
    }
  }
  return out;
}

/**
 * Checks a CNN (or any pooled classifier) against case `name`'s references in `dir` (`suffixes`,
 * default `.ref` and `.ref_odd`): feature-map shape; logits, pooled features, feature map and
 * host Grad-CAM within 1e-4 relative. Returns one line of measured
 * differences per reference.
 */
export async function checkCnnCase(
  engine: Engine,
  model: ClassifierModel,
  dir: string,
  name: string,
  suffixes: readonly string[] = ["ref", "ref_odd"],
): Promise<string[]> {
  const lines: string[] = [];
  for (const suffix of suffixes) {
    const ref = await readRef(join(dir, `${name}.${suffix}.safetensors`));
    const o = await runCnn(engine, model, ref.pixels);
    if (o.mapShape.join() !== ref.feature_map.shape.join()) {
      throw new Error(`${name} ${suffix}: map [${o.mapShape}] != [${ref.feature_map.shape}]`);
    }
    const what = `${name} ${suffix}`;
    const dl = assertRelClose(o.logits, ref.logits.data, 1e-4, `${what} logits`);
    const df = assertRelClose(o.features, ref.features.data, 1e-4, `${what} features`);
    const dm = assertRelClose(o.featureMap, ref.feature_map.data, 1e-4, `${what} map`);
    const cam = hostGradCam(model, o, ref.target_class.data);
    const dc = assertRelClose(cam, ref.gradcam.data, 1e-4, `${what} Grad-CAM`);
    lines.push(
      `${what}: logits ${dl.toExponential(1)} features ${df.toExponential(1)} ` +
        `map ${dm.toExponential(1)} gradcam ${dc.toExponential(1)}`,
    );
  }
  return lines;
}

/** Copies made by {@link caseVariant}, removed when the test process ends. */
const variantDirs: string[] = [];
globalThis.addEventListener("unload", () => {
  for (const d of variantDirs) {
    try {
      Deno.removeSync(d, { recursive: true });
    } catch { /* already gone */ }
  }
});

/**
 * A temporary copy of case `name` (in `dir`) with its tensors edited and its
 * config.json merged with `edit.config` (null: no config.json), for refusal
 * and override tests.
 */
export async function caseVariant(
  dir: string,
  name: string,
  edit: {
    config?: Record<string, unknown> | null;
    tensors?: (t: Record<string, { data: Float32Array; shape: number[] }>) => void;
  },
): Promise<string> {
  const src = join(dir, name);
  const dst = await Deno.makeTempDir({ prefix: `visioneval-${name}-` });
  variantDirs.push(dst);
  const t = await readRef(join(src, "model.safetensors"));
  edit.tensors?.(t);
  await writeSafetensors(
    join(dst, "model.safetensors"),
    Object.fromEntries(
      Object.entries(t).map((
        [k, v],
      ) => [k, { dtype: "F32" as const, shape: v.shape, data: v.data }]),
    ),
  );
  let config: Record<string, unknown> | null = null;
  try {
    config = JSON.parse(await Deno.readTextFile(join(src, "config.json")));
  } catch { /* no config.json */ }
  if (edit.config !== undefined) config = edit.config && { ...config, ...edit.config };
  if (config) await Deno.writeTextFile(join(dst, "config.json"), JSON.stringify(config));
  return dst;
}

/** The default pipeline `family` gives the checkpoint at `path` (without loading weights). */
export async function familyPipeline(family: ModelFamily, path: string): Promise<PreprocessConfig> {
  const files = findModelFiles(path);
  const f = await SafetensorsFile.open(files.weights);
  try {
    return family.pipeline(files, f);
  } finally {
    f.close();
  }
}
