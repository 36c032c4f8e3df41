/**
 * Deterministic benchmark data shared by bench/metrics_bench.ts and the
 * scikit-learn peer (bench/peers/sklearn_metrics.py reads the .npy files
 * written by `deno run -A bench/metrics_data.ts N C DIR`): logits with a
 * signal towards the label, float32.
 */
import { join } from "node:path";
import { mulberry32 } from "../src/random.ts";

/** mulberry32, the same generator as the tests. */
const rng = mulberry32;

/** n labels and n×C logits (seeded). */
export function benchData(
  n: number,
  C: number,
  seed = 1,
): { labels: Int32Array; logits: Float32Array } {
  const r = rng(seed);
  const labels = new Int32Array(n);
  const logits = new Float32Array(n * C);
  for (let i = 0; i < n; i++) {
    const y = labels[i] = Math.floor(r() * C);
    for (let c = 0; c < C; c++) logits[i * C + c] = 4 * (r() - 0.5);
    logits[i * C + y] += 6 * r();
  }
  return { labels, logits };
}

function npy(data: Float32Array | Int32Array, shape: number[]): Uint8Array {
  const descr = data instanceof Float32Array ? "<f4" : "<i4";
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(", ")}${
    shape.length === 1 ? "," : ""
  }), }`;
  const total = 10 + header.length + 1;
  header += " ".repeat((64 - (total % 64)) % 64) + "\n";
  const out = new Uint8Array(10 + header.length + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(new TextEncoder().encode(header), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + header.length);
  return out;
}

if (import.meta.main) {
  const [n, C, dir] = [
    Number(Deno.args[0] ?? 200000),
    Number(Deno.args[1] ?? 1000),
    Deno.args[2] ?? "/tmp",
  ];
  const { labels, logits } = benchData(n, C);
  Deno.writeFileSync(join(dir, `bench_logits_${n}x${C}.npy`), npy(logits, [n, C]));
  Deno.writeFileSync(join(dir, `bench_logits_${n}x${C}.labels.npy`), npy(labels, [n]));
  console.log(`wrote ${join(dir, `bench_logits_${n}x${C}.npy`)} (+ .labels.npy)`);
}
