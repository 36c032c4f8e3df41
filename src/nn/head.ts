/**
 * The classifier head every family shares: pooled features [B, D] ->
 * optional LayerNorm -> one or more linear layers (optionally each followed
 * by a folded BatchNorm1d and an activation) -> logits [B, C].
 *
 * A state dict records a head's linear layers and norms but not its
 * activations or dropouts: an `nn.Sequential` head such as
 * `fc = Sequential(Linear, ReLU, Dropout, Linear)` is saved as `fc.0.*` and
 * `fc.3.*`. The gap in the indices says that parameter-free modules sat
 * between the two layers; which ones it cannot say. The overwhelming
 * convention is ReLU (plus dropout, a no-op at evaluation), so that is
 * assumed and said in the model's notes; config.json's `head_activation`
 * overrides it ("relu", "gelu", "silu", "tanh", "none", ...). Adjacent indices mean no
 * module between the layers.
 *
 * Grad-CAM needs d logit_c / d pooled for each image; for a single linear
 * layer that is the weight row, for a deeper head it depends on the sample,
 * so {@link ClassifierHead.classScoreGradient} computes it in float64 on the
 * host from the pooled features (closed form: back through the linears, the
 * activations' derivatives and the LayerNorm's Jacobian).
 */
import { ModelLayoutError } from "../errors.ts";
import type { Engine } from "../gpu/engine.ts";
import { linear } from "../ops/gemm.ts";
import { type LoadedLinear, packLinear, releaseLinear } from "./layers.ts";
import {
  activateRef,
  type Activation,
  activationDerivativeRef,
  ACTIVATIONS,
} from "../ops/activation.ts";
import { layerNorm } from "../ops/layernorm.ts";
import { elementwise } from "../ops/elementwise.ts";
import type { Tensor } from "../tensor.ts";
import {
  type BatchNormNames,
  bnNames,
  escapeRegExp,
  expectBn,
  type Expected,
  expectLinear,
  expectNorm,
  indicesOf,
  type LinearNames,
  linearNames,
  type NormNames,
  requireShape,
  summarizeNames,
  type TensorIndex,
} from "../weights/layout_check.ts";

/** Activations a head may use between its layers: those the GEMM epilogue fuses, plus tanh. */
export type HeadActivation = Activation | "tanh";

/** One linear layer of a head. */
export interface HeadLayerSpec {
  /** The layer's tensors. */
  linear: LinearNames;
  /** Input width. */
  inFeatures: number;
  /** Output width. */
  outFeatures: number;
  /** A BatchNorm1d right after the linear (folded into it at load time). */
  bn?: BatchNormNames;
  /** Activation after the layer (and its BatchNorm); "none" for the last layer. */
  act: HeadActivation;
}

/** A classifier head, independent of how the checkpoint names it. */
export interface HeadSpec {
  /** Width of the pooled features it reads. */
  features: number;
  /** A LayerNorm over the pooled features before the first layer (ConvNeXt). */
  norm?: NormNames & { eps: number };
  /** The linear layers, input first; the last one outputs the classes. */
  layers: HeadLayerSpec[];
  /** Number of classes. */
  numClasses: number;
  /** What was inferred or assumed (printed in the run header). */
  notes: string[];
}

const HEAD_ACTS: readonly HeadActivation[] = [...ACTIVATIONS, "tanh"];

/** Options of {@link headSpec}. */
export interface HeadSpecOptions {
  /** LayerNorm tensors to read before the layers. */
  norm?: NormNames & { eps: number };
  /** BatchNorm epsilon of BatchNorm1d layers inside the head (default 1e-5). */
  bnEps?: number;
  /**
   * The activation between linear layers when the architecture fixes it
   * (torchvision MobileNetV3: Hardswish), used instead of the ReLU
   * assumption; `reason` says where it comes from (in the notes).
   * config.json's `head_activation` still overrides it.
   */
  hiddenActivation?: { act: HeadActivation; reason: string };
}

