/**
 * Synthetic torchvision / CIFAR-layout ResNets for tests and benches: random
 * weights under the exact key names PyTorch writes, F16 / BF16 encodings, and
 * a plain float64 forward pass written from the torchvision definition (not
 * from the loader's spec), so the loader's reading of the layout is checked
 * too.
 */
import { rng } from "./_helpers.ts";

/** Shape of a synthetic ResNet. */
export interface SynthResNet {
  /** torchvision (7x7/2 stem + max-pool, `fc`) or CIFAR (3x3/1 stem, option A, `linear`). */
  layout: "torchvision" | "cifar";
  /** Block type. */
  block: "basic" | "bottleneck";
  /** Stem output channels. */
  stemChannels: number;
  /** Stem kernel size. */
  stemKernel: number;
  /** Blocks per stage. */
  depths: number[];
  /** Output channels per stage. */
  widths: number[];
  /** Bottleneck inner width per stage (default widths / 4). */
  mids?: number[];
  /** Groups of the bottleneck 3x3 conv (ResNeXt; default 1). */
  groups?: number;
  /** Output classes. */
  numClasses: number;
}

/** One named tensor. */
export interface SynthTensor {
  /** PyTorch shape. */
  shape: number[];
  /** Values. */
  data: Float32Array;
}

/** ResNet-50 in torchvision layout. */
export const RESNET50: SynthResNet = {
  layout: "torchvision",
  block: "bottleneck",
  stemChannels: 64,
  stemKernel: 7,
  depths: [3, 4, 6, 3],
  widths: [256, 512, 1024, 2048],
  mids: [64, 128, 256, 512],
  numClasses: 1000,
};

