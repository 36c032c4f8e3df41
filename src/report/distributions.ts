/**
 * Confidence distributions of correct and wrong predictions: two histograms
 * over [0, 1], each normalized to its own total so their shapes compare even
 * when mistakes are rare. Overconfident models show wrong predictions piled
 * up near 1.
 */
import { fmt, isNum, pct } from "./format.ts";
import {
  axes,
  el,
  emptyPlot,
  legend,
  LinearScale,
  pathThrough,
  svgRoot,
  title,
  tooltip,
} from "./svg.ts";
import type { ConfidenceHistograms, ReliabilityBin } from "./types.ts";

/** Correct/wrong counts per reliability bin (count × accuracy, count × (1 − accuracy)). */
export function histogramsFromReliability(bins: readonly ReliabilityBin[]): ConfidenceHistograms {
  const correct = bins.map((b) => (isNum(b.accuracy) ? Math.round(b.count * b.accuracy) : 0));
  const wrong = bins.map((b, i) => Math.max(0, (isNum(b.count) ? b.count : 0) - correct[i]));
  return { correct, wrong };
}

/** Options of `confidenceDistributionSvg`. */
export interface DistributionOptions {
  /** Plot title. */
  title?: string;
  /** Width in pixels (default 520). */
  width?: number;
  /** Height in pixels (default 340). */
  height?: number;
}

const CORRECT = "#16a34a";
const WRONG = "#dc2626";

/** Overlaid step histograms of the confidence of correct vs wrong predictions. */
export function confidenceDistributionSvg(
  h: ConfidenceHistograms,
  opts: DistributionOptions = {},
): string {
  const width = opts.width ?? 520, height = opts.height ?? 340;
  const heading = opts.title ?? "Confidence of correct vs wrong predictions";
  const nb = Math.max(h.correct.length, h.wrong.length);
  const sum = (a: readonly number[]) => a.reduce((s, x) => s + (isNum(x) ? x : 0), 0);
  const nc = sum(h.correct), nw = sum(h.wrong);
  if (nb === 0 || nc + nw === 0) return emptyPlot(width, height, heading, "no samples");
  const share = (a: readonly number[], n: number) =>
    Array.from({ length: nb }, (_, i) => (n > 0 && isNum(a[i]) ? a[i] / n : 0));
  const sc = share(h.correct, nc), sw = share(h.wrong, nw);
  const frame = { x: 64, y: 48, width: width - 64 - 20, height: height - 48 - 56 };
  const xs = new LinearScale(0, 1, frame.x, frame.x + frame.width);
  const top = Math.max(...sc, ...sw);
  const ys = new LinearScale(0, top > 0 ? top * 1.08 : 1, frame.y + frame.height, frame.y);
  const parts = [
    title(16, 26, heading),
    axes(frame, xs, ys, {
      xLabel: "Confidence (max probability)",
      yLabel: "Share of group",
      xTicks: [0, 0.2, 0.4, 0.6, 0.8, 1],
      format: (v) => `${Math.round(v * 1000) / 10}%`,
    }),
  ];
  const series = [
    { shares: sc, counts: h.correct, n: nc, color: CORRECT, label: `Correct (n = ${nc})` },
    { shares: sw, counts: h.wrong, n: nw, color: WRONG, label: `Wrong (n = ${nw})` },
  ];
  for (const s of series) {
    if (s.n === 0) continue;
    // Step outline closed to the baseline, filled translucent.
    const pts: [number, number][] = [[xs.map(0), ys.map(0)]];
    s.shares.forEach((v, i) => {
      pts.push([xs.map(i / nb), ys.map(v)], [xs.map((i + 1) / nb), ys.map(v)]);
    });
    pts.push([xs.map(1), ys.map(0)]);
    parts.push(el("path", {
      d: pathThrough(pts) + "Z",
      fill: s.color,
      "fill-opacity": 0.18,
      stroke: s.color,
      "stroke-width": 2,
      "stroke-linejoin": "round",
    }));
    // Invisible per-bin hover targets with exact numbers.
    s.shares.forEach((v, i) => {
      if (v <= 0) return;
      parts.push(el(
        "rect",
        {
          x: xs.map(i / nb),
          y: ys.map(v),
          width: xs.map(1 / nb) - xs.map(0),
          height: ys.map(0) - ys.map(v),
          fill: "transparent",
        },
        tooltip(
          `${s.label.split(" (")[0]}: ${s.counts[i]} in (${fmt(i / nb, 3)}, ${
            fmt((i + 1) / nb, 3)
          }] = ${pct(v)}`,
        ),
      ));
    });
  }
  const items = series.map((s) => ({ label: s.label, color: s.color, opacity: 0.5 }));
  // Top-left of the plot: low confidences hold little mass for a trained model.
  parts.push(legend(items, frame.x + 8, frame.y + 4).svg);
  return svgRoot(width, height, parts, { title: heading });
}