/**
 * The head stored under `prefix`: either one linear (`prefix.weight`) or an
 * `nn.Sequential` of linears and BatchNorm1ds (`prefix.N.*`). `features` is
 * the pooled width it must read.
 */
export function headSpec(
  index: TensorIndex,
  prefix: string,
  features: number,
  config: Record<string, unknown>,
  where: string,
  opts: HeadSpecOptions = {},
): HeadSpec {
  const all = index.names();
  const names = new Set(all);
  const notes: string[] = [];
  const configured = config.head_activation ?? config.head_act;
  if (configured !== undefined && !HEAD_ACTS.includes(configured as HeadActivation)) {
    throw new ModelLayoutError(
      `${where}: config head_activation ${JSON.stringify(configured)} is not supported ` +
        `(${HEAD_ACTS.join(", ")}).`,
    );
  }
  const layers: HeadLayerSpec[] = [];
  if (names.has(`${prefix}.weight`)) {
    const s = requireShape(index, names, `${prefix}.weight`, where);
    if (s.length !== 2) {
      throw new ModelLayoutError(
        `${where}: classifier "${prefix}.weight" should be 2-D [classes, ${features}] but has ` +
          `shape [${s}].`,
      );
    }
    layers.push({
      linear: linearNames(prefix, names),
      inFeatures: features,
      outFeatures: s[0],
      act: "none",
    });
  } else {
    const idx = indicesOf(all, new RegExp(`^${escapeRegExp(prefix)}\\.(\\d+)\\.`));
    if (!idx.length) {
      throw new ModelLayoutError(
        `${where}: classifier weight "${prefix}.weight" is missing (a backbone without a head ` +
          `cannot classify). Found: ${summarizeNames(all)}.`,
      );
    }
    let width = features;
    let prevEnd = -1; // index of the last module with parameters
    for (const i of idx) {
      const p = `${prefix}.${i}`;
      const w = names.has(`${p}.weight`) ? index.info(`${p}.weight`).shape : undefined;
      const isBn = names.has(`${p}.running_mean`);
      const gap = i - prevEnd - 1;
      const last = layers[layers.length - 1];
      if (isBn) {
        if (!last || gap !== 0 || last.bn) {
          throw new ModelLayoutError(
            `${where}: ${p} is a BatchNorm1d that does not directly follow a linear layer of the ` +
              `head; only Linear -> BatchNorm1d pairs are supported.`,
          );
        }
        last.bn = bnNames(p);
      } else if (w?.length === 2) {
        if (last) {
          const known = opts.hiddenActivation;
          last.act = gap > 0
            ? (configured as HeadActivation | undefined) ?? known?.act ?? "relu"
            : "none";
          if (gap > 0 && configured === undefined && known) {
            notes.push(
              `head: ${known.act} between ${
                last.linear.weight.replace(/\.weight$/, "")
              } and ${p} ` +
                `(${known.reason}; head_activation in config.json overrides it)`,
            );
          } else if (gap > 0 && configured === undefined) {
            notes.push(
              `head: assumed ReLU between ${
                last.linear.weight.replace(/\.weight$/, "")
              } and ${p} ` +
                `(the state dict shows ${gap} parameter-free module(s) there: activation/dropout); ` +
                `set head_activation in config.json if it was another activation`,
            );
          }
        } else if (gap > 0) {
          notes.push(
            `head: ${prefix}.0..${i - 1} hold no weights; taken as dropout/flatten before ${p}`,
          );
        }
        layers.push({
          linear: linearNames(p, names),
          inFeatures: width,
          outFeatures: w[0],
          act: "none",
        });
        width = w[0];
      } else {
        throw new ModelLayoutError(
          `${where}: head module ${p} is neither a Linear nor a BatchNorm1d (found ` +
            `${all.filter((n) => n.startsWith(`${p}.`)).join(", ")}); only Linear, BatchNorm1d ` +
            `and parameter-free modules (activations, dropout) are supported in a head.`,
        );
      }
      prevEnd = i;
    }
  }
  const head: HeadSpec = {
    features,
    norm: opts.norm,
    layers,
    numClasses: layers[layers.length - 1].outFeatures,
    notes,
  };
  if (layers.length > 1) {
    notes.unshift(
      `head: ${layers.length} linear layers (${
        [features, ...layers.map((l) => l.outFeatures)].join(" -> ")
      })`,
    );
  }
  return head;
}

