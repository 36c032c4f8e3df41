/**
 * comparison.html: one self-contained page (inline CSS and SVG, images as
 * data: URIs) comparing models on the same images: headline metrics with
 * bootstrap intervals, per pair McNemar's test, paired differences, the
 * agreement table, per-class deltas and the galleries of images one model
 * gets right and the other wrong; reliability diagrams overlaid; the matrix
 * of prediction agreement.
 */
import { dirname } from "node:path";
import type { ComparedMetric, Comparison } from "../metrics/compare.ts";
import { COMPARED_METRICS, comparisonSummary, HIGHER_IS_BETTER } from "../metrics/compare.ts";
import { categorical } from "./colormap.ts";
import { className, escapeXml, fmt, isNum, truncate } from "./format.ts";
import { renderPage } from "./page_assets.ts";
import { imageDataUri } from "./png.ts";
import {
  axes,
  el,
  type Frame,
  legend,
  LinearScale,
  MUTED,
  pathThrough,
  svgRoot,
  title,
} from "./svg.ts";
import type { RasterImage, ReliabilityBin } from "./types.ts";

/** An image one model of a pair gets right and the other wrong. */
export interface DisagreementExample {
  /** Image path. */
  path: string;
  /** True class. */
  label: number;
  /** The model that is right: its prediction and confidence. */
  right: { pred: number; confidence: number };
  /** The model that is wrong. */
  wrong: { pred: number; confidence: number };
  /** Thumbnail, when the image could be read. */
  thumbnail?: RasterImage;
}

/** What comparison.html shows. */
export interface ComparisonReportInput {
  /** The comparison.json object. */
  comparison: Comparison & { runs?: { name: string; source: string }[] };
  /** Class names of the label space. */
  classNames: readonly string[];
  /** Reliability table per model (same order as `comparison.models`). */
  reliability: readonly (readonly ReliabilityBin[])[];
  /** Per pair: images A gets right and B wrong (`aOnly`) and the reverse. */
  galleries: {
    a: string;
    b: string;
    aOnly: DisagreementExample[];
    bOnly: DisagreementExample[];
  }[];
}

const LABELS: Record<ComparedMetric, string> = {
  top1: "Top-1",
  macro_f1: "Macro-F1",
  log_loss: "Log loss",
  ece: "ECE",
};

function section(id: string, heading: string, lead: string, body: string): string {
  return `<section class="card" id="${id}"><h2>${escapeXml(heading)}</h2>${
    lead ? `<p class="lead">${lead}</p>` : ""
  }${body}</section>`;
}

function interval(i: { lo: number; hi: number } | null): string {
  return i ? `[${fmt(i.lo)}, ${fmt(i.hi)}]` : "";
}

function headlineTable(c: Comparison): string {
  const head = `<tr><th>model</th>${
    COMPARED_METRICS.map((k) => `<th>${LABELS[k]} ${HIGHER_IS_BETTER[k] ? "↑" : "↓"}</th>`).join("")
  }</tr>`;
  const rows = c.models.map((m) =>
    `<tr><td>${escapeXml(m.name)}</td>${
      COMPARED_METRICS.map((k) => {
        const v = m.metrics[k];
        return `<td>${isNum(v.value) ? fmt(v.value) : "n/a"} <span class="muted">${
          interval(v.interval)
        }</span></td>`;
      }).join("")
    }</tr>`
  ).join("");
  return `<table class="summary"><thead>${head}</thead><tbody>${rows}</tbody></table>`;
}

