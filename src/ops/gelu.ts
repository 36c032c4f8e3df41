/**
 * The exact (erf-based) GELU as a WGSL snippet. WGSL has no `erf`; the
 * snippet defines `erf_f32(x)`, `gelu(x)` and `gelu4(v)` (shaders/gelu.wgsl).
 * Kernels that apply GELU prepend it to their own source:
 * `const code = GELU_WGSL + myShader;`.
 */
import geluCode from "../../shaders/gelu.wgsl" with { type: "text" };

/** WGSL source defining `erfc_nonneg`, `erf_f32`, `gelu` and `gelu4` (f32). */
export const GELU_WGSL: string = geluCode;
