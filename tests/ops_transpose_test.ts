/** permute: every permutation of a 4-D tensor and 2-D/3-D cases, exact. */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { permute, transposeLast2 } from "../src/ops/transpose.ts";

function permuteRef(x: Float32Array, shape: number[], perm: number[]): Float32Array {
  const rank = shape.length;
  const outShape = perm.map((a) => shape[a]);
  const stride = new Array<number>(rank).fill(1);
  for (let d = rank - 2; d >= 0; d--) stride[d] = stride[d + 1] * shape[d + 1];
  const y = new Float32Array(x.length);
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < x.length; i++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += idx[d] * stride[perm[d]];
    y[i] = x[src];
    for (let d = rank - 1; d >= 0; d--) {
      if (++idx[d] < outShape[d]) break;
      idx[d] = 0;
    }
  }
  return y;
}

function permutations(n: number): number[][] {
  if (n === 1) return [[0]];
  return permutations(n - 1).flatMap((p) =>
    Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)])
  );
}

Deno.test("permute: all 24 permutations of [2, 3, 5, 7]", async () => {
  const engine = await Engine.create();
  const shape = [2, 3, 5, 7];
  const x = Float32Array.from({ length: 210 }, (_, i) => i);
  const tx = engine.upload(x, shape);
  const perms = permutations(4);
  const outs = perms.map((p) => permute(engine, tx, p));
  const got = await engine.read(...outs);
  perms.forEach((p, i) => {
    assert.deepEqual(outs[i].shape, p.map((a) => shape[a]));
    assert.deepEqual(Array.from(got[i]), Array.from(permuteRef(x, shape, p)), `perm ${p}`);
  });
});

Deno.test("permute: 2-D and 3-D, transposeLast2", async () => {
  const engine = await Engine.create();
  const x = Float32Array.from({ length: 3 * 197 * 13 }, (_, i) => i * 0.5);
  const t2 = transposeLast2(engine, engine.upload(x.subarray(0, 197 * 13), [197, 13]));
  const t3 = permute(engine, engine.upload(x, [3, 197, 13]), [1, 0, 2]);
  const [a, b] = await engine.read(t2, t3);
  assert.deepEqual(t2.shape, [13, 197]);
  assert.deepEqual(
    Array.from(a),
    Array.from(permuteRef(x.subarray(0, 197 * 13), [197, 13], [1, 0])),
  );
  assert.deepEqual(Array.from(b), Array.from(permuteRef(x, [3, 197, 13], [1, 0, 2])));
  assert.throws(() => permute(engine, engine.upload(x, [3, 197, 13]), [0, 0, 1]), /permutation/);
});