function gaussian(next: () => number): () => number {
  return () => {
    const u = Math.max(next(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
  };
}

/** Per-block facts both the generator and the reference need. */
function blocksOf(a: SynthResNet) {
  const out: {
    prefix: string;
    inC: number;
    out: number;
    mid: number;
    stride: number;
    projection: boolean;
    optionA: boolean;
  }[] = [];
  let inC = a.stemChannels;
  a.depths.forEach((d, s) => {
    for (let b = 0; b < d; b++) {
      const blockIn = b === 0 ? inC : a.widths[s];
      const stride = s > 0 && b === 0 ? 2 : 1;
      const changes = blockIn !== a.widths[s] || stride !== 1;
      out.push({
        prefix: `layer${s + 1}.${b}`,
        inC: blockIn,
        out: a.widths[s],
        mid: a.mids?.[s] ?? a.widths[s] / 4,
        stride,
        projection: changes && a.layout === "torchvision",
        optionA: changes && a.layout === "cifar",
      });
    }
    inC = a.widths[s];
  });
  return out;
}

/**
 * Random weights (He-scaled convs, random BatchNorm statistics) under
 * torchvision key names; with `shapesOnly` the conv data is left empty.
 */
export function synthResNetWeights(
  a: SynthResNet,
  seed: number,
  shapesOnly = false,
): Record<string, SynthTensor> {
  const u = rng(seed);
  const g = gaussian(u);
  const w: Record<string, SynthTensor> = {};
  const conv = (name: string, shape: number[]) => {
    const fanIn = shape[1] * shape[2] * shape[3];
    const std = Math.sqrt(2 / fanIn);
    const n = shapesOnly ? 0 : shape.reduce((p, d) => p * d, 1);
    w[name] = { shape, data: Float32Array.from({ length: n }, () => g() * std) };
  };
  const bn = (name: string, c: number, gammaScale = 1) => {
    const v = (f: () => number) => ({ shape: [c], data: Float32Array.from({ length: c }, f) });
    w[`${name}.weight`] = v(() => (0.5 + u()) * gammaScale);
    w[`${name}.bias`] = v(() => 0.1 * g());
    w[`${name}.running_mean`] = v(() => 0.1 * g());
    w[`${name}.running_var`] = v(() => 0.5 + u());
  };
  conv("conv1.weight", [a.stemChannels, 3, a.stemKernel, a.stemKernel]);
  bn("bn1", a.stemChannels);
  const groups = a.groups ?? 1;
  for (const b of blocksOf(a)) {
    const p = b.prefix;
    if (a.block === "bottleneck") {
      conv(`${p}.conv1.weight`, [b.mid, b.inC, 1, 1]);
      bn(`${p}.bn1`, b.mid);
      conv(`${p}.conv2.weight`, [b.mid, b.mid / groups, 3, 3]);
      bn(`${p}.bn2`, b.mid);
      conv(`${p}.conv3.weight`, [b.out, b.mid, 1, 1]);
      // A small last gamma keeps the residual stream from growing block after block.
      bn(`${p}.bn3`, b.out, 0.3);
    } else {
      conv(`${p}.conv1.weight`, [b.out, b.inC, 3, 3]);
      bn(`${p}.bn1`, b.out);
      conv(`${p}.conv2.weight`, [b.out, b.out, 3, 3]);
      bn(`${p}.bn2`, b.out, 0.3);
    }
    if (b.projection) {
      conv(`${p}.downsample.0.weight`, [b.out, b.inC, 1, 1]);
      bn(`${p}.downsample.1`, b.out);
    }
  }
  const head = a.layout === "cifar" ? "linear" : "fc";
  const d = a.widths[a.widths.length - 1];
  w[`${head}.weight`] = {
    shape: [a.numClasses, d],
    data: Float32Array.from({ length: a.numClasses * d }, () => g() / Math.sqrt(d)),
  };
  w[`${head}.bias`] = {
    shape: [a.numClasses],
    data: Float32Array.from({ length: a.numClasses }, () => 0.1 * g()),
  };
  return w;
}

// ---------------------------------------------------------------------------
// F16 / BF16 encodings (round to nearest even) and their exact decodings.

/** IEEE half bits of a number, round to nearest even. */
export function toF16Bits(v: number): number {
  const u = new Uint32Array(new Float32Array([v]).buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  let mant = u & 0x7fffff;
  if (exp >= 31) return sign | 0x7c00;
  if (exp <= 0) {
    if (exp < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - exp;
    const rem = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    let r = mant >>> shift;
    if (rem > half || (rem === half && (r & 1))) r++;
    return sign | r;
  }
  let r = (exp << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (r & 1))) r++;
  return sign | r;
}

/** The value of IEEE half bits. */
export function fromF16Bits(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * 2 ** (e - 15) * (1 + m / 1024);
}

/** bfloat16 bits of a number, round to nearest even. */
export function toBf16Bits(v: number): number {
  const u = new Uint32Array(new Float32Array([v]).buffer)[0];
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** The value of bfloat16 bits. */
export function fromBf16Bits(h: number): number {
  return new Float32Array(new Uint32Array([h << 16]).buffer)[0];
}

/**
 * The tensors in `dtype` for `writeSafetensors`, plus the values they hold
 * (what a correct reader must return).
 */
export function encodeWeights(
  weights: Record<string, SynthTensor>,
  dtype: "F32" | "F16" | "BF16",
): {
  tensors: Record<
    string,
    { dtype: "F32" | "F16" | "BF16"; shape: number[]; data: ArrayBufferView }
  >;
  stored: Record<string, SynthTensor>;
} {
  const tensors: Record<
    string,
    { dtype: "F32" | "F16" | "BF16"; shape: number[]; data: ArrayBufferView }
  > = {};
  const stored: Record<string, SynthTensor> = {};
  for (const [name, t] of Object.entries(weights)) {
    if (dtype === "F32") {
      tensors[name] = { dtype, shape: t.shape, data: t.data };
      stored[name] = t;
      continue;
    }
    const [enc, dec] = dtype === "F16" ? [toF16Bits, fromF16Bits] : [toBf16Bits, fromBf16Bits];
    const bits = Uint16Array.from(t.data, enc);
    tensors[name] = { dtype, shape: t.shape, data: bits };
    stored[name] = { shape: t.shape, data: Float32Array.from(bits, dec) };
  }
  return { tensors, stored };
}

// ---------------------------------------------------------------------------
// float64 reference forward (torchvision / akamaster CIFAR definitions).

/** An NCHW float64 tensor. */
interface T64 {
  shape: number[];
  data: Float64Array;
}

function conv2dRef(
  x: T64,
  w: SynthTensor,
  stride: number,
  pad: number,
  groups = 1,
): T64 {
  const [n, c, h, wd] = x.shape;
  const [o, cg, kh, kw] = w.shape;
  const ho = Math.floor((h + 2 * pad - kh) / stride) + 1;
  const wo = Math.floor((wd + 2 * pad - kw) / stride) + 1;
  const og = o / groups;
  const y = new Float64Array(n * o * ho * wo);
  for (let b = 0; b < n; b++) {
    for (let oc = 0; oc < o; oc++) {
      const g = Math.floor(oc / og);
      for (let i = 0; i < ho; i++) {
        for (let j = 0; j < wo; j++) {
          let s = 0;
          for (let ci = 0; ci < cg; ci++) {
            const cin = g * cg + ci;
            for (let u = 0; u < kh; u++) {
              const yy = i * stride - pad + u;
              if (yy < 0 || yy >= h) continue;
              for (let v = 0; v < kw; v++) {
                const xx = j * stride - pad + v;
                if (xx < 0 || xx >= wd) continue;
                s += w.data[((oc * cg + ci) * kh + u) * kw + v] *
                  x.data[((b * c + cin) * h + yy) * wd + xx];
              }
            }
          }
          y[((b * o + oc) * ho + i) * wo + j] = s;
        }
      }
    }
  }
  return { shape: [n, o, ho, wo], data: y };
}

function bnRef(x: T64, w: Record<string, SynthTensor>, name: string, eps = 1e-5): T64 {
  const [n, c, h, wd] = x.shape;
  const y = new Float64Array(x.data.length);
  const hw = h * wd;
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) {
      const s = w[`${name}.weight`].data[k] / Math.sqrt(w[`${name}.running_var`].data[k] + eps);
      const m = w[`${name}.running_mean`].data[k];
      const beta = w[`${name}.bias`].data[k];
      for (let i = 0; i < hw; i++) {
        const at = (b * c + k) * hw + i;
        y[at] = (x.data[at] - m) * s + beta;
      }
    }
  }
  return { shape: x.shape, data: y };
}

function reluRef(x: T64): T64 {
  return { shape: x.shape, data: x.data.map((v) => Math.max(v, 0)) };
}

function addRef(a: T64, b: T64): T64 {
  return { shape: a.shape, data: a.data.map((v, i) => v + b.data[i]) };
}

function maxPoolRef(x: T64, k: number, stride: number, pad: number): T64 {
  const [n, c, h, wd] = x.shape;
  const ho = Math.floor((h + 2 * pad - k) / stride) + 1;
  const wo = Math.floor((wd + 2 * pad - k) / stride) + 1;
  const y = new Float64Array(n * c * ho * wo);
  for (let p = 0; p < n * c; p++) {
    for (let i = 0; i < ho; i++) {
      for (let j = 0; j < wo; j++) {
        let m = -Infinity;
        for (let u = 0; u < k; u++) {
          for (let v = 0; v < k; v++) {
            const yy = i * stride - pad + u, xx = j * stride - pad + v;
            if (yy >= 0 && yy < h && xx >= 0 && xx < wd) {
              m = Math.max(m, x.data[(p * h + yy) * wd + xx]);
            }
          }
        }
        y[(p * ho + i) * wo + j] = m;
      }
    }
  }
  return { shape: [n, c, ho, wo], data: y };
}

/** akamaster's LambdaLayer: F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes//4, planes//4)). */
function optionARef(x: T64, planes: number): T64 {
  const [n, c, h, wd] = x.shape;
  const pad = Math.floor(planes / 4);
  const co = c + 2 * pad, ho = Math.ceil(h / 2), wo = Math.ceil(wd / 2);
  const y = new Float64Array(n * co * ho * wo);
  for (let b = 0; b < n; b++) {
    for (let k = 0; k < c; k++) {
      for (let i = 0; i < ho; i++) {
        for (let j = 0; j < wo; j++) {
          y[((b * co + k + pad) * ho + i) * wo + j] =
            x.data[((b * c + k) * h + 2 * i) * wd + 2 * j];
        }
      }
    }
  }
  return { shape: [n, co, ho, wo], data: y };
}

/** Outputs of {@link resnetReference}. */
export interface ReferenceOutputs {
  /** [B, classes] */
  logits: Float64Array;
  /** [B, C] spatial mean of the feature map. */
  pooled: Float64Array;
  /** Final-stage feature map. */
  featureMap: Float64Array;
  /** Its shape. */
  featureMapShape: number[];
}

/** The network in float64, straight from the torchvision / akamaster module definitions. */
export function resnetReference(
  a: SynthResNet,
  w: Record<string, SynthTensor>,
  pixels: Float32Array,
  shape: number[],
): ReferenceOutputs {
  let h: T64 = { shape, data: Float64Array.from(pixels) };
  const k = a.stemKernel;
  h = reluRef(
    bnRef(conv2dRef(h, w["conv1.weight"], a.layout === "cifar" ? 1 : 2, k >> 1), w, "bn1"),
  );
  if (a.layout === "torchvision") h = maxPoolRef(h, 3, 2, 1);
  const groups = a.groups ?? 1;
  for (const b of blocksOf(a)) {
    const p = b.prefix;
    let o: T64;
    if (a.block === "bottleneck") {
      o = reluRef(bnRef(conv2dRef(h, w[`${p}.conv1.weight`], 1, 0), w, `${p}.bn1`));
      o = reluRef(bnRef(conv2dRef(o, w[`${p}.conv2.weight`], b.stride, 1, groups), w, `${p}.bn2`));
      o = bnRef(conv2dRef(o, w[`${p}.conv3.weight`], 1, 0), w, `${p}.bn3`);
    } else {
      o = reluRef(bnRef(conv2dRef(h, w[`${p}.conv1.weight`], b.stride, 1), w, `${p}.bn1`));
      o = bnRef(conv2dRef(o, w[`${p}.conv2.weight`], 1, 1), w, `${p}.bn2`);
    }
    const sc = b.projection
      ? bnRef(conv2dRef(h, w[`${p}.downsample.0.weight`], b.stride, 0), w, `${p}.downsample.1`)
      : b.optionA
      ? optionARef(h, b.out)
      : h;
    h = reluRef(addRef(o, sc));
  }
  const [n, c, hh, ww] = h.shape;
  const pooled = new Float64Array(n * c);
  for (let i = 0; i < n * c; i++) {
    let s = 0;
    for (let j = 0; j < hh * ww; j++) s += h.data[i * hh * ww + j];
    pooled[i] = s / (hh * ww);
  }
  const head = a.layout === "cifar" ? "linear" : "fc";
  const fw = w[`${head}.weight`].data, fb = w[`${head}.bias`].data;
  const logits = new Float64Array(n * a.numClasses);
  for (let b = 0; b < n; b++) {
    for (let q = 0; q < a.numClasses; q++) {
      let s = fb[q];
      for (let i = 0; i < c; i++) s += fw[q * c + i] * pooled[b * c + i];
      logits[b * a.numClasses + q] = s;
    }
  }
  return { logits, pooled, featureMap: h.data, featureMapShape: h.shape };
}
