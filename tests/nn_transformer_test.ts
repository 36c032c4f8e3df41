/**
 * The shared transformer block: a layer scale folded into the branch's last
 * linear gives the block `x + gamma * f(...)` (checked against the same block
 * whose weights were scaled by hand), q/k/v given separately equal the fused
 * projection, and post-norm differs from pre-norm. The block's math itself
 * is checked against PyTorch through every ViT layout (tests/models_*).
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { TransformerBlock, type TransformerBlockSpec } from "../src/nn/transformer.ts";
import { mulberry32 } from "../src/random.ts";

const engine = await Engine.create();
const D = 8, M = 20, B = 2, T = 5;

function reader(tensors: Map<string, { shape: number[]; data: Float32Array }>) {
  return {
    readF32: (n: string) => Promise.resolve(tensors.get(n)!.data.slice()),
    info: (n: string) => ({ shape: tensors.get(n)!.shape }),
  };
}

function randomTensors(seed: number) {
  const rand = mulberry32(seed);
  const t = new Map<string, { shape: number[]; data: Float32Array }>();
  const add = (name: string, shape: number[], scale = 0.5, offset = 0) =>
    t.set(name, {
      shape,
      data: Float32Array.from(
        { length: shape.reduce((a, b) => a * b, 1) },
        () => offset + (rand() - 0.5) * 2 * scale,
      ),
    });
  for (const n of ["n1", "n2"]) {
    add(`${n}.weight`, [D], 0.3, 1);
    add(`${n}.bias`, [D], 0.1);
  }
  add("qkv.weight", [3 * D, D]);
  add("qkv.bias", [3 * D], 0.1);
  for (const n of ["q", "k", "v"]) {
    add(`${n}.weight`, [D, D]);
    add(`${n}.bias`, [D], 0.1);
  }
  add("proj.weight", [D, D]);
  add("proj.bias", [D], 0.1);
  add("fc1.weight", [M, D]);
  add("fc1.bias", [M], 0.1);
  add("fc2.weight", [D, M]);
  add("fc2.bias", [D], 0.1);
  add("ls1", [D], 0.4, 0.5);
  add("ls2", [D], 0.4, 0.5);
  return t;
}

const lin = (p: string) => ({ weight: `${p}.weight`, bias: `${p}.bias` });
const baseSpec: TransformerBlockSpec = {
  norm1: lin("n1") as { weight: string; bias: string },
  qkv: [lin("qkv")],
  proj: lin("proj"),
  norm2: lin("n2") as { weight: string; bias: string },
  fc1: lin("fc1"),
  fc2: lin("fc2"),
};

async function run(
  spec: TransformerBlockSpec,
  tensors: Map<string, { shape: number[]; data: Float32Array }>,
  normFirst = true,
): Promise<Float32Array> {
  const block = await TransformerBlock.load(engine, reader(tensors), spec, D);
  const x = engine.upload(
    Float32Array.from({ length: B * T * D }, (_, i) => Math.sin(i * 0.37) * 2),
    [B, T, D],
  );
  const y = block.forward(engine, x, { dim: D, heads: 2, eps: 1e-6, normFirst, mlpAct: "gelu" });
  const out = await engine.readF32(y);
  y.release();
  block.release();
  return out;
}

function maxRel(a: Float32Array, b: Float32Array): number {
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

Deno.test("transformer block: layer scales fold into proj / fc2 exactly", async () => {
  const t = randomTensors(3);
  const scaled = await run({ ...baseSpec, layerScale1: "ls1", layerScale2: "ls2" }, t);
  // The same network with gamma multiplied into the weights by hand.
  const byHand = new Map(t);
  for (const [l, g] of [["proj", "ls1"], ["fc2", "ls2"]]) {
    const gamma = t.get(g)!.data;
    const w = t.get(`${l}.weight`)!;
    const k = w.shape[1];
    byHand.set(`${l}.weight`, {
      shape: w.shape,
      data: w.data.map((v, i) => v * gamma[Math.floor(i / k)]),
    });
    byHand.set(`${l}.bias`, {
      shape: [D],
      data: t.get(`${l}.bias`)!.data.map((v, i) => v * gamma[i]),
    });
  }
  const manual = await run(baseSpec, byHand);
  assert.ok(maxRel(scaled, manual) < 1e-6, `${maxRel(scaled, manual)}`);
  // And the scale matters.
  assert.ok(maxRel(await run(baseSpec, t), manual) > 1e-3);
});

Deno.test("transformer block: separate q, k, v equal the fused projection; post-norm differs", async () => {
  const t = randomTensors(5);
  const fused = new Map(t);
  const w = new Float32Array(3 * D * D), b = new Float32Array(3 * D);
  ["q", "k", "v"].forEach((n, i) => {
    w.set(t.get(`${n}.weight`)!.data, i * D * D);
    b.set(t.get(`${n}.bias`)!.data, i * D);
  });
  fused.set("qkv.weight", { shape: [3 * D, D], data: w });
  fused.set("qkv.bias", { shape: [3 * D], data: b });
  const split = await run({ ...baseSpec, qkv: [lin("q"), lin("k"), lin("v")] }, t);
  const one = await run(baseSpec, fused);
  assert.deepEqual(split, one);
  const post = await run(baseSpec, fused, false);
  assert.ok(maxRel(post, one) > 1e-3);
});