function pairSection(c: Comparison, k: number, names: readonly string[]): string {
  const p = c.pairs[k];
  const m = p.mcnemar;
  const diffRows = COMPARED_METRICS.map((key) => {
    const d = p.differences[key];
    return `<tr><td>${LABELS[key]}</td><td>${isNum(d.value) ? fmt(d.value) : "n/a"}</td><td>${
      interval(d.interval)
    }</td></tr>`;
  }).join("");
  const a = escapeXml(p.a), b = escapeXml(p.b);
  const agreement =
    `<table class="summary"><thead><tr><th></th><th>${b} right</th><th>${b} wrong</th>` +
    `</tr></thead><tbody><tr><td>${a} right</td><td>${p.agreement.both_right}</td><td><b>${p.agreement.a_only}</b> (b)</td></tr>` +
    `<tr><td>${a} wrong</td><td><b>${p.agreement.b_only}</b> (c)</td><td>${p.agreement.both_wrong}</td></tr></tbody></table>`;
  const deltas = p.per_class.slice(0, 30).map((d) =>
    `<tr><td>${escapeXml(truncate(className(d.class, names), 40))}</td><td>${d.support}</td>` +
    `<td>${fmt(d.recall.a, 3)}</td><td>${fmt(d.recall.b, 3)}</td><td>${
      fmt(d.recall.delta, 3)
    }</td>` +
    `<td>${fmt(d.f1.a, 3)}</td><td>${fmt(d.f1.b, 3)}</td><td>${fmt(d.f1.delta, 3)}</td></tr>`
  ).join("");
  const body = `<p>McNemar's exact test: b = ${m.b}, c = ${m.c}, p = ${m.p_value.toPrecision(4)} ` +
    `(${m.p_value < 0.05 ? "significant" : "not significant"} at 0.05). ` +
    `Same prediction on ${p.same_prediction} of ${c.num_samples} images.</p>` +
    `<div class="grid2"><div>${agreement}</div><div><table class="summary"><thead><tr><th>${a} − ${b}</th>` +
    `<th>difference</th><th>${
      Math.round(c.bootstrap.level * 100)
    }% paired interval</th></tr></thead>` +
    `<tbody>${diffRows}</tbody></table></div></div>` +
    `<h3>Per-class deltas (largest first${p.per_class.length > 30 ? ", 30 shown" : ""})</h3>` +
    `<table class="summary"><thead><tr><th>class</th><th>support</th><th>recall ${a}</th>` +
    `<th>recall ${b}</th><th>Δ recall</th><th>F1 ${a}</th><th>F1 ${b}</th><th>Δ F1</th></tr></thead>` +
    `<tbody>${deltas}</tbody></table>`;
  return section(`pair-${k}`, `${p.a} vs ${p.b}`, "", body);
}

function agreementMatrix(c: Comparison): string {
  const names = c.models.map((m) => escapeXml(m.name));
  const head = `<tr><th></th>${names.map((n) => `<th>${n}</th>`).join("")}</tr>`;
  const rows = c.prediction_agreement.map((row, i) =>
    `<tr><td>${names[i]}</td>${row.map((v) => `<td>${fmt(v, 4)}</td>`).join("")}</tr>`
  ).join("");
  return section(
    "agreement",
    "Prediction agreement",
    "Fraction of images on which two models predict the same class.",
    `<table class="summary"><thead>${head}</thead><tbody>${rows}</tbody></table>`,
  );
}

/** Reliability curves of several models on one plot (accuracy against mean confidence per bin). */
export function reliabilityOverlaySvg(
  series: readonly { name: string; bins: readonly ReliabilityBin[] }[],
  width = 560,
  height = 460,
): string {
  const f: Frame = { x: 64, y: 44, width: width - 84, height: height - 100 };
  const xs = new LinearScale(0, 1, f.x, f.x + f.width);
  const ys = new LinearScale(0, 1, f.y + f.height, f.y);
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const parts = [
    title(16, 26, "Reliability diagrams"),
    axes(f, xs, ys, { xLabel: "Confidence", yLabel: "Accuracy", xTicks: ticks, yTicks: ticks }),
    el("line", {
      x1: xs.map(0),
      y1: ys.map(0),
      x2: xs.map(1),
      y2: ys.map(1),
      stroke: MUTED,
      "stroke-dasharray": "5 4",
    }),
  ];
  series.forEach((s, k) => {
    const color = categorical(k, series.length);
    const pts = s.bins
      .filter((b) => b.count > 0 && isNum(b.confidence) && isNum(b.accuracy))
      .map((b) =>
        [xs.map(b.confidence as number), ys.map(b.accuracy as number)] as [number, number]
      );
    if (!pts.length) return;
    parts.push(el("path", { d: pathThrough(pts), fill: "none", stroke: color, "stroke-width": 2 }));
    for (const [x, y] of pts) parts.push(el("circle", { cx: x, cy: y, r: 3, fill: color }));
  });
  const items = series.map((s, k) => ({
    label: s.name,
    color: categorical(k, series.length),
    shape: "line" as const,
  }));
  parts.push(legend(items, f.x + 8, f.y + 8, { maxChars: 30 }).svg);
  return svgRoot(width, height, parts, { title: "Reliability diagrams of the compared models" });
}

