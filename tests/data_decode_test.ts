/**
 * Decoder tests: JPEG pixels identical to PIL + libjpeg-turbo (the fixtures'
 * rgb_u8), grayscale expansion, progressive JPEG, every PNG color type and
 * bit depth against known pixels, and clear reasons for bad files.
 */
import assert from "node:assert/strict";
import encodeJpeg from "@jsquash/jpeg/encode.js";
import { Frame, GIF } from "imagescript";
import {
  decodeImage,
  headerSize,
  ImageDecodeError,
  readImage,
  sniffFormat,
} from "../src/data/decode.ts";
import { SafetensorsFile } from "../src/weights/safetensors.ts";
import { fixture, fixtureTest } from "./_helpers.ts";
import { encodePng } from "./data_synth.ts";

const REF = fixture("reference", "preprocess");
const SAMPLE = fixture("data", "imagenet-sample");

async function referenceImages(): Promise<{ name: string; rgb: Uint8Array; shape: number[] }[]> {
  const names = [...Deno.readDirSync(REF)].map((e) => e.name)
    .filter((n) => n.endsWith(".safetensors")).sort();
  const out = [];
  for (const n of names) {
    const f = await SafetensorsFile.open(`${REF}/${n}`);
    out.push({
      name: n.replace(".safetensors", ""),
      rgb: (await f.read("rgb_u8")) as Uint8Array,
      shape: f.info("rgb_u8").shape,
    });
    f.close();
  }
  return out;
}

fixtureTest("decode: JPEGs are pixel-identical to PIL + libjpeg-turbo (rgb_u8)", async () => {
  const refs = await referenceImages();
  assert.equal(refs.length, 8);
  for (const r of refs) {
    const img = await readImage(`${SAMPLE}/${r.name}.JPEG`);
    assert.deepEqual([img.height, img.width, 3], r.shape, r.name);
    let maxDiff = 0;
    for (let i = 0; i < r.rgb.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(img.data[i] - r.rgb[i]));
    }
    assert.equal(maxDiff, 0, `${r.name}: max |diff| ${maxDiff} levels`);
  }
});

fixtureTest("decode: grayscale JPEG becomes RGB with equal channels", async () => {
  const img = await readImage(`${SAMPLE}/n02676566_acoustic_guitar.JPEG`);
  assert.ok(img.width > 0 && img.height > 0);
  let differing = 0;
  let nonZero = 0;
  for (let p = 0; p < img.data.length; p += 3) {
    if (img.data[p] !== img.data[p + 1] || img.data[p] !== img.data[p + 2]) differing++;
    if (img.data[p] !== 0) nonZero++;
  }
  assert.equal(differing, 0);
  assert.ok(nonZero > img.data.length / 6, "image should not be black");
});

/** A smooth synthetic RGB image (JPEG-friendly) as RGBA for the encoder. */
function synthRgba(w: number, h: number): Uint8ClampedArray {
  const d = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 4;
      d[i] = (x * 255) / (w - 1);
      d[i + 1] = (y * 255) / (h - 1);
      d[i + 2] = 128 + 100 * Math.sin((x + y) / 7);
      d[i + 3] = 255;
    }
  }
  return d;
}

Deno.test("decode: progressive and baseline JPEGs decode to the same picture", async () => {
  const w = 61, h = 37; // not multiples of the 8x8 / 16x16 MCU
  const rgba = synthRgba(w, h);
  const image = { data: rgba, width: w, height: h, colorSpace: "srgb" } as unknown as ImageData;
  const prog = new Uint8Array(await encodeJpeg(image, { quality: 95, progressive: true }));
  const base = new Uint8Array(
    await encodeJpeg(image, { quality: 95, progressive: false, baseline: true }),
  );
  const hasMarker = (b: Uint8Array, m: number) =>
    b.some((v, i) => v === 0xff && b[i + 1] === m && i + 1 < b.length);
  assert.ok(hasMarker(prog, 0xc2), "encoder should produce a progressive (SOF2) file");
  assert.ok(!hasMarker(base, 0xc2), "baseline file must not be progressive");
  for (const [name, bytes] of [["progressive", prog], ["baseline", base]] as const) {
    assert.equal(sniffFormat(bytes), "jpeg");
    const img = await decodeImage(bytes, name);
    assert.equal(img.width, w);
    assert.equal(img.height, h);
    let sum = 0;
    let max = 0;
    for (let p = 0, q = 0; p < img.data.length; p += 3, q += 4) {
      for (let c = 0; c < 3; c++) {
        const d = Math.abs(img.data[p + c] - rgba[q + c]);
        sum += d;
        max = Math.max(max, d);
      }
    }
    // Lossy codec with 4:2:0 chroma: small mean error, bounded max.
    assert.ok(sum / img.data.length < 3, `${name}: mean |diff| ${sum / img.data.length}`);
    assert.ok(max < 40, `${name}: max |diff| ${max}`);
  }
});

