/**
 * Safetensors read + convert throughput, in MB/s of file data.
 *
 * `deno bench -A bench/safetensors_bench.ts` times each case; the module also
 * prints one MB/s line per case (best of a few runs) because `deno bench`
 * reports only time per iteration. Rates count tensor bytes as stored in the
 * file (an F16 tensor of 16 MiB becomes 32 MiB of float32).
 */
import { SafetensorsFile, writeSafetensors } from "../src/weights/safetensors.ts";
import { bf16ToF32, f16ToF32 } from "../src/weights/dtype.ts";

const MIB = 1 << 20;
const BYTES = 16 * MIB;

function halfBits(n: number, seed: number): Uint16Array {
  // Random finite half / bfloat16 patterns (exponent field never all ones).
  const out = new Uint16Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = (s >>> 16) & 0xbfff;
  }
  return out;
}

const dir = await Deno.makeTempDir({ prefix: "visioneval-bench-" });
const path = `${dir}/bench.safetensors`;
const f32 = new Float32Array(BYTES / 4).map((_, i) => Math.sin(i));
const f16 = halfBits(BYTES / 2, 1);
const bf16 = halfBits(BYTES / 2, 2);
await writeSafetensors(path, {
  f32: { dtype: "F32", shape: [BYTES / 4], data: f32 },
  f16: { dtype: "F16", shape: [BYTES / 2], data: f16 },
  bf16: { dtype: "BF16", shape: [BYTES / 2], data: bf16 },
});
const file = await SafetensorsFile.open(path);
globalThis.addEventListener("unload", () => {
  file.close();
  Deno.removeSync(dir, { recursive: true });
});

const cases: [string, () => Promise<unknown> | unknown][] = [
  ["read F32 from file (16 MiB)", () => file.read("f32")],
  ["readF32 of F16 from file (16 MiB)", () => file.readF32("f16")],
  ["readF32 of BF16 from file (16 MiB)", () => file.readF32("bf16")],
  ["convert F16 -> F32 in memory (16 MiB)", () => f16ToF32(f16)],
  ["convert BF16 -> F32 in memory (16 MiB)", () => bf16ToF32(bf16)],
];

for (const [name, fn] of cases) {
  Deno.bench({
    name,
    group: "safetensors",
    fn: async () => void (await fn()),
  });
}

// Rates: best of 5 after one warm-up (the OS page cache holds the file).
for (const [name, fn] of cases) {
  await fn();
  let best = Infinity;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    await fn();
    best = Math.min(best, performance.now() - t0);
  }
  console.log(`${name}: ${(BYTES / 1e6 / (best / 1000)).toFixed(0)} MB/s (${best.toFixed(1)} ms)`);
}
