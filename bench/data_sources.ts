/**
 * What reading from a container costs, side by side:
 *
 * - overhead (default): the same N ImageNet sample JPEGs as files, as one
 *   parquet file (`datasets` layout, Snappy, 100-row groups) and as one tar
 *   shard; read + decode + preprocess (timm pipeline) in this thread through
 *   the loader (workers 0, so reading is timed with the rest), repetitions
 *   interleaved, median ms per image and the difference to files;
 * - `--memory MB`: writes a parquet file of at least MB megabytes and
 *   evaluates it with the synthetic demo model in a child process
 *   (`cli.ts eval`), reporting the child's peak RSS (VmHWM, polled from
 *   /proc) and images/s.
 *
 * deno run -A bench/data_sources.ts [--images N] [--reps R]
 * deno run -A bench/data_sources.ts --memory 1100 [--workers 2]
 */
import { join } from "node:path";
import { parseArgs } from "node:util";
import { FIXTURES, IMAGENET, makeBigParquet, parquetBytes } from "../scripts/data/make_datasets.ts";
import { loadDataset } from "../src/data/open.ts";
import type { Dataset } from "../src/data/datasets.ts";
import { loadBatches } from "../src/data/loader.ts";
import { readFileSlice } from "../src/data/item_image.ts";
import { ParquetRowReader } from "../src/data/parquet_rows.ts";
import { preprocessConfigFromModelDir } from "../src/data/preprocess.ts";
import { SYNTHETIC_CLASSES, writeSyntheticModel } from "../src/demo/synthetic.ts";

const { values: v } = parseArgs({
  options: {
    images: { type: "string", default: "100" },
    reps: { type: "string", default: "5" },
    memory: { type: "string" },
    workers: { type: "string", default: "2" },
  },
});
const tmp = await Deno.makeTempDir({ prefix: "visioneval-sources-bench-" });
globalThis.addEventListener("unload", () => Deno.removeSync(tmp, { recursive: true }));

async function overhead(n: number, reps: number) {
  const names = [...Deno.readDirSync(IMAGENET)].map((e) => e.name).filter((f) =>
    f.endsWith(".JPEG")
  ).sort().slice(0, n);
  const folder = join(tmp, "files", "x");
  Deno.mkdirSync(folder, { recursive: true });
  for (const f of names) Deno.copyFileSync(join(IMAGENET, f), join(folder, f));
  const rows = names.map((f) => ({
    bytes: Deno.readFileSync(join(IMAGENET, f)),
    path: f,
    label: 0,
  }));
  Deno.writeFileSync(join(tmp, "set.parquet"), parquetBytes(rows, "SNAPPY", 100, ["x"]));
  const tar = new Deno.Command("tar", {
    args: ["-cf", join(tmp, "set.tar"), "-C", folder, ...names],
  }).outputSync();
  if (!tar.success) throw new Error("tar failed");
  // The tar samples need labels: one `cls` per image, written beside it.
  const sources: Record<string, Dataset> = {
    files: await loadDataset(join(tmp, "files")),
    parquet: await loadDataset(join(tmp, "set.parquet")),
  };
  for (const f of names) Deno.writeTextFileSync(join(folder, f.replace(".JPEG", ".cls")), "0");
  new Deno.Command("tar", {
    args: [
      "-cf",
      join(tmp, "set.tar"),
      "-C",
      folder,
      ...names.flatMap((f) => [f.replace(".JPEG", ".cls"), f]),
    ],
  }).outputSync();
  sources.tar = await loadDataset(join(tmp, "set.tar"));
  const cfg = preprocessConfigFromModelDir(`${FIXTURES}/models/vit-tiny-in1k/timm`);
  const times: Record<string, number[]> = { files: [], parquet: [], tar: [] };
  for (let r = 0; r < reps + 1; r++) {
    for (const [name, ds] of Object.entries(sources)) {
      const t = performance.now();
      let got = 0;
      for await (const b of loadBatches(ds.items, { preprocess: cfg, batchSize: 16, workers: 0 })) {
        got += b.shape[0];
      }
      if (got !== n) throw new Error(`${name}: ${got} of ${n} images`);
      if (r > 0) times[name].push((performance.now() - t) / n); // the first round warms up
    }
  }
  // Reading alone (bytes in memory, nothing decoded), the part that differs between sources.
  const read: Record<string, number[]> = { files: [], parquet: [], tar: [] };
  for (let r = 0; r < reps; r++) {
    let t = performance.now();
    for (const it of sources.files.items) await Deno.readFile(it.path);
    read.files.push((performance.now() - t) / n);
    t = performance.now();
    const reader = new ParquetRowReader();
    for (const it of sources.parquet.items) await reader.cell(it.parquet!);
    read.parquet.push((performance.now() - t) / n);
    t = performance.now();
    for (const it of sources.tar.items) await readFileSlice(it.slice!);
    read.tar.push((performance.now() - t) / n);
  }
  const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
  const base = median(times.files);
  const low = (a: number[]) => Math.min(...a);
  console.log(`${n} ImageNet sample JPEGs, timm pipeline, in-thread, ${reps} interleaved rounds`);
  for (const [name, t] of Object.entries(times)) {
    const m = median(t);
    console.log(
      `  ${name.padEnd(8)} read+decode+preprocess median ${m.toFixed(2)} ms/image ` +
        `(min ${low(t).toFixed(2)})${
          name === "files" ? "" : `, ${(100 * (m / base - 1)).toFixed(1)}% vs files`
        }; read alone median ${median(read[name]).toFixed(3)} ms/image = ${
          (100 * median(read[name]) / base).toFixed(1)
        }% of the files' total`,
    );
  }
}

async function memory(mb: number, workers: string) {
  const file = await makeBigParquet(tmp, mb, SYNTHETIC_CLASSES.map((c) => c.name));
  const size = Deno.statSync(file).size;
  const model = join(tmp, "model");
  await writeSyntheticModel(model);
  const args = [
    "run",
    "-A",
    new URL("../cli.ts", import.meta.url).pathname,
    "eval",
    "--model",
    model,
    "--data",
    file,
    "--size",
    "64x64",
    "--crop",
    "0",
    "--bootstrap",
    "0",
    "--no-report",
    "--workers",
    workers,
    "--out",
    join(tmp, "out"),
  ];
  console.log(`parquet ${(size / 1e6).toFixed(0)} MB; deno ${args.join(" ")}`);
  const child = new Deno.Command(Deno.execPath(), { args, stdout: "piped", stderr: "inherit" })
    .spawn();
  let peakKb = 0;
  const poll = setInterval(() => {
    try {
      const s = Deno.readTextFileSync(`/proc/${child.pid}/status`);
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0));
    } catch { /* exited */ }
  }, 100);
  const r = await child.output();
  clearInterval(poll);
  const text = new TextDecoder().decode(r.stdout);
  console.log(text.split("\n").filter((l) => /samples|images\/s|data /.test(l)).join("\n"));
  console.log(`peak RSS (VmHWM of the eval process): ${(peakKb / 1024).toFixed(0)} MiB`);
  if (!r.success) throw new Error("eval failed");
}

if (v.memory) await memory(Number(v.memory), v.workers!);
else await overhead(Number(v.images), Number(v.reps));
