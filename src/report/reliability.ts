/**
 * Reliability diagram: per confidence bin, the accuracy (bars) against the
 * mean confidence (the diagonal is perfect calibration; the shaded gap is the
 * miscalibration), with the histogram of confidences under it so that the
 * weight of each bin is visible.
 */
import { compactCount, fmt, isNum } from "./format.ts";
import {
  axes,
  el,
  emptyPlot,
  type Frame,
  legend,
  LinearScale,
  MUTED,
  svgRoot,
  text,
  title,
  tooltip,
} from "./svg.ts";
import type { MaybeNumber, ReliabilityBin } from "./types.ts";

/** Options of `reliabilityDiagramSvg`. */
export interface ReliabilityOptions {
  /** Plot title. */
  title?: string;
  /** ECE to print on the plot. */
  ece?: MaybeNumber;
  /** MCE to print on the plot. */
  mce?: MaybeNumber;
  /** Extra note (e.g. "T = 1.53"). */
  note?: string;
  /** Width in pixels (default 520). */
  width?: number;
  /** Height in pixels (default 480). */
  height?: number;
}

const ACC_COLOR = "#2563eb";
const GAP_COLOR = "#dc2626";
const HIST_COLOR = "#64748b";

/** Mean confidence of a bin (also accepts the `mean_confidence` spelling). */
function binConfidence(b: ReliabilityBin): MaybeNumber {
  return b.confidence ?? (b as { mean_confidence?: MaybeNumber }).mean_confidence;
}

/** The reliability diagram with its confidence histogram, as an SVG string. */
export function reliabilityDiagramSvg(
  bins: readonly ReliabilityBin[],
  opts: ReliabilityOptions = {},
): string {
  const width = opts.width ?? 520;
  const height = opts.height ?? 480;
  const heading = opts.title ?? "Reliability diagram";
  const total = bins.reduce((n, b) => n + (isNum(b.count) ? b.count : 0), 0);
  if (bins.length === 0 || total === 0) {
    return emptyPlot(width, height, heading, "no samples");
  }
  const left = 68, right = 16, top = 44, gap = 14, bottomPad = 50;
  const plotH = height - top - bottomPad - gap;
  const mainH = Math.round(plotH * 0.7);
  const histH = plotH - mainH;
  const main: Frame = { x: left, y: top, width: width - left - right, height: mainH };
  const hist: Frame = { x: left, y: top + mainH + gap, width: main.width, height: histH };
  const xs = new LinearScale(0, 1, main.x, main.x + main.width);
  const ys = new LinearScale(0, 1, main.y + main.height, main.y);
  const maxCount = Math.max(...bins.map((b) => (isNum(b.count) ? b.count : 0)));
  // 15% headroom for the count labels above the bars.
  const hs = new LinearScale(0, maxCount * 1.15, hist.y + hist.height, hist.y);
  const ticks01 = [0, 0.2, 0.4, 0.6, 0.8, 1];

  const parts: string[] = [title(16, 26, heading)];
  parts.push(axes(main, xs, ys, {
    yLabel: "Accuracy",
    xTicks: ticks01,
    yTicks: ticks01,
    hideXTickLabels: true,
  }));
  // Perfect calibration.
  parts.push(el("line", {
    x1: xs.map(0),
    y1: ys.map(0),
    x2: xs.map(1),
    y2: ys.map(1),
    stroke: MUTED,
    "stroke-dasharray": "5 4",
    "stroke-width": 1.2,
  }));

  const bars: string[] = [];
  const histBars: string[] = [];
  for (const b of bins) {
    const x0 = xs.map(b.lo) + 1, x1 = xs.map(b.hi) - 1;
    const w = Math.max(1, x1 - x0);
    const count = isNum(b.count) ? b.count : 0;
    const conf = binConfidence(b);
    const acc = b.accuracy;
    const tip = `(${fmt(b.lo, 3)}, ${fmt(b.hi, 3)}]: ${count} samples` +
      (count > 0 ? `, accuracy ${fmt(acc)}, mean confidence ${fmt(conf)}` : " (empty bin)") +
      (count > 0 && isNum(acc) && isNum(conf) ? `, gap ${fmt(conf - acc)}` : "");
    if (count > 0 && isNum(acc)) {
      const cell: string[] = [tooltip(tip)];
      cell.push(el("rect", {
        x: x0,
        y: ys.map(acc),
        width: w,
        height: ys.map(0) - ys.map(acc),
        fill: ACC_COLOR,
        "fill-opacity": 0.85,
      }));
      if (isNum(conf)) {
        const yA = ys.map(acc), yC = ys.map(conf);
        // Overconfident gap (confidence above accuracy) sits on top of the bar and is
        // shaded red; an underconfident gap lies inside the bar and is lightened.
        const over = conf >= acc;
        cell.push(el("rect", {
          x: x0,
          y: Math.min(yA, yC),
          width: w,
          height: Math.max(0.5, Math.abs(yA - yC)),
          fill: over ? GAP_COLOR : "#ffffff",
          "fill-opacity": over ? 0.22 : 0.45,
          stroke: GAP_COLOR,
          "stroke-width": 1,
        }));
      }
      bars.push(el("g", {}, cell));
    }
    const hy = hs.map(count);
    histBars.push(el("g", {}, [
      tooltip(tip),
      el("rect", {
        x: x0,
        y: hy,
        width: w,
        height: hs.map(0) - hy,
        fill: HIST_COLOR,
        "fill-opacity": 0.8,
      }),
      bins.length <= 30 && count > 0 && w >= 16
        ? text((x0 + x1) / 2, hy - 3, compactCount(count), {
          "text-anchor": "middle",
          "font-size": 9,
          fill: MUTED,
        })
        : "",
    ]));
  }
  parts.push(el("g", { class: "bins" }, bars));

  const stats = [
    opts.ece !== undefined ? `ECE ${fmt(opts.ece)}` : "",
    opts.mce !== undefined ? `MCE ${fmt(opts.mce)}` : "",
    opts.note ?? "",
  ].filter((s) => s);
  if (stats.length) {
    parts.push(text(main.x + 10, main.y + 18, stats.join("  ·  "), { "font-weight": 600 }));
  }
  parts.push(
    legend(
      [
        { label: "Accuracy", color: ACC_COLOR, opacity: 0.85 },
        { label: "Gap to confidence", color: GAP_COLOR, opacity: 0.35 },
        { label: "Perfect calibration", color: MUTED, shape: "dashed" },
      ],
      // Top-left, under the stats line: a reasonable model has no tall bars there.
      main.x + 8,
      main.y + (stats.length ? 28 : 8),
      { maxChars: 22 },
    ).svg,
  );

  parts.push(axes(hist, xs, hs, {
    xLabel: "Confidence (max probability)",
    xTicks: ticks01,
    yTicks: hs.ticks(2),
    yFormat: compactCount,
  }));
  parts.push(text(hist.x - 46, hist.y + hist.height / 2, "Samples", {
    "text-anchor": "middle",
    "font-size": 13,
    transform: `rotate(-90 ${hist.x - 46} ${hist.y + hist.height / 2})`,
  }));
  parts.push(el("g", { class: "histogram" }, histBars));
  return svgRoot(width, height, parts, { title: heading });
}
