/**
 * Per-class results: rows of precision / recall / F1 / support (and AUROC,
 * AUPRC when present), rendered as a sortable HTML table and as grouped bars.
 */
import { categorical } from "./colormap.ts";
import { className, escapeXml, fmt, isNum } from "./format.ts";
import {
  axes,
  el,
  emptyPlot,
  legendRow,
  legendRowWidth,
  LinearScale,
  r2,
  svgRoot,
  text,
  title,
  tooltip,
} from "./svg.ts";
import type { MaybeNumber, MetricsLike } from "./types.ts";

/** One class's scores. */
export interface PerClassRow {
  /** Class index. */
  index: number;
  /** Display name. */
  name: string;
  /** Number of true samples. */
  support: number;
  /** Number of predictions of this class. */
  predicted?: number;
  /** Precision. */
  precision: MaybeNumber;
  /** Recall. */
  recall: MaybeNumber;
  /** F1. */
  f1: MaybeNumber;
  /** One-vs-rest ROC AUC. */
  auroc: MaybeNumber;
  /** Average precision. */
  auprc: MaybeNumber;
  /** One-vs-rest calibration error of the class. */
  ece: MaybeNumber;
}

/**
 * Per-class rows from the metrics object. Support and predicted counts come
 * from `support` or the confusion matrix; C from `num_classes`, else from the
 * longest per-class array.
 */
export function perClassRows(m: MetricsLike, names?: readonly string[]): PerClassRow[] {
  const cm = m.confusion_matrix;
  const C = m.num_classes ?? Math.max(
    cm?.length ?? 0,
    m.precision?.per_class?.length ?? 0,
    m.recall?.per_class?.length ?? 0,
    m.f1?.per_class?.length ?? 0,
  );
  const rows: PerClassRow[] = [];
  for (let k = 0; k < C; k++) {
    const support = m.support?.[k] ?? cm?.[k]?.reduce((a, b) => a + b, 0) ?? 0;
    const predicted = cm ? cm.reduce((a, row) => a + (row[k] ?? 0), 0) : undefined;
    rows.push({
      index: k,
      name: className(k, names),
      support,
      predicted,
      precision: m.precision?.per_class?.[k],
      recall: m.recall?.per_class?.[k],
      f1: m.f1?.per_class?.[k],
      auroc: m.auroc?.per_class?.[k],
      auprc: m.auprc?.per_class?.[k],
      ece: m.classwise_ece_per_class?.[k],
    });
  }
  return rows;
}

/** Sort value of a metric cell: missing values sort below every number. */
function sortValue(x: MaybeNumber): string {
  return isNum(x) ? String(x) : "-Infinity";
}

/** A bar inside a table cell, so the eye can scan a column. */
function meterCell(x: MaybeNumber): string {
  const w = isNum(x) ? Math.round(Math.max(0, Math.min(1, x)) * 100) : 0;
  return `<td class="num" data-v="${
    sortValue(x)
  }"><span class="meter"><span style="width:${w}%"></span></span>${fmt(x, 3)}</td>`;
}

/**
 * The per-class table (HTML). Columns sort on click (the page's inline script
 * reads `data-v` for numbers); rows start in class-index order.
 */
