/**
 * Experiment, not used by the models: squeeze-and-excitation's gate
 * (se_gate.wgsl beside this file) as one kernel: mean over the tokens, the
 * reducing linear with its activation, the expanding linear with its gate,
 * in one dispatch with a workgroup per image. Measured slower than the
 * unfused chain the MobileNet family runs (`meanTokens` + two `linear`s) at
 * EfficientNet-B0's late-stage widths on lavapipe (bench/RESULTS.md,
 * `deno run -A bench/rates.ts nhwc`), so it stays here to be rerun on other
 * adapters.
 */
import ownCode from "./se_gate.wgsl" with { type: "text" };
import type { Engine } from "../../src/gpu/engine.ts";
import { packParams } from "../../src/gpu/params.ts";
import type { Tensor } from "../../src/tensor.ts";
import { type Activation, ACTIVATION_WGSL, activationCode } from "../../src/ops/activation.ts";

const code = ACTIVATION_WGSL + ownCode;
const WG = 64;

/** The squeeze-and-excitation layers of a block, weights transposed ({@link uploadSeWeights}). */
export interface SeWeights {
  /** Reducing linear weight, transposed: [C, H]. */
  w1t: Tensor;
  /** Reducing linear bias [H]. */
  b1: Tensor;
  /** Expanding linear weight, transposed: [H, C]. */
  w2t: Tensor;
  /** Expanding linear bias [C]. */
  b2: Tensor;
  /** Activation after the reducing linear (ReLU, SiLU). */
  act: Activation;
  /** Gate after the expanding linear. */
  gate: "sigmoid" | "hardsigmoid";
}

/** Whether the fused gate fits the adapter's workgroup memory for C channels and H hidden. */
export function seGateFits(engine: Engine, c: number, h: number): boolean {
  return 4 * (c + h) <= engine.gpu.limits.maxComputeWorkgroupStorageSize;
}

/**
 * s [B, C] = gate(W2 act(W1 mean_t(x) + b1) + b2) for x [B, T, C] or
 * [B, H, W, C] channels-last. Throws when the widths exceed the adapter's
 * workgroup memory (check {@link seGateFits} first).
 */
export function seGate(engine: Engine, x: Tensor, w: SeWeights): Tensor {
  const B = x.shape[0], C = x.shape[x.shape.length - 1];
  const T = x.size / (B * C);
  const H = w.b1.size;
  if (w.w1t.size !== H * C || w.w2t.size !== C * H || w.b2.size !== C) {
    throw new Error(
      `seGate: weights [${w.w1t.shape}] / [${w.w2t.shape}] / [${w.b2.shape}] do not fit ${C} ` +
        `channels and ${H} hidden`,
    );
  }
  if (!seGateFits(engine, C, H)) {
    throw new Error(`seGate: ${C} + ${H} values exceed the adapter's workgroup memory`);
  }
  const s = engine.empty([B, C], "f32", "se-gate");
  engine.run(
    {
      name: "se_gate",
      code,
      constants: {
        WG,
        MAX_C: C,
        MAX_H: H,
        ACT: activationCode(w.act),
        GATE: activationCode(w.gate),
      },
    },
    [x, w.w1t, w.b1, w.w2t, w.b2, s],
    B,
    packParams([T, C, H]),
  );
  return s;
}

/** [rows, cols] row-major -> [cols, rows]. */
function transpose(a: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(a.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = a[r * cols + c];
  return t;
}

/**
 * Uploads a squeeze-and-excitation's layers for {@link seGate}: reduce
 * weight [H, C] and bias [H], expand weight [C, H] and bias [C] as PyTorch
 * stores them (1x1 conv weights flattened), the weights transposed.
 */
export function uploadSeWeights(
  engine: Engine,
  l: { w1: Float32Array; b1: Float32Array; w2: Float32Array; b2: Float32Array },
  channels: number,
  hidden: number,
  opts: { act: Activation; gate: SeWeights["gate"]; label: string },
): SeWeights {
  const up = (a: Float32Array, shape: number[], what: string) =>
    engine.upload(a, shape, `${opts.label}:${what}`, true);
  return {
    w1t: up(transpose(l.w1, hidden, channels), [channels, hidden], "w1t"),
    b1: up(l.b1, [hidden], "b1"),
    w2t: up(transpose(l.w2, channels, hidden), [hidden, channels], "w2t"),
    b2: up(l.b2, [channels], "b2"),
    act: opts.act,
    gate: opts.gate,
  };
}
