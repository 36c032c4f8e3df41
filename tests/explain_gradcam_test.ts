import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import { argmaxRows, gradCam } from "../src/explain/gradcam.ts";
import { assertRelClose, fixture, fixtureTest, randomF32 } from "./_helpers.ts";
import { readFixtureTensors } from "./_explain_fixture.ts";

/**
 * Float64 reference with an explicit gradient tensor G[k,i,j] (the closed
 * form W[c,k]/(h*w) broadcast over space), following the fixture README's
 * definitions literally, so the shader's per-channel simplification is
 * checked against the spatial formulas.
 */
function camReference(
  A: ArrayLike<number>,
  shape: readonly number[],
  W: ArrayLike<number>,
  classes: number[],
  mode: "gradcam" | "gradcampp" | "gradcampp_eps",
): { maps: Float64Array; weights: Float64Array } {
  const [B, K, h, w] = shape;
  const P = h * w;
  const maps = new Float64Array(B * P);
  const weights = new Float64Array(B * K);
  for (let b = 0; b < B; b++) {
    for (let k = 0; k < K; k++) {
      const G = new Float64Array(P).fill(W[classes[b] * K + k] / P);
      let S = 0;
      for (let i = 0; i < P; i++) S += A[(b * K + k) * P + i];
      let wk = 0;
      for (let i = 0; i < P; i++) {
        if (mode === "gradcam") {
          wk += G[i] / P;
          continue;
        }
        const g2 = G[i] * G[i], g3 = g2 * G[i];
        let denom = 2 * g2 + S * g3;
        if (mode === "gradcampp_eps") denom += 1e-6;
        let alpha = denom !== 0 ? g2 / denom : 0;
        if (mode === "gradcampp_eps" && G[i] === 0) alpha = 0;
        wk += alpha * Math.max(G[i], 0);
      }
      weights[b * K + k] = wk;
    }
    for (let i = 0; i < P; i++) {
      let s = 0;
      for (let k = 0; k < K; k++) s += weights[b * K + k] * A[(b * K + k) * P + i];
      maps[b * P + i] = Math.max(s, 0);
    }
  }
  return { maps, weights };
}

/** max|a-ref| / max|ref| per image, maximized over the batch. */
function maxRelPerMap(a: ArrayLike<number>, ref: ArrayLike<number>, per: number): number {
  let worst = 0;
  for (let b = 0; b < ref.length / per; b++) {
    let d = 0, m = 0;
    for (let i = b * per; i < (b + 1) * per; i++) {
      d = Math.max(d, Math.abs(a[i] - ref[i]));
      m = Math.max(m, Math.abs(ref[i]));
    }
    worst = Math.max(worst, d / (m || 1));
  }
  return worst;
}

Deno.test("gradCam matches a float64 reference on awkward shapes (odd K, 7x5, batch 1 and 3)", async () => {
  const engine = await Engine.create();
  for (const [B, K, h, w, C] of [[1, 3, 1, 1, 2], [3, 37, 7, 5, 11], [2, 130, 3, 3, 1000]]) {
    const A = randomF32(B * K * h * w, 11 + K, 0, 2); // post-ReLU features are >= 0
    for (let i = 0; i < A.length; i += 7) A[i] = 0;
    const W = randomF32(C * K, 5 + C, -0.5, 0.5);
    W[0] = 0; // a zero gradient channel exercises the "alpha = 0" rules
    const classes = Array.from({ length: B }, (_, b) => (b * 7) % C);
    const fm = engine.upload(A, [B, K, h, w]);
    for (const mode of ["gradcam", "gradcampp", "gradcampp_eps"] as const) {
      const r = gradCam(engine, fm, W, classes, {
        plusPlus: mode !== "gradcam",
        eps: mode === "gradcampp_eps" ? 1e-6 : 0,
      });
      const [maps, weights] = await engine.read(r.maps, r.weights);
      const ref = camReference(A, [B, K, h, w], W, classes, mode);
      assert.ok(maxRelPerMap(maps, ref.maps, h * w) < 1e-5, `${mode} maps [${B},${K},${h},${w}]`);
      assertRelClose(weights, ref.weights, 1e-5, `${mode} weights`);
      r.release();
    }
    fm.release();
  }
});

Deno.test("argmaxRows picks the largest logit, ties to the lower index", async () => {
  const engine = await Engine.create();
  const logits = new Float32Array([0, 3, 3, 1, /**/ -5, -6, -7, -5, /**/ 2, 2, 2, 9]);
  const t = engine.upload(logits, [3, 4]);
  const c = await engine.read(argmaxRows(engine, t));
  assert.deepEqual([...c[0]], [1, 0, 3]);
});

for (const variant of ["basic", "bottleneck"]) {
  fixtureTest(`gradCam on resnet-tiny-hf-${variant} features matches torch autograd`, async () => {
    const ref = await readFixtureTensors(
      fixture("reference", "random-models", `resnet-tiny-hf-${variant}.safetensors`),
    );
    const weights = await readFixtureTensors(
      fixture("models", `resnet-tiny-hf-${variant}`, "model.safetensors"),
      ["classifier.1.weight"],
    );
    const engine = await Engine.create();
    const feats = ref.get("features")!;
    const W = weights.get("classifier.1.weight")!.data as Float32Array;
    const fm = engine.upload(feats.data as Float32Array, feats.shape);
    const logits = engine.upload(ref.get("logits")!.data as Float32Array, ref.get("logits")!.shape);
    const classes = argmaxRows(engine, logits);
    const target = [...ref.get("target_class")!.data];
    assert.deepEqual([...(await engine.read(classes))[0]], target);
    const [, , h, w] = feats.shape;
    const cases = [
      { name: "gradcam", weights: "gradcam_weights", opts: {} },
      { name: "gradcampp", weights: "gradcampp_weights", opts: { plusPlus: true } },
      { name: "gradcampp_eps1e-6", weights: undefined, opts: { plusPlus: true, eps: 1e-6 } },
    ];
    for (const c of cases) {
      const r = gradCam(engine, fm, W, classes, c.opts);
      const [maps, ws] = await engine.read(r.maps, r.weights);
      const rel = maxRelPerMap(maps, ref.get(c.name)!.data, h * w);
      assert.ok(rel <= 1e-4, `${variant} ${c.name}: max rel diff ${rel.toExponential(2)}`);
      if (c.weights) assertRelClose(ws, ref.get(c.weights)!.data, 1e-4, `${variant} ${c.weights}`);
      console.log(`  ${variant} ${c.name}: max |diff| / map max = ${rel.toExponential(2)}`);
      r.release();
    }
  });
}