function tile(
  e: DisagreementExample,
  right: string,
  wrong: string,
  names: readonly string[],
): string {
  const img = e.thumbnail
    ? `<img alt="${escapeXml(e.path)}" loading="lazy" src="${imageDataUri(e.thumbnail)}">`
    : "no thumbnail";
  return `<div class="tile"><div class="img">${img}</div><div class="meta">` +
    `<div class="true">✓ ${escapeXml(truncate(className(e.label, names), 40))}</div>` +
    `<div>${escapeXml(right)}: ${escapeXml(truncate(className(e.right.pred, names), 30))} (${
      fmt(e.right.confidence, 3)
    })</div>` +
    `<div class="pred">${escapeXml(wrong)}: ${
      escapeXml(truncate(className(e.wrong.pred, names), 30))
    } (${fmt(e.wrong.confidence, 3)})</div>` +
    `<div class="path" title="${escapeXml(e.path)}">${escapeXml(e.path)}</div></div></div>`;
}

function galleriesSection(r: ComparisonReportInput): string {
  const parts = r.galleries.map((g) => {
    const one = (xs: DisagreementExample[], right: string, wrong: string) =>
      `<h3>${escapeXml(right)} right, ${escapeXml(wrong)} wrong (${xs.length} shown)</h3>` +
      (xs.length
        ? `<div class="gallery">${
          xs.map((e) => tile(e, right, wrong, r.classNames)).join("")
        }</div>`
        : `<p class="muted">none</p>`);
    return one(g.aOnly, g.a, g.b) + one(g.bOnly, g.b, g.a);
  }).join("");
  return section(
    "galleries",
    "Where the models disagree",
    "Images one model gets right and the other wrong, the wrong model's most confident first.",
    parts,
  );
}

/** The comparison page as an HTML string. */
export function renderComparisonHtml(r: ComparisonReportInput): string {
  const c = r.comparison;
  const heading = `Comparison of ${c.models.map((m) => m.name).join(", ")}`;
  const summary = comparisonSummary(c).map((l) => `<li>${escapeXml(l)}</li>`).join("");
  const sources = (c.runs ?? []).map((s) => `<li>${escapeXml(s.name)}: ${escapeXml(s.source)}</li>`)
    .join("");
  const sections = [
    section(
      "summary",
      "Summary",
      `${c.num_samples} images, ${c.num_classes} classes; ${c.bootstrap.replicates} ${c.bootstrap.method}, seed ${c.bootstrap.seed}.`,
      `${headlineTable(c)}<ul>${summary}</ul>${sources ? `<ul class="muted">${sources}</ul>` : ""}`,
    ),
    ...c.pairs.map((_, k) => pairSection(c, k, r.classNames)),
    agreementMatrix(c),
    section(
      "reliability",
      "Calibration",
      `Accuracy against mean confidence in ${c.calibration_bins} equal-width bins; the dashed diagonal is perfect calibration.`,
      reliabilityOverlaySvg(
        c.models.map((m, k) => ({ name: m.name, bins: r.reliability[k] ?? [] })),
      ),
    ),
    galleriesSection(r),
  ];
  return renderPage(heading, { main: sections.join("\n") });
}

/** Writes comparison.html. */
export async function writeComparisonHtml(path: string, r: ComparisonReportInput): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, renderComparisonHtml(r));
}
