/**
 * The Swin plumbing kernels (shaders/swin.wgsl) against plain host
 * references written the way torchvision writes them (F.pad, torch.roll,
 * view/permute window partition, slice-assigned mask regions), on awkward
 * shapes: maps that are not whole windows, non-square windows, shifts on
 * one axis only, odd maps for patch merging, batch 1 and 3.
 */
import assert from "node:assert/strict";
import { Engine } from "../src/gpu/engine.ts";
import {
  cosineQK,
  padPixels,
  patchMerge,
  shiftedWindowMask,
  type WindowGrid,
  windowLayout,
  windowMergeAdd,
  windowPartition,
} from "../src/ops/window.ts";
import { assertRelClose, randomF32 } from "./_helpers.ts";

let enginePromise: Promise<Engine> | undefined;
const getEngine = () => enginePromise ??= Engine.create();

/** x [B, H, W, C] padded, rolled by -shift, cut into windows: torchvision's steps one by one. */
function partitionRef(x: Float32Array, B: number, C: number, g: WindowGrid): Float32Array {
  const l = windowLayout(g);
  const padded = new Float32Array(B * l.ph * l.pw * C);
  for (let b = 0; b < B; b++) {
    for (let y = 0; y < g.h; y++) {
      for (let z = 0; z < g.w; z++) {
        for (let c = 0; c < C; c++) {
          padded[((b * l.ph + y) * l.pw + z) * C + c] = x[((b * g.h + y) * g.w + z) * C + c];
        }
      }
    }
  }
  // torch.roll(x, -s): out[i] = in[(i + s) mod n].
  const rolled = new Float32Array(padded.length);
  for (let b = 0; b < B; b++) {
    for (let y = 0; y < l.ph; y++) {
      for (let z = 0; z < l.pw; z++) {
        const sy = (y + g.shift[0]) % l.ph, sz = (z + g.shift[1]) % l.pw;
        for (let c = 0; c < C; c++) {
          rolled[((b * l.ph + y) * l.pw + z) * C + c] =
            padded[((b * l.ph + sy) * l.pw + sz) * C + c];
        }
      }
    }
  }
  const [a, w2] = g.window;
  const out: number[] = [];
  for (let b = 0; b < B; b++) {
    for (let wy = 0; wy < l.nWh; wy++) {
      for (let wx = 0; wx < l.nWw; wx++) {
        for (let ty = 0; ty < a; ty++) {
          for (let tx = 0; tx < w2; tx++) {
            for (let c = 0; c < C; c++) {
              out.push(rolled[((b * l.ph + wy * a + ty) * l.pw + wx * w2 + tx) * C + c]);
            }
          }
        }
      }
    }
  }
  return Float32Array.from(out);
}

const GRIDS: [number, number, WindowGrid][] = [
  [2, 3, { h: 5, w: 7, window: [3, 2], shift: [1, 1] }], // padded 6x8, both axes rolled
  [1, 5, { h: 8, w: 8, window: [4, 4], shift: [2, 2] }], // whole windows
  [3, 4, { h: 5, w: 4, window: [4, 4], shift: [2, 0] }], // one axis rolled only
  [1, 2, { h: 3, w: 3, window: [4, 4], shift: [0, 0] }], // smaller than one window
];

for (const [B, C, g] of GRIDS) {
  Deno.test(`window partition / merge+residual on ${B}x${g.h}x${g.w}x${C}, window ${g.window}, shift ${g.shift}`, async () => {
    const engine = await getEngine();
    const x = randomF32(B * g.h * g.w * C, g.h * 7 + C);
    const res = randomF32(x.length, 5);
    const xt = engine.upload(x, [B, g.h * g.w, C]);
    const win = windowPartition(engine, xt, B, g);
    const got = await engine.readF32(win);
    assert.deepEqual(Array.from(got), Array.from(partitionRef(x, B, C, g)));
    const rt = engine.upload(res, [B, g.h * g.w, C]);
    const merged = await engine.readF32(windowMergeAdd(engine, win, rt, B, g));
    // The inverse of the partition, plus the residual: x + res exactly as f32 adds it.
    assert.deepEqual(Array.from(merged), Array.from(x, (v, i) => Math.fround(v + res[i])));
  });
}

