/**
 * GEMM GFLOP/s of the software kernel against every tiling of the GPU path's
 * kernel, in one process on the adapter at hand (only ratios measured in one
 * run are meaningful on a shared machine). Rounds are interleaved and the
 * best of each is kept.
 *
 *   deno run -A bench/kernel_paths.ts [M N K ...] [--rounds 3] [--json FILE]
 *
 * Default shapes: 1024^3 and ViT-B/16's fc1 at batch 1 (197 x 768 -> 3072).
 */
import { parseArgs } from "node:util";
import { Engine } from "../src/gpu/engine.ts";
import { Autotuner } from "../src/gpu/autotune.ts";
import { GEMM_TILINGS } from "../src/ops/gemm.ts";
import { type GemmCase, measure, type Rate, setupLinear } from "./rates.ts";

/** One engine per kernel variant: "software" or a GPU-path tiling. */
async function engineFor(variant: string): Promise<Engine> {
  if (variant === "software") return await Engine.create({ kernels: "software" });
  const tuner = new Autotuner(`bench ${variant}`, undefined, false);
  tuner.fixed = variant;
  return await Engine.create({ kernels: "gpu", autotune: false, tuner });
}

/** Best rate of each variant on `c`, over `rounds` interleaved rounds. */
export async function compareKernelPaths(
  c: GemmCase,
  rounds: number,
): Promise<Record<string, Rate>> {
  const variants = ["software", ...Object.keys(GEMM_TILINGS)];
  const runs = await Promise.all(variants.map(async (v) => {
    const engine = await engineFor(v);
    return { v, engine, record: setupLinear(engine, c) };
  }));
  const best: Record<string, Rate> = {};
  for (let r = 0; r < rounds; r++) {
    for (const { v, engine, record } of runs) {
      const rate = await measure(engine, `${c.name} ${v}`, 2 * c.m * c.n * c.k, record, 1);
      if (!best[v] || rate.ms < best[v].ms) best[v] = rate;
    }
  }
  return best;
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({
    args: Deno.args,
    options: { rounds: { type: "string", default: "3" }, json: { type: "string" } },
    allowPositionals: true,
  });
  const dims = positionals.map(Number);
  const cases: GemmCase[] = dims.length >= 3
    ? Array.from({ length: Math.floor(dims.length / 3) }, (_, i) => {
      const [m, n, k] = dims.slice(3 * i, 3 * i + 3);
      return { name: `${m}x${k} -> ${n}`, m, n, k };
    })
    : [
      { name: "square 1024^3", m: 1024, n: 1024, k: 1024 },
      { name: "ViT-B fc1 (B=1): 197x768 -> 3072", m: 197, n: 3072, k: 768 },
    ];
  const engine = await Engine.create();
  console.log(`adapter: ${engine.gpu.info.description}\n`);
  console.log("| shape | kernel | ms | GFLOP/s (wall) | GFLOP/s (CPU time) | vs software |");
  console.log("|---|---|---|---|---|---|");
  const out: Record<string, Record<string, Rate>> = {};
  for (const c of cases) {
    const best = await compareKernelPaths(c, Number(values.rounds));
    out[c.name] = best;
    for (const [v, r] of Object.entries(best)) {
      console.log(
        `| ${c.name} | ${v} | ${r.ms.toFixed(1)} | ${r.gflops.toFixed(2)} | ` +
          `${r.cpuGflops.toFixed(2)} | ${(best.software.ms / r.ms).toFixed(2)}x |`,
      );
    }
  }
  if (values.json) {
    await Deno.writeTextFile(
      values.json,
      JSON.stringify({ adapter: engine.gpu.info.description, cases: out }, null, 2),
    );
  }
}
