import assert from "node:assert/strict";
import {
  colorize,
  denormalize,
  normalizeMap,
  overlayMap,
  overlayPng,
  resizeBilinear,
} from "../src/explain/overlay.ts";
import { turbo } from "../src/report/colormap.ts";
import { assertAbsClose, randomF32 } from "./_helpers.ts";

Deno.test("resizeBilinear matches torch interpolate(bilinear, align_corners=False)", () => {
  const up = resizeBilinear({ width: 2, height: 2, data: new Float32Array([0, 1, 2, 3]) }, 4, 4);
  // torch.nn.functional.interpolate(torch.arange(4.).view(1,1,2,2), size=4, mode="bilinear")
  const expected = [
    [0, 0.25, 0.75, 1],
    [0.5, 0.75, 1.25, 1.5],
    [1.5, 1.75, 2.25, 2.5],
    [2, 2.25, 2.75, 3],
  ].flat();
  assertAbsClose(up.data, expected, 1e-6, "2x2 -> 4x4");
});

Deno.test("resizeBilinear: identity size is exact, non-square shapes, float64 reference", () => {
  const map = { width: 7, height: 5, data: randomF32(35, 3) };
  assert.deepEqual(resizeBilinear(map, 7, 5).data, map.data);
  const out = resizeBilinear(map, 23, 9);
  const ref: number[] = [];
  for (let y = 0; y < 9; y++) {
    for (let x = 0; x < 23; x++) {
      const sx = Math.min(Math.max((x + 0.5) * (7 / 23) - 0.5, 0), 6);
      const sy = Math.min(Math.max((y + 0.5) * (5 / 9) - 0.5, 0), 4);
      const x0 = Math.floor(sx), y0 = Math.floor(sy);
      const x1 = Math.min(x0 + 1, 6), y1 = Math.min(y0 + 1, 4);
      const v = (yy: number, xx: number) => map.data[yy * 7 + xx];
      ref.push(
        (v(y0, x0) * (1 - (sx - x0)) + v(y0, x1) * (sx - x0)) * (1 - (sy - y0)) +
          (v(y1, x0) * (1 - (sx - x0)) + v(y1, x1) * (sx - x0)) * (sy - y0),
      );
    }
  }
  assertAbsClose(out.data, ref, 1e-6, "7x5 -> 23x9");
});

Deno.test("normalizeMap spans [0, 1]; a constant map becomes zeros", () => {
  const n = normalizeMap({ width: 3, height: 1, data: new Float32Array([2, 4, 3]) });
  assert.deepEqual([...n.data], [0, 1, 0.5]);
  const c = normalizeMap({ width: 2, height: 1, data: new Float32Array([5, 5]) });
  assert.deepEqual([...c.data], [0, 0]);
});

Deno.test("overlayMap blends the colored map onto the image, region outside is dimmed", () => {
  const image = { width: 4, height: 2, data: new Uint8Array(4 * 2 * 3).fill(100) };
  const map = { width: 1, height: 2, data: new Float32Array([0, 1]) };
  const out = overlayMap(map, image, { alpha: 0.5, region: { x: 1, y: 0, width: 2, height: 2 } });
  const hot = turbo(1), cold = turbo(0);
  // Inside the region: top row gets the map's minimum color, bottom row its maximum.
  assert.deepEqual([...out.data.slice(3, 6)], cold.map((c) => Math.round(50 + 0.5 * c)));
  assert.deepEqual([...out.data.slice(15, 18)], hot.map((c) => Math.round(50 + 0.5 * c)));
  assert.deepEqual([...out.data.slice(0, 3)], [75, 75, 75]); // outside: dimmed by 1 - alpha/2
  const png = overlayPng(map, image);
  assert.deepEqual([...png.slice(1, 4)], [0x50, 0x4e, 0x47]); // "PNG"
});

Deno.test("colorize uses the colormap; denormalize undoes (x/255 - mean) / std", () => {
  const c = colorize({ width: 2, height: 1, data: new Float32Array([0, 1]) });
  assert.deepEqual([...c.data], [...turbo(0), ...turbo(1)]);
  const mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225];
  const rgb = [10, 128, 250];
  const chw = new Float32Array(rgb.map((v, ch) => (v / 255 - mean[ch]) / std[ch]));
  assert.deepEqual([...denormalize(chw, 1, 1, mean, std).data], rgb);
});