Deno.test("patch merge: 2x2 neighbours in (0,0), (1,0), (0,1), (1,1) order, zeros past odd edges", async () => {
  const engine = await getEngine();
  for (const [B, H, W, C] of [[1, 5, 7, 3], [2, 4, 6, 2], [1, 1, 1, 4]]) {
    const x = randomF32(B * H * W * C, H * W + C);
    const out = await engine.readF32(patchMerge(engine, engine.upload(x, [B, H * W, C]), B, H, W));
    const ph = Math.ceil(H / 2), pw = Math.ceil(W / 2);
    const ref: number[] = [];
    for (let b = 0; b < B; b++) {
      for (let i = 0; i < ph; i++) {
        for (let j = 0; j < pw; j++) {
          for (const [dh, dw] of [[0, 0], [1, 0], [0, 1], [1, 1]]) {
            for (let c = 0; c < C; c++) {
              const y = 2 * i + dh, z = 2 * j + dw;
              ref.push(y < H && z < W ? x[((b * H + y) * W + z) * C + c] : 0);
            }
          }
        }
      }
    }
    assert.deepEqual(Array.from(out), ref, `${B}x${H}x${W}x${C}`);
  }
});

Deno.test("cosine q/k: heads normalized (F.normalize), queries scaled per head, values untouched", async () => {
  const engine = await getEngine();
  const rows = 7, heads = 3, d = 5, D = heads * d;
  const qkv = randomF32(rows * 3 * D, 11, -2, 2);
  for (let i = 0; i < d; i++) qkv[D + i] = 0; // a zero key head: divided by the 1e-12 floor
  const scale = Float32Array.from([2, 0.5, 30]);
  const t = engine.upload(qkv, [rows, 3 * D]);
  cosineQK(engine, t, engine.upload(scale, [heads]), heads);
  const got = await engine.readF32(t);
  const ref = new Float64Array(qkv);
  for (let r = 0; r < rows; r++) {
    for (let part = 0; part < 2; part++) {
      for (let h = 0; h < heads; h++) {
        const base = r * 3 * D + part * D + h * d;
        let ss = 0;
        for (let i = 0; i < d; i++) ss += qkv[base + i] ** 2;
        const s = (part === 0 ? scale[h] : 1) / Math.max(Math.sqrt(ss), 1e-12);
        for (let i = 0; i < d; i++) ref[base + i] = qkv[base + i] * s;
      }
    }
  }
  assertRelClose(got, ref, 1e-6, "cosine q/k");
});

Deno.test("pad pixels: bottom / right zeros, batch and channels kept", async () => {
  const engine = await getEngine();
  const [B, C, H, W] = [2, 3, 5, 6];
  const x = randomF32(B * C * H * W, 3);
  const out = await engine.readF32(padPixels(engine, engine.upload(x, [B, C, H, W]), 8, 8));
  for (let bc = 0; bc < B * C; bc++) {
    for (let y = 0; y < 8; y++) {
      for (let z = 0; z < 8; z++) {
        const want = y < H && z < W ? x[(bc * H + y) * W + z] : 0;
        assert.equal(out[(bc * 8 + y) * 8 + z], want);
      }
    }
  }
});

/** torchvision's mask: labels assigned by the slices (0,-ws), (-ws,-s), (-s,None) in turn. */
function torchvisionMask(g: WindowGrid, value: number): Float32Array {
  const l = windowLayout(g);
  const label = new Int32Array(l.ph * l.pw);
  const slices = (n: number, ws: number, s: number): [number, number][] => {
    // Python slice bounds: -0 is 0, None is n.
    const at = (v: number | null) => v === null ? n : v < 0 ? n + v : v;
    return [[0, at(-ws)], [at(-ws), s === 0 ? 0 : at(-s)], [s === 0 ? 0 : at(-s), n]];
  };
  let count = 0;
  for (const [h0, h1] of slices(l.ph, g.window[0], g.shift[0])) {
    for (const [w0, w1] of slices(l.pw, g.window[1], g.shift[1])) {
      for (let y = h0; y < h1; y++) for (let z = w0; z < w1; z++) label[y * l.pw + z] = count;
      count++;
    }
  }
  const N = l.tokens;
  const out = new Float32Array(l.windows * N * N);
  for (let w = 0; w < l.windows; w++) {
    const wy = Math.floor(w / l.nWw), wx = w % l.nWw;
    const lab = (t: number) =>
      label[
        (wy * g.window[0] + Math.floor(t / g.window[1])) * l.pw + wx * g.window[1] +
        (t % g.window[1])
      ];
    for (let i = 0; i < N; i++) {
      for (let j = 0; j < N; j++) if (lab(i) !== lab(j)) out[(w * N + i) * N + j] = value;
    }
  }
  return out;
}

Deno.test("shifted-window mask equals torchvision's slice-assigned regions (one or both axes rolled)", () => {
  for (const g of GRIDS.map((x) => x[2]).filter((g) => g.shift[0] || g.shift[1])) {
    assert.deepEqual(shiftedWindowMask(g, -100), torchvisionMask(g, -100), JSON.stringify(g));
  }
  const hf2 = shiftedWindowMask({ h: 8, w: 8, window: [4, 4], shift: [2, 2] }, -200);
  assert.ok(hf2.some((v) => v === -200) && hf2.every((v) => v === 0 || v === -200));
});
