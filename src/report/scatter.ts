/**
 * Embedding scatter plot: projected samples colored by true class, with
 * misclassified samples drawn on top as "×" in the color of the predicted
 * class, and a legend of the classes.
 */
import { categorical } from "./colormap.ts";
import { className, isNum } from "./format.ts";
import {
  axes,
  crossMark,
  el,
  emptyPlot,
  legend,
  type LegendItem,
  LinearScale,
  MUTED,
  r2,
  svgRoot,
  text,
  title,
  tooltip,
} from "./svg.ts";
import type { EmbeddingInput } from "./types.ts";

/** Options of `embeddingScatterSvg`. */
export interface ScatterOptions {
  /** Plot title. */
  title?: string;
  /** Width in pixels (default 1080). */
  width?: number;
  /** Height in pixels (default 620). */
  height?: number;
  /** Most points drawn (an evenly strided subset beyond it; default 20000). */
  maxPoints?: number;
  /** Most classes listed in the legend (default 20). */
  maxLegend?: number;
}

/** Scatter of a 2-D embedding, colored by true class, mistakes marked. */
export function embeddingScatterSvg(
  emb: EmbeddingInput,
  names?: readonly string[],
  opts: ScatterOptions = {},
): string {
  const width = opts.width ?? 1080, height = opts.height ?? 620;
  const heading = opts.title ??
    `Embedding (${emb.method.toUpperCase()}) of the penultimate features`;
  const valid = emb.points.filter((p) => isNum(p.x) && isNum(p.y));
  if (valid.length === 0) return emptyPlot(width, height, heading, "no points");
  const maxPoints = opts.maxPoints ?? 20000;
  const stride = Math.max(1, Math.ceil(valid.length / maxPoints));
  const pts = stride > 1 ? valid.filter((_, i) => i % stride === 0) : valid;

  // Classes in the legend: true classes and the classes mistakes were predicted as.
  const labels = [
    ...new Set(
      pts.flatMap((p) => [p.label, p.pred]).filter((l): l is number => isNum(l) && l >= 0),
    ),
  ].sort((a, b) => a - b);
  const numClasses = Math.max(labels.length, names?.length ?? 0, (labels.at(-1) ?? -1) + 1);
  const colorOf = (l: number | undefined) =>
    isNum(l) && l >= 0 ? categorical(l, numClasses) : "#9ca3af";

  const maxLegend = opts.maxLegend ?? 20;
  const legendItems: LegendItem[] = labels.slice(0, maxLegend).map((l) => ({
    label: className(l, names),
    color: colorOf(l),
    shape: "circle",
  }));
  const hasMistakes = pts.some((p) =>
    isNum(p.label) && p.label >= 0 && isNum(p.pred) && p.pred !== p.label
  );
  if (hasMistakes) {
    legendItems.push({ label: "mistake (pred. color)", color: "#111827", shape: "cross" });
  }
  const lg = legend(legendItems, 0, 0, { maxChars: 22 });
  const frame = { x: 64, y: 44, width: width - 64 - 20 - lg.width - 16, height: height - 44 - 56 };

  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const p of pts) {
    x0 = Math.min(x0, p.x);
    x1 = Math.max(x1, p.x);
    y0 = Math.min(y0, p.y);
    y1 = Math.max(y1, p.y);
  }
  const padX = (x1 - x0) * 0.04 || 1, padY = (y1 - y0) * 0.04 || 1;
  const xs = new LinearScale(x0 - padX, x1 + padX, frame.x, frame.x + frame.width);
  const ys = new LinearScale(y0 - padY, y1 + padY, frame.y + frame.height, frame.y);
  const r = pts.length > 5000 ? 1.6 : pts.length > 1000 ? 2.4 : 3.5;

  const dots: string[] = [];
  const crosses: string[] = [];
  for (const p of pts) {
    const cx = r2(xs.map(p.x)), cy = r2(ys.map(p.y));
    const wrong = isNum(p.label) && p.label >= 0 && isNum(p.pred) && p.pred !== p.label;
    if (wrong) {
      // Tooltips only on mistakes: they are what a reader hovers for, and it keeps the page small.
      const tip = `true: ${className(p.label!, names)}, predicted: ${className(p.pred!, names)}` +
        (p.path ? `\n${p.path}` : "");
      crosses.push(el("g", {}, [
        tooltip(tip),
        // A mistake sits where its features put it and wears the color of the class it was
        // taken for, so a cluster of × in a foreign color shows which classes get confused.
        crossMark(cx, cy, r + 1.5, colorOf(p.pred), 2.2),
      ]));
    } else {
      dots.push(`<circle cx="${cx}" cy="${cy}" r="${r}" fill="${colorOf(p.label)}"/>`);
    }
  }
  const parts = [
    title(16, 26, heading),
    axes(frame, xs, ys, {
      xLabel: `${emb.method.toUpperCase()} 1`,
      yLabel: `${emb.method.toUpperCase()} 2`,
    }),
    el("g", { class: "points", "fill-opacity": 0.7 }, dots),
    el("g", { class: "mistakes" }, crosses),
    legend(legendItems, frame.x + frame.width + 16, frame.y, { maxChars: 22 }).svg,
  ];
  if (labels.length > maxLegend) {
    parts.push(
      text(
        frame.x + frame.width + 16,
        frame.y + lg.height + 16,
        `+ ${labels.length - maxLegend} more classes`,
        {
          fill: MUTED,
          "font-size": 11,
        },
      ),
    );
  }
  if (stride > 1) {
    parts.push(
      text(frame.x + frame.width, height - 8, `showing ${pts.length} of ${valid.length} points`, {
        "text-anchor": "end",
        fill: MUTED,
        "font-size": 11,
      }),
    );
  }
  return svgRoot(width, height, parts, { title: heading });
}