export function perClassTableHtml(rows: readonly PerClassRow[], id = "perclass-table"): string {
  const hasAuc = rows.some((r) => isNum(r.auroc) || isNum(r.auprc));
  const hasPred = rows.some((r) => r.predicted !== undefined);
  const hasEce = rows.some((r) => isNum(r.ece));
  const head = [
    `<th data-type="num">#</th>`,
    `<th data-type="text">Class</th>`,
    `<th data-type="num">Support</th>`,
    hasPred ? `<th data-type="num">Predicted</th>` : "",
    `<th data-type="num">Precision</th>`,
    `<th data-type="num">Recall</th>`,
    `<th data-type="num">F1</th>`,
    hasAuc ? `<th data-type="num">AUROC</th><th data-type="num">AUPRC</th>` : "",
    hasEce ? `<th data-type="num" title="one-vs-rest calibration error">ECE</th>` : "",
  ].join("");
  const body = rows.map((r) =>
    `<tr><td class="num" data-v="${r.index}">${r.index}</td>` +
    `<td class="name" title="${escapeXml(r.name)}">${escapeXml(r.name)}</td>` +
    `<td class="num" data-v="${r.support}">${r.support.toLocaleString("en-US")}</td>` +
    (hasPred
      ? `<td class="num" data-v="${r.predicted ?? 0}">${
        (r.predicted ?? 0).toLocaleString("en-US")
      }</td>`
      : "") +
    meterCell(r.precision) + meterCell(r.recall) + meterCell(r.f1) +
    (hasAuc ? meterCell(r.auroc) + meterCell(r.auprc) : "") +
    (hasEce ? `<td class="num" data-v="${sortValue(r.ece)}">${fmt(r.ece, 3)}</td>` : "") +
    `</tr>`
  ).join("\n");
  return `<table class="sortable perclass" id="${
    escapeXml(id)
  }"><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const SERIES = [
  { key: "precision", label: "Precision", color: categorical(0) },
  { key: "recall", label: "Recall", color: categorical(1) },
  { key: "f1", label: "F1", color: categorical(2) },
] as const;

/** Options of `perClassBarsSvg`. */
export interface PerClassBarsOptions {
  /** Most classes shown; beyond it the classes with the lowest F1 are shown. Default 30. */
  maxClasses?: number;
  /** Plot title. */
  title?: string;
  /** Width in pixels (default 1000). */
  width?: number;
}

/**
 * Grouped precision/recall/F1 bars per class. With more than `maxClasses`
 * classes, shows the ones with the lowest F1 (those that need attention).
 */
export function perClassBarsSvg(
  rows: readonly PerClassRow[],
  opts: PerClassBarsOptions = {},
): string {
  const maxClasses = opts.maxClasses ?? 30;
  const width = opts.width ?? 1000;
  let shown = [...rows];
  let heading = opts.title ?? "Precision, recall and F1 per class";
  if (rows.length > maxClasses) {
    shown = [...rows]
      // Lowest F1 first; among equal F1, the classes with more samples matter more.
      .sort((a, b) =>
        (isNum(a.f1) ? a.f1 : -1) - (isNum(b.f1) ? b.f1 : -1) || b.support - a.support ||
        a.index - b.index
      )
      .slice(0, maxClasses);
    const zeroF1 = rows.filter((r) => r.f1 === 0 && r.support > 0).length;
    heading = opts.title ??
      `Precision, recall and F1 of the ${maxClasses} classes with the lowest F1 (of ${rows.length}${
        zeroF1 ? `; ${zeroF1} with samples have F1 = 0` : ""
      })`;
  }
  if (shown.length === 0) return emptyPlot(width, 200, heading, "no classes");
  const longest = Math.min(18, Math.max(...shown.map((r) => r.name.length)));
  const left = 64, right = 16, top = 50;
  const labelH = longest * 6.4 * Math.SQRT1_2 + 20;
  const plotH = 240;
  const height = top + plotH + labelH + 20;
  const frame = { x: left, y: top, width: width - left - right, height: plotH };
  const group = frame.width / shown.length;
  const barW = Math.max(1, Math.min(16, (group * 0.8) / 3));
  const xs = new LinearScale(0, shown.length, frame.x, frame.x + frame.width);
  const ys = new LinearScale(0, 1, frame.y + frame.height, frame.y);
  const parts: string[] = [
    title(16, 26, heading, 140),
    axes(frame, xs, ys, { yLabel: "Score", xTicks: [], yTicks: [0, 0.2, 0.4, 0.6, 0.8, 1] }),
  ];
  shown.forEach((r, i) => {
    const cx = frame.x + (i + 0.5) * group;
    const bars = SERIES.map((s, j) => {
      const v = r[s.key];
      const x = cx + (j - 1.5) * barW;
      if (!isNum(v)) {
        return text(x + barW / 2, ys.map(0) - 3, "–", { "text-anchor": "middle", "font-size": 9 });
      }
      return el("rect", {
        x,
        width: barW - 0.5,
        // A 1.5 px stub keeps a zero score visible as "measured, and zero".
        y: Math.min(ys.map(v), ys.map(0) - 1.5),
        height: Math.max(1.5, ys.map(0) - ys.map(v)),
        fill: s.color,
      });
    });
    const lx = cx + 3, ly = frame.y + frame.height + 10;
    parts.push(el("g", {}, [
      tooltip(
        `${r.name} (#${r.index}), support ${r.support}\nprecision ${fmt(r.precision)}, recall ${
          fmt(r.recall)
        }, F1 ${fmt(r.f1)}`,
      ),
      el("rect", {
        x: cx - group / 2,
        y: frame.y,
        width: group,
        height: frame.height,
        fill: "transparent",
      }),
      ...bars,
    ]));
    parts.push(text(lx, ly, r.name, {
      "text-anchor": "end",
      "font-size": 11,
      transform: `rotate(-45 ${r2(lx)} ${r2(ly)})`,
    }, 18));
  });
  const items = SERIES.map((s) => ({ label: s.label, color: s.color }));
  parts.push(legendRow(items, width - right - legendRowWidth(items), 26));
  return svgRoot(width, height, parts, { title: heading });
}
