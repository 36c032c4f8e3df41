/**
 * GEMM GFLOP/s of the software kernel against every tiling of the GPU path's
 * kernel, in one process on the adapter at hand (only ratios measured in one
 * run are meaningful on a shared machine). Rounds are interleaved and the
 * best of each is kept. Where the adapter has `shader-f16`, every kernel is
 * also timed with f16 linear weights (variant "<kernel> f16w"): activations
 * and accumulation stay f32, only the packed B operand is halved.
 *
 *   deno run -A bench/kernel_paths.ts [M N K ...] [--rounds 3] [--no-f16] [--json FILE]
 *
 * Default shapes: 1024^3 and ViT-B/16's fc1 at batch 1 (197 x 768 -> 3072).
 */
import { parseArgs } from "node:util";
import { Engine } from "../src/gpu/engine.ts";
import { Autotuner } from "../src/gpu/autotune.ts";
import { GEMM_TILINGS } from "../src/ops/gemm.ts";
import { type GemmCase, measure, type Rate, setupLinear } from "./rates.ts";

/** Suffix of the variants with f16 linear weights. */
const F16 = " f16w";

/** One engine per kernel variant: "software" or a GPU-path tiling, + " f16w" for f16 weights. */
async function engineFor(variant: string): Promise<Engine> {
  const weights = variant.endsWith(F16) ? "f16" : "f32";
  const kernel = variant.replace(F16, "");
  if (kernel === "software") return await Engine.create({ kernels: "software", weights });
  const tuner = new Autotuner(`bench ${kernel}`, undefined, false);
  tuner.fixed = kernel;
  return await Engine.create({ kernels: "gpu", autotune: false, tuner, weights });
}

/**
 * Best rate of each variant on `c`, over `rounds` interleaved rounds; with
 * `f16`, each kernel also with f16 weights.
 */
export async function compareKernelPaths(
  c: GemmCase,
  rounds: number,
  f16 = false,
): Promise<Record<string, Rate>> {
  const kernels = ["software", ...Object.keys(GEMM_TILINGS)];
  const variants = f16 ? kernels.flatMap((k) => [k, k + F16]) : kernels;
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
    options: {
      rounds: { type: "string", default: "3" },
      json: { type: "string" },
      "no-f16": { type: "boolean" },
    },
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
  const f16 = engine.gpu.hasF16 && !values["no-f16"];
  console.log(
    `adapter: ${engine.gpu.info.description}; f16 weights ${
      f16 ? "timed too (f16w)" : engine.gpu.hasF16 ? "skipped (--no-f16)" : "unavailable"
    }\n`,
  );
  console.log(
    "| shape | kernel | ms | GFLOP/s (wall) | GFLOP/s (CPU time) | vs software | f16w vs f32 |",
  );
  console.log("|---|---|---|---|---|---|---|");
  const out: Record<string, Record<string, Rate>> = {};
  for (const c of cases) {
    const best = await compareKernelPaths(c, Number(values.rounds), f16);
    out[c.name] = best;
    for (const [v, r] of Object.entries(best)) {
      const f32 = best[v.replace(F16, "")];
      console.log(
        `| ${c.name} | ${v} | ${r.ms.toFixed(1)} | ${r.gflops.toFixed(2)} | ` +
          `${r.cpuGflops.toFixed(2)} | ${(best.software.ms / r.ms).toFixed(2)}x | ` +
          `${v.endsWith(F16) ? `${(f32.ms / r.ms).toFixed(2)}x` : ""} |`,
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