Deno.test("decode: PNG of every color type and bit depth", async () => {
  const w = 7, h = 3, n = w * h;
  const expectRgb = (f: (i: number) => [number, number, number]) => {
    const out = new Uint8Array(n * 3);
    for (let i = 0; i < n; i++) out.set(f(i), i * 3);
    return out;
  };
  const g8 = Array.from({ length: n }, (_, i) => (i * 37) % 256);
  const g16 = Array.from({ length: n }, (_, i) => (i * 3001 + 5) % 65536);
  const rgb8 = Array.from({ length: n * 3 }, (_, i) => (i * 53 + 7) % 256);
  const rgb16 = Array.from({ length: n * 3 }, (_, i) => (i * 2999 + 11) % 65536);
  const rgba8 = Array.from({ length: n * 4 }, (_, i) => (i * 29 + 3) % 256);
  const ga16 = Array.from({ length: n * 2 }, (_, i) => (i * 4093) % 65536);
  const pal = new Uint8Array([10, 20, 30, 200, 100, 50, 0, 255, 128, 77, 66, 55]);
  const idx = Array.from({ length: n }, (_, i) => i % 4);
  const bits1 = Array.from({ length: n }, (_, i) => (i * 5) % 2);
  const bits4 = Array.from({ length: n }, (_, i) => (i * 7) % 16);
  const cases = [
    {
      name: "gray 8",
      png: { color: "gray", depth: 8, samples: g8 },
      want: expectRgb((i) => [g8[i], g8[i], g8[i]]),
    },
    {
      name: "gray 16 (high byte)",
      png: { color: "gray", depth: 16, samples: g16 },
      want: expectRgb((i) => [g16[i] >> 8, g16[i] >> 8, g16[i] >> 8]),
    },
    {
      name: "gray 1",
      png: { color: "gray", depth: 1, samples: bits1 },
      want: expectRgb((i) => [bits1[i] * 255, bits1[i] * 255, bits1[i] * 255]),
    },
    {
      name: "gray 4",
      png: { color: "gray", depth: 4, samples: bits4 },
      want: expectRgb((i) => [bits4[i] * 17, bits4[i] * 17, bits4[i] * 17]),
    },
    {
      name: "rgb 8",
      png: { color: "rgb", depth: 8, samples: rgb8 },
      want: expectRgb((i) => [rgb8[3 * i], rgb8[3 * i + 1], rgb8[3 * i + 2]]),
    },
    {
      name: "rgb 16 (high byte)",
      png: { color: "rgb", depth: 16, samples: rgb16 },
      want: expectRgb((i) => [rgb16[3 * i] >> 8, rgb16[3 * i + 1] >> 8, rgb16[3 * i + 2] >> 8]),
    },
    {
      name: "rgba 8 (alpha dropped, not composited)",
      png: { color: "rgba", depth: 8, samples: rgba8 },
      want: expectRgb((i) => [rgba8[4 * i], rgba8[4 * i + 1], rgba8[4 * i + 2]]),
    },
    {
      name: "gray+alpha 16",
      png: { color: "gray-alpha", depth: 16, samples: ga16 },
      want: expectRgb((i) => [ga16[2 * i] >> 8, ga16[2 * i] >> 8, ga16[2 * i] >> 8]),
    },
    {
      name: "palette with transparency",
      png: {
        color: "palette",
        depth: 8,
        samples: idx,
        palette: pal,
        transparency: new Uint8Array([0, 128, 255, 9]),
      },
      want: expectRgb((i) => [pal[3 * idx[i]], pal[3 * idx[i] + 1], pal[3 * idx[i] + 2]]),
    },
  ] as const;
  for (const c of cases) {
    const bytes = encodePng({ width: w, height: h, ...c.png } as Parameters<typeof encodePng>[0]);
    assert.equal(sniffFormat(bytes), "png");
    const img = await decodeImage(bytes, c.name);
    assert.equal(img.width, w, c.name);
    assert.equal(img.height, h, c.name);
    assert.deepEqual(img.data, c.want, c.name);
  }
});

