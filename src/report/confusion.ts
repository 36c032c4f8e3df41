/**
 * Confusion matrix views: a row-normalized heatmap with class names for up to
 * ~30 classes; for more classes, where the grid is unreadable, a bar chart of
 * the most-confused (true, predicted) pairs plus a pixel-per-cell overview image.
 */
import { blues, hex, luma } from "./colormap.ts";
import { className, compactCount, escapeXml, pct } from "./format.ts";
import {
  axes,
  el,
  emptyPlot,
  LinearScale,
  MUTED,
  r2,
  svgRoot,
  text,
  title,
  tooltip,
} from "./svg.ts";
import type { RasterImage } from "./types.ts";

/** A C×C count matrix, rows = true class, columns = predicted class. */
export type ConfusionMatrix = readonly (readonly number[])[];

/** Above this many classes the heatmap gives way to the most-confused pairs. */
export const HEATMAP_MAX_CLASSES = 30;

/** Row sums (support per true class). */
export function rowSums(cm: ConfusionMatrix): number[] {
  return cm.map((row) => row.reduce((a, b) => a + b, 0));
}

/** Options of the confusion plots. */
export interface ConfusionOptions {
  /** Plot title. */
  title?: string;
  /** Longest class name shown before truncation (default 18). */
  maxNameChars?: number;
}

/** Row-normalized heatmap with class names; empty rows are hatched gray. */
export function confusionHeatmapSvg(
  cm: ConfusionMatrix,
  names?: readonly string[],
  opts: ConfusionOptions = {},
): string {
  const heading = opts.title ?? "Confusion matrix (rows normalized: recall per true class)";
  const C = cm.length;
  if (C === 0) return emptyPlot(520, 200, heading, "no classes");
  const maxChars = opts.maxNameChars ?? 18;
  const labels = Array.from({ length: C }, (_, k) => className(k, names));
  const longest = Math.min(maxChars, Math.max(...labels.map((l) => l.length)));
  const cell = Math.max(14, Math.min(48, Math.floor(600 / C)));
  const showValues = cell >= 28;
  const labelW = longest * 6.6 + 14;
  const left = labelW + 40, top = 44;
  const gridW = cell * C;
  const colLabelH = longest * 6.6 * Math.sin(Math.PI / 4) + 16;
  const width = Math.max(480, left + gridW + 110);
  const height = top + gridW + colLabelH + 40;
  const sums = rowSums(cm);
  const fontSize = Math.min(12, Math.max(8, cell * 0.38));

  const cells: string[] = [];
  for (let i = 0; i < C; i++) {
    for (let j = 0; j < C; j++) {
      const count = cm[i][j] ?? 0;
      const x = left + j * cell, y = top + i * cell;
      const tipHead = `true: ${labels[i]}\npredicted: ${labels[j]}\n`;
      if (sums[i] === 0) {
        cells.push(el("rect", {
          x,
          y,
          width: cell,
          height: cell,
          fill: "url(#cm-empty)",
        }, tooltip(tipHead + "no samples of this true class")));
        continue;
      }
      const v = count / sums[i];
      const color = blues(v);
      const inner = [tooltip(`${tipHead}${count} of ${sums[i]} (${pct(v)})`)];
      cells.push(el("rect", {
        x,
        y,
        width: cell,
        height: cell,
        fill: hex(color),
        stroke: "#ffffff",
        "stroke-width": cell >= 20 ? 1 : 0.5,
      }, inner));
      if (showValues && count > 0) {
        cells.push(text(x + cell / 2, y + cell / 2 + fontSize * 0.35, cellLabel(v), {
          "text-anchor": "middle",
          "font-size": fontSize,
          fill: luma(color) < 0.5 ? "#ffffff" : "#1f2937",
          "pointer-events": "none",
        }));
      }
    }
  }
  // Diagonal outline makes the "correct" cells easy to find.
  const diag = el("path", {
    d: Array.from(
      { length: C },
      (_, k) => `M${r2(left + k * cell)} ${r2(top + k * cell)}h${cell}v${cell}h${-cell}z`,
    ).join(""),
    fill: "none",
    stroke: "#1f2937",
    "stroke-opacity": 0.35,
    "stroke-width": 1,
  });

  const rowLabels = labels.map((l, i) =>
    text(left - 6, top + i * cell + cell / 2 + 4, l, {
      "text-anchor": "end",
      "font-size": Math.min(12, cell * 0.7),
    }, maxChars)
  );
  const colLabels = labels.map((l, j) => {
    const x = left + j * cell + cell / 2 + 3, y = top + gridW + 8;
    return text(x, y, l, {
      "text-anchor": "end",
      "font-size": Math.min(12, cell * 0.7),
      transform: `rotate(-45 ${r2(x)} ${r2(y)})`,
    }, maxChars);
  });

  // Color bar.
  const barX = left + gridW + 24, barH = Math.min(gridW, 260);
  const stops = Array.from(
    { length: 11 },
    (_, k) => el("stop", { offset: `${k * 10}%`, "stop-color": hex(blues(1 - k / 10)) }),
  );
  const defs = el("defs", {}, [
    el("linearGradient", { id: "cm-bar", x1: 0, y1: 0, x2: 0, y2: 1 }, stops),
    el(
      "pattern",
      { id: "cm-empty", width: 6, height: 6, patternUnits: "userSpaceOnUse" },
      [
        el("rect", { width: 6, height: 6, fill: "#f3f4f6" }),
        el("path", { d: "M0 6L6 0", stroke: "#d1d5db", "stroke-width": 1 }),
      ],
    ),
  ]);
  const barScale = new LinearScale(0, 1, top + barH, top);
  const bar = [
    el("rect", {
      x: barX,
      y: top,
      width: 14,
      height: barH,
      fill: "url(#cm-bar)",
      stroke: "#d1d5db",
    }),
    ...[0, 0.25, 0.5, 0.75, 1].map((t) =>
      text(barX + 20, barScale.map(t) + 4, String(t), { fill: MUTED, "font-size": 11 })
    ),
  ];

  const parts = [
    defs,
    title(16, 26, heading),
    el("g", { class: "cells" }, cells),
    diag,
    el("g", { class: "row-labels" }, rowLabels),
    el("g", { class: "col-labels" }, colLabels),
    text(18, top + gridW / 2, "True class", {
      "text-anchor": "middle",
      "font-size": 13,
      transform: `rotate(-90 18 ${r2(top + gridW / 2)})`,
    }),
    text(left + gridW / 2, height - 12, "Predicted class", {
      "text-anchor": "middle",
      "font-size": 13,
    }),
    ...bar,
  ];
  return svgRoot(width, height, parts, { title: heading });
}