/** Every tensor a head reads, with its shape. */
export function expectHead(e: Expected, head: HeadSpec): void {
  if (head.norm) expectNorm(e, head.norm, head.features);
  for (const l of head.layers) {
    expectLinear(e, l.linear, l.outFeatures, l.inFeatures);
    if (l.bn) expectBn(e, l.bn, l.outFeatures);
  }
}

/** One layer's weights: on the GPU (packed) and on the host in float64 (for gradients). */
interface LoadedLayer {
  gpu: LoadedLinear;
  act: HeadActivation;
  w: Float64Array;
  b: Float64Array;
  inF: number;
  outF: number;
}

/** The head's LayerNorm on the GPU and on the host. */
interface LoadedNorm {
  weight: Tensor;
  bias: Tensor;
  eps: number;
  w: Float64Array;
  b: Float64Array;
}

/** A loaded classifier head. */
export class ClassifierHead {
  #layers: LoadedLayer[];
  #norm?: LoadedNorm;

  private constructor(
    readonly spec: HeadSpec,
    layers: LoadedLayer[],
    norm?: LoadedNorm,
  ) {
    this.#layers = layers;
    this.#norm = norm;
  }

  /** Reads, folds and uploads the head's weights. */
  static async load(
    engine: Engine,
    file: { readF32(name: string): Promise<Float32Array> },
    spec: HeadSpec,
    bnEps = 1e-5,
  ): Promise<ClassifierHead> {
    const layers: LoadedLayer[] = [];
    for (const l of spec.layers) {
      const w = Float64Array.from(await file.readF32(l.linear.weight));
      const b = l.linear.bias
        ? Float64Array.from(await file.readF32(l.linear.bias))
        : new Float64Array(l.outFeatures);
      if (l.bn) {
        const gamma = await file.readF32(l.bn.weight);
        const beta = await file.readF32(l.bn.bias);
        const mean = await file.readF32(l.bn.runningMean);
        const variance = await file.readF32(l.bn.runningVar);
        for (let o = 0; o < l.outFeatures; o++) {
          const s = gamma[o] / Math.sqrt(variance[o] + bnEps);
          for (let i = 0; i < l.inFeatures; i++) w[o * l.inFeatures + i] *= s;
          b[o] = (b[o] - mean[o]) * s + beta[o];
        }
      }
      layers.push({
        gpu: packLinear(
          engine,
          Float32Array.from(w),
          [l.outFeatures, l.inFeatures],
          l.linear.weight,
          Float32Array.from(b),
        ),
        act: l.act,
        w,
        b,
        inF: l.inFeatures,
        outF: l.outFeatures,
      });
    }
    let norm: LoadedNorm | undefined;
    if (spec.norm) {
      const w = await file.readF32(spec.norm.weight);
      const b = await file.readF32(spec.norm.bias);
      norm = {
        weight: engine.upload(w, [spec.features], spec.norm.weight, true),
        bias: engine.upload(b, [spec.features], spec.norm.bias, true),
        eps: spec.norm.eps,
        w: Float64Array.from(w),
        b: Float64Array.from(b),
      };
    }
    return new ClassifierHead(spec, layers, norm);
  }

