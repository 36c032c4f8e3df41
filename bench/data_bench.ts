/**
 * Input pipeline benchmarks on the ImageNet sample JPEGs (rate = images per
 * iteration / time per iteration; each name says how many images):
 * - decode: libjpeg-turbo (mozjpeg WASM, the decoder we use) vs imagescript;
 * - preprocess: timm / torchvision / hf_vit pipelines from decoded pixels;
 * - decode + preprocess (timm) in this thread, and through the loader with
 *   1 and 2 workers (pools started once, outside the timed region).
 *
 * `deno bench -A bench/data_bench.ts`. Rates also printed by
 * `deno run -A bench/data_bench.ts --rates`.
 */
import process from "node:process";
import { Image } from "imagescript";
import { openDataset } from "../src/data/datasets.ts";
import { decodeImage, type RgbImage } from "../src/data/decode.ts";
import { loadBatches, LoaderPool } from "../src/data/loader.ts";
import {
  applyOverrides,
  preprocess,
  type PreprocessConfig,
  preprocessConfigFromModelDir,
} from "../src/data/preprocess.ts";

const FIXTURES = Deno.env.get("VISIONEVAL_FIXTURES") ??
  new URL("../../shared/fixtures", import.meta.url).pathname;
// Images per iteration (env VISIONEVAL_BENCH_IMAGES, default 32, at most 500).
const N = Math.min(500, Number(Deno.env.get("VISIONEVAL_BENCH_IMAGES") ?? 32));

const items = openDataset(`${FIXTURES}/data/imagenet-sample`, { limit: N }).items;
const files = await Promise.all(items.map((it) => Deno.readFile(it.path)));
const decoded: RgbImage[] = [];
for (let i = 0; i < files.length; i++) decoded.push(await decodeImage(files[i], items[i].path));

const timm = preprocessConfigFromModelDir(`${FIXTURES}/models/vit-tiny-in1k/timm`);
const hfVit = preprocessConfigFromModelDir(`${FIXTURES}/models/vit-tiny-in1k/hf`);
const torchvision: PreprocessConfig = applyOverrides(timm, {
  cropPct: 0.875,
  interpolation: "bilinear",
  mean: [0.485, 0.456, 0.406],
  std: [0.229, 0.224, 0.225],
});

const pools = { 1: new LoaderPool(1), 2: new LoaderPool(2) };
globalThis.addEventListener("unload", () => (pools[1].close(), pools[2].close()));

async function throughLoader(workers: 1 | 2): Promise<number> {
  let n = 0;
  for await (
    const b of loadBatches(items, { preprocess: timm, batchSize: 8, pool: pools[workers] })
  ) n += b.shape[0];
  return n;
}
// Start (and, under `deno bench`, type-check) the workers before anything is
// timed: that work would otherwise run beside the first benchmarks.
await throughLoader(1);
await throughLoader(2);

const cases: {
  name: string;
  group: string;
  fn: () => void | Promise<unknown>;
  baseline?: boolean;
}[] = [
  {
    name: `decode libjpeg-turbo (x${N} images)`,
    group: "decode",
    baseline: true,
    fn: async () => {
      for (let i = 0; i < N; i++) await decodeImage(files[i], "bench");
    },
  },
  {
    name: `decode imagescript (x${N} images)`,
    group: "decode",
    fn: async () => {
      for (let i = 0; i < N; i++) await Image.decode(files[i]);
    },
  },
  ...([["timm", timm], ["torchvision", torchvision], ["hf_vit", hfVit]] as const).map((
    [name, cfg],
    i,
  ) => ({
    name: `preprocess ${name} from RGB (x${N} images)`,
    group: "preprocess",
    baseline: i === 0,
    fn: () => {
      for (const img of decoded) preprocess(img, cfg);
    },
  })),
  {
    name: `decode+preprocess timm, this thread (x${N} images)`,
    group: "pipeline",
    baseline: true,
    fn: async () => {
      for (let i = 0; i < N; i++) preprocess(await decodeImage(files[i], "bench"), timm);
    },
  },
  {
    name: `decode+preprocess timm, loader 1 worker (x${N} images, incl. file reads)`,
    group: "pipeline",
    fn: () => throughLoader(1),
  },
  {
    name: `decode+preprocess timm, loader 2 workers (x${N} images, incl. file reads)`,
    group: "pipeline",
    fn: () => throughLoader(2),
  },
];

if (Deno.args.includes("--rates")) {
  // Plain rates for bench/RESULTS.md: best wall time of 3 runs after a
  // warm-up, and process CPU time per image (all threads), which says what
  // the code costs when other processes share the cores.
  for (const c of cases) {
    await c.fn();
    let best = Infinity;
    let cpuBest = Infinity;
    for (let r = 0; r < 3; r++) {
      const cpu0 = process.cpuUsage();
      const t = performance.now();
      await c.fn();
      best = Math.min(best, performance.now() - t);
      const cpu = process.cpuUsage(cpu0);
      cpuBest = Math.min(cpuBest, (cpu.user + cpu.system) / 1000);
    }
    console.log(
      `${c.name}: ${(N / (best / 1000)).toFixed(1)} images/s wall, ` +
        `${(cpuBest / N).toFixed(2)} CPU ms/image`,
    );
  }
  pools[1].close();
  pools[2].close();
} else {
  for (const c of cases) {
    Deno.bench({
      name: c.name,
      group: c.group,
      baseline: c.baseline,
      n: 5,
      warmup: 1,
      fn: async () => void (await c.fn()),
    });
  }
}