fixtureTest("decode: corrupt, truncated and unsupported files give a reason", async () => {
  const good = await Deno.readFile(`${SAMPLE}/n01440764_tench.JPEG`);
  const truncated = good.slice(0, good.length >> 1);
  const corrupt = good.slice();
  for (let i = 1000; i < 1400; i++) corrupt[i] = (i * 7) & 255;
  const png = encodePng({ width: 4, height: 4, color: "gray", depth: 8, samples: new Array(16) });
  const cases: [string, Uint8Array, RegExp][] = [
    ["empty.jpg", new Uint8Array(0), /empty file/],
    ["truncated.jpg", truncated, /truncated JPEG/],
    ["corrupt.jpg", corrupt, /corrupt JPEG/],
    ["header-only.jpg", new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16]), /corrupt JPEG/],
    ["text.jpg", new TextEncoder().encode("hello, not an image"), /not an image/],
    ["image.webp", new TextEncoder().encode("RIFF\0\0\0\0WEBPVP8 "), /corrupt or truncated WebP/],
    ["image.bmp", new TextEncoder().encode("BM\0\0\0\0\0\0"), /truncated BMP/],
    ["cut.gif", new TextEncoder().encode("GIF89a\x05\0"), /corrupt GIF/],
    ["cut.png", png.slice(0, 40), /corrupt PNG/],
  ];
  for (const [path, bytes, reason] of cases) {
    await assert.rejects(decodeImage(bytes, path), (e: unknown) => {
      assert.ok(e instanceof ImageDecodeError, `${path}: ${e}`);
      assert.equal(e.path, path);
      assert.match(e.reason, reason, path);
      return true;
    });
  }
  // Decompression bombs are refused from the header, before any allocation.
  const huge = good.slice();
  const sof = huge.findIndex((v, i) => v === 0xff && huge[i + 1] === 0xc0);
  huge.set([0xff, 0xff, 0xff, 0xff], sof + 5); // 65535 x 65535
  assert.deepEqual(headerSize(huge), { width: 65535, height: 65535 });
  await assert.rejects(decodeImage(huge, "huge.jpg"), /image too large \(65535x65535/);
  const bigPng = encodePng({ width: 1, height: 1, color: "gray", depth: 8, samples: [0] });
  new DataView(bigPng.buffer).setUint32(16, 100_000);
  new DataView(bigPng.buffer).setUint32(20, 100_000);
  await assert.rejects(decodeImage(bigPng, "huge.png"), /image too large/);
  // The decoder keeps working after failures.
  const img = await decodeImage(good, "good.jpg");
  assert.equal(img.width, 500);
  assert.deepEqual(headerSize(good), { width: 500, height: 375 });
  await assert.rejects(readImage("/nonexistent/x.jpg"), /cannot read file/);
});

Deno.test("decode: GIF gives its first frame", async () => {
  const colors = [0xff0000ff, 0x00ff00ff, 0x0000ffff, 0xffffffff];
  const first = new Frame(6, 4, 100);
  const second = new Frame(6, 4, 100);
  for (let y = 1; y <= 4; y++) {
    for (let x = 1; x <= 6; x++) {
      first.setPixelAt(x, y, colors[(x + y) % 4]);
      second.setPixelAt(x, y, colors[0]);
    }
  }
  const bytes = await new GIF([first, second]).encode();
  assert.equal(sniffFormat(bytes), "gif");
  const img = await decodeImage(bytes, "anim.gif");
  assert.equal(img.width, 6);
  assert.equal(img.height, 4);
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 6; x++) {
      const c = colors[(x + 1 + y + 1) % 4];
      const p = (y * 6 + x) * 3;
      assert.deepEqual([...img.data.subarray(p, p + 3)], [
        c >>> 24,
        (c >>> 16) & 255,
        (c >>> 8) & 255,
      ]);
    }
  }
});