  /** Logits [B, C] of pooled features [B, D]; `pooled` is not released. */
  forward(engine: Engine, pooled: Tensor): Tensor {
    let x = pooled;
    if (this.#norm) {
      x = layerNorm(engine, pooled, this.#norm.weight, this.#norm.bias, this.#norm.eps);
    }
    for (const l of this.#layers) {
      let y = linear(engine, x, l.gpu.weight, {
        bias: l.gpu.bias,
        act: l.act === "tanh" ? "none" : l.act,
      });
      if (l.act === "tanh") {
        const t = elementwise(engine, "tanh", y);
        y.release();
        y = t;
      }
      if (x !== pooled) x.release();
      x = y;
    }
    return x;
  }

  /** Host copy of the first layer's weight [out, D] (the classifier weight of a one-layer head). */
  firstWeight(): Float32Array {
    return Float32Array.from(this.#layers[0].w);
  }

  /** True when the gradient of a logit w.r.t. the pooled features is the same for every image. */
  get isLinear(): boolean {
    return this.#layers.length === 1 && !this.#norm;
  }

  /**
   * d logit[classes[b]] / d pooled[b] for each image, [B, D] row-major, in
   * float64 on the host from the pooled features `pooled` [B, D].
   */
  classScoreGradient(pooled: Float32Array, classes: ArrayLike<number>): Float32Array {
    const D = this.spec.features;
    const B = classes.length;
    const out = new Float32Array(B * D);
    for (let bi = 0; bi < B; bi++) {
      let x = Float64Array.from(pooled.subarray(bi * D, (bi + 1) * D));
      // Forward, keeping each layer's pre-activation.
      let xhat: Float64Array | undefined;
      let invStd = 1;
      if (this.#norm) {
        const n = this.#norm;
        let mean = 0;
        for (const v of x) mean += v;
        mean /= D;
        let variance = 0;
        for (const v of x) variance += (v - mean) ** 2;
        variance /= D;
        invStd = 1 / Math.sqrt(variance + n.eps);
        xhat = x.map((v) => (v - mean) * invStd);
        x = xhat.map((v, i) => v * n.w[i] + n.b[i]);
      }
      const pre: Float64Array[] = [];
      for (const l of this.#layers) {
        const z = new Float64Array(l.outF);
        for (let o = 0; o < l.outF; o++) {
          let s = l.b[o];
          for (let i = 0; i < l.inF; i++) s += l.w[o * l.inF + i] * x[i];
          z[o] = s;
        }
        pre.push(z);
        x = z.map((v) => activate(l.act, v));
      }
      // Backward from the one-hot of the class.
      const c = classes[bi];
      const lastL = this.#layers[this.#layers.length - 1];
      let g = new Float64Array(lastL.outF);
      g[c] = 1;
      for (let li = this.#layers.length - 1; li >= 0; li--) {
        const l = this.#layers[li];
        const z = pre[li];
        const gz = g.map((v, o) => v * activationDerivative(l.act, z[o]));
        const gx = new Float64Array(l.inF);
        for (let o = 0; o < l.outF; o++) {
          const v = gz[o];
          if (v === 0) continue;
          for (let i = 0; i < l.inF; i++) gx[i] += v * l.w[o * l.inF + i];
        }
        g = gx;
      }
      if (this.#norm && xhat) {
        // LayerNorm Jacobian: dx = invStd (gy - mean(gy) - xhat mean(gy xhat)), gy = g * weight.
        const gy = g.map((v, i) => v * this.#norm!.w[i]);
        let m1 = 0, m2 = 0;
        for (let i = 0; i < D; i++) {
          m1 += gy[i];
          m2 += gy[i] * xhat[i];
        }
        m1 /= D;
        m2 /= D;
        g = gy.map((v, i) => invStd * (v - m1 - xhat![i] * m2));
      }
      out.set(g, bi * D);
    }
    return out;
  }

  /** Frees the GPU weights. */
  release(): void {
    for (const l of this.#layers) releaseLinear(l.gpu);
    this.#norm?.weight.release();
    this.#norm?.bias.release();
  }
}

function activate(act: HeadActivation, x: number): number {
  return act === "tanh" ? Math.tanh(x) : activateRef(act, x);
}

function activationDerivative(act: HeadActivation, x: number): number {
  return act === "tanh" ? 1 - Math.tanh(x) ** 2 : activationDerivativeRef(act, x);
}
