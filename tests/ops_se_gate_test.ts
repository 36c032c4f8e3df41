/**
 * The fused squeeze-and-excitation gate experiment (bench/experiments/, kept
 * so its bench row can be rerun; the models do not use it) against a
 * float64 reference of torchvision's SqueezeExcitation (adaptive average
 * pool, fc1, activation, fc2, gate) on awkward shapes: batch 1 and 3,
 * token counts not multiples of 4, channel and hidden widths not multiples
 * of the 64-invocation workgroup, both gates, and the widths of
 * EfficientNet-B0's last stage.
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { activateRef, type Activation } from "../src/ops/activation.ts";
import { seGate, seGateFits, uploadSeWeights } from "../bench/experiments/se_gate.ts";
import { assertRelClose, randomF32 } from "./_helpers.ts";

const engine = await Engine.create();

const CASES: [number, number, number, number, Activation, "sigmoid" | "hardsigmoid"][] = [
  [1, 7, 5, 3, "relu", "hardsigmoid"],
  [3, 49, 130, 33, "silu", "sigmoid"],
  [2, 13, 64, 8, "relu", "hardsigmoid"],
  [2, 49, 1152, 48, "silu", "sigmoid"], // EfficientNet-B0 stage 7 at 224
  [1, 1, 3, 1, "silu", "sigmoid"],
];

for (const [B, T, C, H, act, gate] of CASES) {
  Deno.test(`seGate x [${B}, ${T}, ${C}] hidden ${H} ${act} / ${gate}`, async () => {
    const x = randomF32(B * T * C, T + C, -2, 2);
    const w1 = randomF32(H * C, 1, -0.3, 0.3), b1 = randomF32(H, 2, -0.1, 0.1);
    const w2 = randomF32(C * H, 3, -0.5, 0.5), b2 = randomF32(C, 4, -0.1, 0.1);
    const weights = uploadSeWeights(engine, { w1, b1, w2, b2 }, C, H, { act, gate, label: "se" });
    const s = seGate(engine, engine.upload(x, [B, T, C]), weights);
    const got = await engine.readF32(s);
    const ref = new Float64Array(B * C);
    for (let b = 0; b < B; b++) {
      const m = new Float64Array(C);
      for (let t = 0; t < T; t++) for (let c = 0; c < C; c++) m[c] += x[(b * T + t) * C + c] / T;
      const h = new Float64Array(H);
      for (let j = 0; j < H; j++) {
        let a = b1[j];
        for (let c = 0; c < C; c++) a += w1[j * C + c] * m[c];
        h[j] = activateRef(act, a);
      }
      for (let c = 0; c < C; c++) {
        let a = b2[c];
        for (let j = 0; j < H; j++) a += w2[c * H + j] * h[j];
        ref[b * C + c] = activateRef(gate, a);
      }
    }
    assertRelClose(got, ref, 1e-5, `seGate ${B}x${T}x${C}`);
  });
}

Deno.test("seGate: widths beyond workgroup memory do not fit", () => {
  const limit = engine.gpu.limits.maxComputeWorkgroupStorageSize;
  assert.equal(seGateFits(engine, limit / 4 - 8, 8), true);
  assert.equal(seGateFits(engine, limit / 4, 8), false);
});