/** One off-diagonal cell of the confusion matrix. */
export interface ConfusedPair {
  /** True class. */
  trueClass: number;
  /** Predicted class. */
  predClass: number;
  /** Number of samples. */
  count: number;
  /** count / support of the true class. */
  rate: number;
}

/** The `k` largest off-diagonal counts, largest first (ties: lower true, then pred index). */
export function mostConfusedPairs(cm: ConfusionMatrix, k = 20): ConfusedPair[] {
  const sums = rowSums(cm);
  const pairs: ConfusedPair[] = [];
  for (let i = 0; i < cm.length; i++) {
    for (let j = 0; j < cm[i].length; j++) {
      const n = cm[i][j];
      if (i !== j && n > 0) pairs.push({ trueClass: i, predClass: j, count: n, rate: n / sums[i] });
    }
  }
  pairs.sort((a, b) => b.count - a.count || a.trueClass - b.trueClass || a.predClass - b.predClass);
  return pairs.slice(0, k);
}

/** Horizontal bars of the most-confused pairs ("true → predicted"). */
export function confusedPairsSvg(
  pairs: readonly ConfusedPair[],
  names?: readonly string[],
  opts: ConfusionOptions & { numClasses?: number } = {},
): string {
  const heading = opts.title ??
    `Most confused pairs${opts.numClasses ? ` (of ${opts.numClasses} classes)` : ""}`;
  if (pairs.length === 0) return emptyPlot(720, 160, heading, "no misclassifications");
  const maxChars = opts.maxNameChars ?? 22;
  const rowH = 24, top = 48, labelW = 2 * maxChars * 6.4 + 30;
  const left = Math.min(labelW, 330), width = 900, right = 150;
  const height = top + pairs.length * rowH + 44;
  const xs = new LinearScale(0, Math.max(...pairs.map((p) => p.count)), left, width - right);
  const rows = pairs.map((p, i) => {
    const y = top + i * rowH;
    const t = className(p.trueClass, names), pr = className(p.predClass, names);
    const label = `${truncateName(t, maxChars)} → ${truncateName(pr, maxChars)}`;
    const w = Math.max(1, xs.map(p.count) - left);
    return el("g", {}, [
      tooltip(
        `true: ${t}\npredicted: ${pr}\n${p.count} samples (${pct(p.rate)} of the true class)`,
      ),
      el("text", { x: left - 8, y: y + rowH / 2 + 4, "text-anchor": "end" }, escapeXml(label)),
      el("rect", {
        x: left,
        y: y + 4,
        width: w,
        height: rowH - 8,
        fill: "#dc2626",
        "fill-opacity": 0.35 + 0.5 * Math.min(1, p.rate / Math.max(1e-12, pairs[0].rate || 1)),
        rx: 2,
      }),
      text(left + w + 6, y + rowH / 2 + 4, `${compactCount(p.count)} (${pct(p.rate)})`, {
        fill: MUTED,
        "font-size": 11,
      }),
    ]);
  });
  const frame = {
    x: left,
    y: top - 4,
    width: width - right - left,
    height: pairs.length * rowH + 4,
  };
  const ys = new LinearScale(0, 1, frame.y + frame.height, frame.y);
  return svgRoot(width, height, [
    title(16, 26, heading),
    axes(frame, xs, ys, {
      xLabel: "Samples (share of the true class in parentheses)",
      yTicks: [],
      grid: false,
    }),
    ...rows,
  ], { title: heading });
}

/** Cell text: ".83", "1", "<.01" (two decimals without the leading zero). */
function cellLabel(v: number): string {
  if (v >= 0.995) return "1";
  if (v < 0.005) return "<.01";
  return v.toFixed(2).slice(1);
}

function truncateName(s: string, n: number): string {
  return s.length <= n ? s : s.slice(0, n - 1) + "…";
}

/**
 * The whole row-normalized matrix as an image, one pixel per cell (for many
 * classes; the page scales it up with nearest-neighbour sampling). Rows with no
 * samples are light gray.
 */
export function confusionOverviewImage(cm: ConfusionMatrix): RasterImage {
  const C = cm.length;
  const data = new Uint8Array(C * C * 3);
  const sums = rowSums(cm);
  for (let i = 0; i < C; i++) {
    for (let j = 0; j < C; j++) {
      // sqrt stretches small confusions so that they stay visible next to the diagonal
      const [r, g, b] = sums[i] === 0
        ? [235, 235, 235]
        : blues(Math.sqrt((cm[i][j] ?? 0) / sums[i]));
      const o = (i * C + j) * 3;
      data[o] = r;
      data[o + 1] = g;
      data[o + 2] = b;
    }
  }
  return { width: C, height: C, data };
}
