/**
 * Colormaps: turbo and viridis (continuous, for heatmaps and explanation
 * overlays), a light sequential ramp for the confusion matrix, and a
 * categorical palette for classes and series.
 */

/** An RGB color with components in 0..255 (integers). */
export type Rgb = [number, number, number];

const clamp01 = (x: number) => Number.isNaN(x) ? 0 : Math.min(1, Math.max(0, x));
const to8 = (x: number) => Math.round(clamp01(x) * 255);

/**
 * Turbo (Mikhailov, Google 2019), evaluated with the published degree-5
 * polynomial approximation (Ruofei Du's GLSL fit of the lookup table; within
 * a few percent of the table except at the very ends).
 */
const TURBO_COEFFS: readonly (readonly number[])[] = [
  // 1, x, x^2, x^3, x^4, x^5
  [0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943],
  [0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604],
  [0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973],
];

/**
 * Viridis (van der Walt & Smith, matplotlib), evaluated with the published
 * degree-6 minimax polynomial fit of the matplotlib table (mattz, CC0).
 */
const VIRIDIS_COEFFS: readonly (readonly number[])[] = [
  [
    0.2777273272234177,
    0.1050930431085774,
    -0.3308618287255563,
    -4.634230498983486,
    6.228269936347081,
    4.776384997670288,
    -5.435455855934631,
  ],
  [
    0.005407344544966578,
    1.404613529898575,
    0.214847559468213,
    -5.799100973351585,
    14.17993336680509,
    -13.74514537774601,
    4.645852612178535,
  ],
  [
    0.3340998053353061,
    1.384590162594685,
    0.09509516302823659,
    -19.33244095627987,
    56.69055260068105,
    -65.35303263337234,
    26.3124352495832,
  ],
];

/** Horner evaluation of c[0] + c[1] t + c[2] t^2 + ... */
function poly(c: readonly number[], t: number): number {
  let y = 0;
  for (let i = c.length - 1; i >= 0; i--) y = y * t + c[i];
  return y;
}

/** Turbo color of t in [0, 1] (clamped; NaN -> 0). */
export function turbo(t: number): Rgb {
  const x = clamp01(t);
  return [
    to8(poly(TURBO_COEFFS[0], x)),
    to8(poly(TURBO_COEFFS[1], x)),
    to8(poly(TURBO_COEFFS[2], x)),
  ];
}

/** Viridis color of t in [0, 1] (clamped; NaN -> 0). */
export function viridis(t: number): Rgb {
  const x = clamp01(t);
  return [
    to8(poly(VIRIDIS_COEFFS[0], x)),
    to8(poly(VIRIDIS_COEFFS[1], x)),
    to8(poly(VIRIDIS_COEFFS[2], x)),
  ];
}

/** A colormap: value in [0, 1] -> color. */
export type Colormap = (t: number) => Rgb;

/** Colormap by name. */
export const COLORMAPS: Readonly<Record<"turbo" | "viridis", Colormap>> = { turbo, viridis };

/**
 * White -> mid blue -> dark navy, piecewise linear. Used for the confusion
 * matrix, where most cells are 0 and should read as background.
 */
export function blues(t: number): Rgb {
  const x = clamp01(t);
  const stops: Rgb[] = [[247, 251, 255], [66, 133, 200], [10, 38, 100]];
  const s = x < 0.5 ? 0 : 1;
  const f = x < 0.5 ? x / 0.5 : (x - 0.5) / 0.5;
  const a = stops[s], b = stops[s + 1];
  return [0, 1, 2].map((i) => Math.round(a[i] + (b[i] - a[i]) * f)) as Rgb;
}

/** Perceived lightness proxy (Rec. 709 luma) of a color, 0..1: picks black or white text. */
export function luma([r, g, b]: Rgb): number {
  return (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
}

/** `#rrggbb` of a color. */
export function hex([r, g, b]: Rgb): string {
  return "#" + [r, g, b].map((v) => v.toString(16).padStart(2, "0")).join("");
}

/** Ten distinct, colour-blind-aware series colours (own choice). */
const PALETTE = [
  "#2563eb", // blue
  "#f97316", // orange
  "#16a34a", // green
  "#dc2626", // red
  "#9333ea", // purple
  "#92400e", // brown
  "#db2777", // pink
  "#475569", // slate
  "#ca8a04", // mustard
  "#0891b2", // cyan
];

/**
 * Color of category k out of n: the fixed palette for n <= 10, else turbo
 * sampled at golden-ratio steps so that neighbouring indices differ.
 */
export function categorical(k: number, n = PALETTE.length): string {
  if (n <= PALETTE.length) return PALETTE[((k % PALETTE.length) + PALETTE.length) % PALETTE.length];
  const t = 0.08 + 0.84 * ((k * 0.6180339887498949) % 1);
  return hex(turbo(t));
}
