/**
 * The HTML report: one self-contained file (inline CSS, inline SVG plots,
 * images as data: URIs, a small inline script; nothing fetched) with the
 * summary, calibration, confusion, per-class results, curves, the most
 * confident mistakes, explanation maps, the embedding, skipped images and the
 * run metadata. Sections whose input is absent are left out.
 */
import { dirname } from "node:path";
import { VERSION } from "../version.ts";
import {
  confusedPairsSvg,
  confusionHeatmapSvg,
  confusionOverviewImage,
  HEATMAP_MAX_CLASSES,
  mostConfusedPairs,
} from "./confusion.ts";
import { prCurvesSvg, rocCurvesSvg } from "./curves.ts";
import { OUTSIDE_INTERVAL_NOTE, outsideInterval } from "../metrics/bootstrap.ts";
import { confidenceDistributionSvg, histogramsFromReliability } from "./distributions.ts";
import { className, escapeXml, fmt, isNum, pct, truncate } from "./format.ts";
import { renderPage } from "./page_assets.ts";
import { perClassBarsSvg, perClassRows, perClassTableHtml } from "./perclass.ts";
import { imageDataUri } from "./png.ts";
import { reliabilityDiagramSvg } from "./reliability.ts";
import { calibrationMethodsHtml } from "./calibration_methods.ts";
import { embeddingScatterSvg } from "./scatter.ts";
import { ttaSectionHtml } from "./tta_section.ts";
import type {
  CalibrationInput,
  IntervalLike,
  MaybeNumber,
  MetricsLike,
  ReportInput,
} from "./types.ts";

/** Metric fields the report shows in its own sections (the rest go to "Run metadata"). */
const KNOWN_FIELDS = new Set([
  "num_samples",
  "num_classes",
  "top1",
  "top5",
  "balanced_accuracy",
  "precision",
  "recall",
  "f1",
  "mcc",
  "cohen_kappa",
  "log_loss",
  "brier",
  "auroc",
  "auprc",
  "ece",
  "mce",
  "ace",
  "classwise_ece",
  "reliability",
  "confusion_matrix",
  "support",
  "failed",
  "classwise_ece_per_class",
  "temperature_scaling",
  "bootstrap",
  "calibration_split",
  "calibrated",
  "tta",
]);

interface Section {
  id: string;
  title: string;
  html: string;
}

function section(id: string, heading: string, lead: string, body: string): Section {
  return {
    id,
    title: heading,
    html: `<section class="card" id="${id}"><h2>${escapeXml(heading)}</h2>${
      lead ? `<p class="lead">${lead}</p>` : ""
    }${body}</section>`,
  };
}

function kpi(label: string, value: string, hint = "", warn = false): string {
  return `<div class="kpi${warn ? " warn" : ""}"><div class="label">${escapeXml(label)}</div>` +
    `<div class="value">${escapeXml(value)}</div>${
      hint ? `<div class="hint">${escapeXml(hint)}</div>` : ""
    }</div>`;
}

function summarySection(m: MetricsLike, failed: number): Section {
  const bs = m.bootstrap;
  const level = isNum(bs?.level) ? `${Math.round(bs.level * 100)}% CI ` : "CI ";
  const ci = (iv?: IntervalLike, value?: number | null) =>
    iv && isNum(iv.lo) && isNum(iv.hi)
      ? `${level}${fmt(iv.lo, 3)}–${fmt(iv.hi, 3)}` +
        (outsideInterval(value, iv.lo, iv.hi) ? ` ${OUTSIDE_INTERVAL_NOTE}` : "")
      : "";
  const bins = m.reliability?.length;
  const tiles = [
    kpi("Top-1 accuracy", fmt(m.top1), ci(bs?.top1, m.top1) || pct(m.top1)),
    kpi("Top-5 accuracy", fmt(m.top5), pct(m.top5)),
    kpi("Macro F1", fmt(m.f1?.macro), ci(bs?.macro_f1, m.f1?.macro)),
    kpi("Balanced accuracy", fmt(m.balanced_accuracy)),
    kpi("Log loss", fmt(m.log_loss), "lower is better"),
    kpi("ECE", fmt(m.ece), ci(bs?.ece, m.ece) || `${bins ? `${bins}-bin, ` : ""}lower is better`),
    kpi(
      "AUROC (macro)",
      fmt(m.auroc?.macro),
      `one vs rest${m.auroc?.method ? `, ${m.auroc.method}` : ""}`,
    ),
    kpi(
      "Samples",
      isNum(m.num_samples) ? m.num_samples.toLocaleString("en-US") : "n/a",
      `${isNum(m.num_classes) ? m.num_classes : "?"} classes` +
        (failed ? `, ${failed} skipped` : ""),
      failed > 0,
    ),
  ].join("");
  const row = (name: string, v: MaybeNumber, desc: string) =>
    `<tr><td>${name}</td><td class="num">${fmt(v)}</td><td class="desc">${desc}</td></tr>`;
  const avgRow = (name: string, a: MetricsLike["precision"], micro = true) =>
    `<tr><td>${name}</td><td class="num">${fmt(a?.macro)}</td><td class="num">${
      fmt(a?.weighted)
    }</td>` +
    `<td class="num">${micro ? fmt(a?.micro) : "—"}</td></tr>`;
  const scalar =
    `<table class="summary"><thead><tr><th>Metric</th><th class="num">Value</th><th>Meaning</th></tr></thead><tbody>
${row("Top-1 accuracy", m.top1, "fraction of samples whose top prediction is the label")}
${row("Top-5 accuracy", m.top5, "label among the 5 highest scores")}
${row("Balanced accuracy", m.balanced_accuracy, "mean recall over the classes present")}
${row("Matthews correlation", m.mcc, "multiclass MCC (R<sub>K</sub>), 1 = perfect, 0 = chance")}
${row("Cohen's kappa", m.cohen_kappa, "agreement beyond chance")}
${row("Log loss", m.log_loss, "mean −ln p(true class)")}
${row("Brier score", m.brier, "mean Σ<sub>c</sub>(p<sub>c</sub> − y<sub>c</sub>)², range 0–2")}
${row("ECE", m.ece, "expected calibration error, equal-width bins")}
${row("MCE", m.mce, "largest bin gap |accuracy − confidence|")}
${row("Adaptive ECE", m.ace, "equal-mass bins")}
${row("Classwise ECE", m.classwise_ece, "mean over classes of the one-vs-rest ECE")}
</tbody></table>`;
  const averaged =
    `<table class="summary"><thead><tr><th>Averaged</th><th class="num">Macro</th><th class="num">Weighted</th><th class="num">Micro</th></tr></thead><tbody>
${avgRow("Precision", m.precision)}
${avgRow("Recall", m.recall)}
${avgRow("F1", m.f1)}
${avgRow("AUROC (one vs rest)", m.auroc, false)}
${avgRow("AUPRC (average precision)", m.auprc, false)}
</tbody></table>`;
  return section(
    "summary",
    "Summary",
    "All values are fractions (0.827 = 82.7%). Missing values (e.g. AUROC of a class without positives) read n/a.",
    `<div class="kpis">${tiles}</div><div class="grid2"><div>${scalar}</div><div>${averaged}</div></div>`,
  );
}

/** Before/after calibration from the metrics' `temperature_scaling` entry. */
function calibrationFromMetrics(m: MetricsLike): CalibrationInput | undefined {
  const t = m.temperature_scaling;
  if (!t || !isNum(t.temperature)) return undefined;
  return {
    temperature: t.temperature,
    before: {
      nll: t.nll_before,
      ece: t.ece_before,
      mce: t.mce_before,
      reliability: t.reliability_before,
    },
    after: {
      nll: t.nll_after,
      ece: t.ece_after,
      mce: t.mce_after,
      reliability: t.reliability_after,
    },
  };
}

function calibrationSection(r: ReportInput): Section | undefined {
  const m = r.metrics;
  const c = r.calibration ?? calibrationFromMetrics(m);
  // The main diagram is the metrics' own; without it, the "before" side stands in.
  const bins = m.reliability?.length ? m.reliability : c?.before.reliability ?? [];
  const parts: string[] = [];
  const hist = r.confidenceHistograms ??
    (bins.length ? histogramsFromReliability(bins) : undefined);
  if (bins.length || hist) {
    parts.push(
      `<div class="grid2">${
        bins.length
          ? `<div class="plot-box">${
            reliabilityDiagramSvg(bins, {
              ece: m.reliability?.length ? m.ece : c?.before.ece,
              mce: m.reliability?.length ? m.mce : c?.before.mce,
            })
          }</div>`
          : ""
      }${hist ? `<div class="plot-box">${confidenceDistributionSvg(hist)}</div>` : ""}</div>`,
    );
  }
  if (c) {
    const row = (name: string, before: MaybeNumber, after: MaybeNumber) =>
      `<tr><td>${name}</td><td class="num">${fmt(before)}</td><td class="num">${
        fmt(after)
      }</td></tr>`;
    const table = `<table class="summary"><thead><tr><th>Temperature scaling</th>` +
      `<th class="num">T = 1</th><th class="num">T = ${
        fmt(c.temperature, 3)
      }</th></tr></thead><tbody>` +
      row("Negative log-likelihood", c.before.nll, c.after.nll) +
      row("ECE", c.before.ece, c.after.ece) +
      row("MCE", c.before.mce, c.after.mce) +
      `</tbody></table><p class="muted">Dividing the logits by T = ${fmt(c.temperature, 3)} ` +
      `(fitted by minimizing the NLL) changes no prediction, only the confidences.</p>`;
    parts.push(
      `<div class="grid2">${
        c.after.reliability?.length
          ? `<div class="plot-box">${
            reliabilityDiagramSvg(c.after.reliability, {
              title: `After temperature scaling (T = ${fmt(c.temperature, 3)})`,
              ece: c.after.ece,
              mce: c.after.mce,
            })
          }</div>`
          : ""
      }<div>${table}</div></div>`,
    );
  }
  if (!parts.length) return undefined;
  return section(
    "calibration",
    "Calibration",
    "Bars below the diagonal: the model is more confident than it is accurate (overconfident). " +
      "The histogram under the diagram shows how many samples each bin holds. Hover a bar for its numbers.",
    parts.join(""),
  );
}

function calibrationMethodsSection(r: ReportInput): Section | undefined {
  const c = calibrationMethodsHtml(r.metrics);
  return c && section("calibration-methods", "Calibration methods", c.lead, c.body);
}

function confusionSection(r: ReportInput): Section | undefined {
  const cm = r.metrics.confusion_matrix;
  if (!cm || cm.length === 0) return undefined;
  const C = cm.length;
  if (C <= HEATMAP_MAX_CLASSES) {
    return section(
      "confusion",
      "Confusion matrix",
      "Rows are true classes, columns predicted classes; each row is divided by its support, so the diagonal is the per-class recall. Hover a cell for counts.",
      `<div class="plot-box">${confusionHeatmapSvg(cm, r.classNames)}</div>`,
    );
  }
  const pairs = mostConfusedPairs(cm, 25);
  const overview = C <= 1024
    ? `<div class="overview"><p class="muted">Whole matrix, one pixel per cell (square-root color scale so small confusions stay visible).</p><img alt="confusion matrix overview" style="width:${
      // Integer magnification keeps every cell visible (no resampling drops a row).
      C * Math.max(1, Math.floor(480 / C))}px" src="${
      imageDataUri(confusionOverviewImage(cm))
    }"></div>`
    : "";
  return section(
    "confusion",
    "Most confused classes",
    `With ${C} classes a full grid is unreadable; these are the largest off-diagonal cells (true → predicted).`,
    `<div class="plot-box">${
      confusedPairsSvg(pairs, r.classNames, { numClasses: C })
    }</div>${overview}`,
  );
}

function perClassSection(r: ReportInput): Section | undefined {
  const rows = perClassRows(r.metrics, r.classNames);
  if (!rows.length) return undefined;
  const filter = rows.length > 15
    ? `<input class="filter" type="search" placeholder="Filter classes…" data-table="perclass-table" aria-label="Filter classes">`
    : "";
  return section(
    "per-class",
    "Per-class results",
    "Click a column header to sort. Support = number of true samples; Predicted = number of predictions of the class.",
    `<div class="plot-box">${perClassBarsSvg(rows)}</div>${filter}<div class="scroll">${
      perClassTableHtml(rows, "perclass-table")
    }</div>`,
  );
}

function curvesSection(r: ReportInput): Section | undefined {
  if (!r.curves?.length) return undefined;
  return section(
    "curves",
    "ROC and precision-recall curves",
    "One vs rest, for the selected classes (by default those with the lowest AUROC).",
    `<div class="grid2"><div class="plot-box">${
      rocCurvesSvg(r.curves, r.classNames)
    }</div><div class="plot-box">${prCurvesSvg(r.curves, r.classNames)}</div></div>`,
  );
}

function imageTag(src: string, alt: string): string {
  return `<img alt="${escapeXml(alt)}" loading="lazy" src="${src}">`;
}

function ttaSection(r: ReportInput): Section | undefined {
  const t = r.metrics.tta;
  if (!t) return undefined;
  return section(
    "tta",
    "Test-time augmentation",
    `${escapeXml(t.spec)}, ${t.views} views per image: the metrics without TTA (the plain view) ` +
      `and with it, from the same forward passes.`,
    ttaSectionHtml(t, r.ttaFlips ?? [], r.classNames),
  );
}

function mistakesSection(r: ReportInput): Section | undefined {
  if (!r.mistakes?.length) return undefined;
  const names = r.classNames;
  const tiles = r.mistakes.map((m) => {
    const img = m.thumbnail ? imageTag(imageDataUri(m.thumbnail), m.path) : "no thumbnail";
    const pred = className(m.pred, names), truth = className(m.label, names);
    return `<div class="tile"><div class="img">${img}</div><div class="meta">` +
      `<div class="pred" title="predicted: ${escapeXml(pred)}">✗ ${
        escapeXml(truncate(pred, 40))
      }</div>` +
      `<div class="true" title="true: ${escapeXml(truth)}">✓ ${
        escapeXml(truncate(truth, 40))
      }</div>` +
      `<div class="conf">confidence ${fmt(m.confidence, 3)}</div>` +
      `<div class="path" title="${escapeXml(m.path)}">${escapeXml(m.path)}</div></div></div>`;
  }).join("\n");
  return section(
    "mistakes",
    "Most confident mistakes",
    `${r.mistakes.length} wrong predictions with the highest confidence (red: predicted, green: true class).`,
    `<div class="gallery">${tiles}</div>`,
  );
}

function explanationsSection(r: ReportInput): Section | undefined {
  if (!r.explanations?.length) return undefined;
  const names = r.classNames;
  const tiles = r.explanations.map((e) => {
    const overlay = imageTag(imageDataUri(e.overlay), `${e.method} map`);
    const original = e.image ? imageTag(imageDataUri(e.image), e.path) : "";
    const lines = [
      `<div><b>${escapeXml(e.method)}</b> for ${
        escapeXml(truncate(className(e.class, names), 30))
      }</div>`,
      e.pred !== undefined
        ? `<div>pred ${escapeXml(truncate(className(e.pred, names), 30))}${
          isNum(e.confidence) ? ` <span class="conf">(${fmt(e.confidence, 3)})</span>` : ""
        }</div>`
        : "",
      e.label !== undefined
        ? `<div>true ${escapeXml(truncate(className(e.label, names), 30))}</div>`
        : "",
      `<div class="path" title="${escapeXml(e.path)}">${escapeXml(e.path)}</div>`,
    ].join("");
    return `<div class="tile"><div class="img${
      original ? " pair" : ""
    }">${original}${overlay}</div>` +
      `<div class="meta">${lines}</div></div>`;
  }).join("\n");
  return section(
    "explanations",
    "Explanation maps",
    "Where the evidence for the class lies (warm colors = more). Left: the input, right: the map blended onto it.",
    `<div class="gallery wide">${tiles}</div>`,
  );
}

function embeddingSection(r: ReportInput): Section | undefined {
  if (!r.embedding?.points.length) return undefined;
  return section(
    "embedding",
    "Embedding",
    "Each point is an image, placed by a 2-D projection of the penultimate features and colored by its true class; × marks a misclassified image, drawn in the color of the class it was predicted as (hover for details).",
    `<div class="plot-box">${embeddingScatterSvg(r.embedding, r.classNames)}</div>`,
  );
}

/** Most failed images listed in the page (the count is always complete). */
const MAX_FAILED_ROWS = 500;

function failedSection(r: ReportInput): Section | undefined {
  const failed = r.metrics.failed ?? [];
  if (!failed.length) return undefined;
  const rows = failed.slice(0, MAX_FAILED_ROWS).map((f) =>
    `<tr><td title="${escapeXml(f.path)}">${escapeXml(f.path)}</td><td>${
      escapeXml(f.reason)
    }</td></tr>`
  ).join("\n");
  const more = failed.length > MAX_FAILED_ROWS
    ? `<p class="muted">… and ${
      failed.length - MAX_FAILED_ROWS
    } more (all are listed in metrics.json).</p>`
    : "";
  return section(
    "failed",
    `Skipped images (${failed.length})`,
    "These images were not evaluated and are not counted in any metric.",
    `<div class="scroll"><table class="sortable"><thead><tr><th data-type="text">Path</th><th data-type="text">Reason</th></tr></thead><tbody>${rows}</tbody></table></div>${more}`,
  );
}

/** A metadata value as HTML: scalars as text, flat arrays joined, objects as JSON. */
function metaValue(v: unknown): string {
  if (v === null || v === undefined) return `<span class="muted">n/a</span>`;
  if (typeof v === "number") return escapeXml(metaNumber(v));
  if (typeof v !== "object") return escapeXml(String(v));
  if (Array.isArray(v) && v.every((x) => x === null || typeof x !== "object")) {
    if (v.length === 0) return `<span class="muted">none</span>`;
    // Long per-class arrays belong in metrics.json, not in a table cell.
    if (v.length > 12) return `<span class="muted">${v.length} values (see metrics.json)</span>`;
    return escapeXml(v.map((x) => (typeof x === "number" ? metaNumber(x) : String(x))).join(", "));
  }
  return `<pre class="json">${escapeXml(truncate(JSON.stringify(v, null, 2), 4000))}</pre>`;
}

/** A metadata number: integers as they are, others to 6 significant digits. */
function metaNumber(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(6)));
}

/** Flattens nested plain objects into dotted keys (two levels), so tables stay readable. */
function flatten(obj: Record<string, unknown>, prefix = "", depth = 0): [string, unknown][] {
  const out: [string, unknown][] = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v && typeof v === "object" && !Array.isArray(v) && depth < 2 && !ArrayBuffer.isView(v)) {
      out.push(...flatten(v as Record<string, unknown>, key, depth + 1));
    } else out.push([key, v]);
  }
  return out;
}

function metadataSection(r: ReportInput): Section {
  const extra: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r.metrics)) if (!KNOWN_FIELDS.has(k)) extra[k] = v;
  const entries = [...flatten(extra), ...flatten({ ...(r.meta ?? {}) })];
  entries.push(["report.generator", `visioneval ${VERSION}`]);
  const rows = entries.map(([k, v]) => `<tr><td>${escapeXml(k)}</td><td>${metaValue(v)}</td></tr>`)
    .join("\n");
  return section(
    "metadata",
    "Run metadata",
    "",
    `<table class="summary"><tbody>${rows}</tbody></table>`,
  );
}

/** Header subtitle: model / data / date when the metadata has them. */
function subtitle(r: ReportInput): string {
  // Look in the explicit metadata, then the metrics, then the metrics' `run` block.
  const all: Record<string, unknown> = { ...(r.meta ?? {}) };
  const run = (r.metrics as { run?: unknown }).run;
  const sources = [r.metrics, run && typeof run === "object" ? run : {}];
  for (const src of sources) {
    for (const [k, v] of Object.entries(src)) if (!(k in all)) all[k] = v;
  }
  const pick = (k: string): string | undefined => {
    const v = all[k];
    if (typeof v === "string") return v;
    if (v && typeof v === "object") {
      const o = v as Record<string, unknown>;
      for (const f of ["path", "name", "id"]) if (typeof o[f] === "string") return o[f] as string;
    }
    return undefined;
  };
  const speed = all["images_per_second"];
  const bits = [
    pick("model") ? `model ${pick("model")}` : "",
    pick("data") ?? pick("dataset") ? `data ${pick("data") ?? pick("dataset")}` : "",
    isNum(r.metrics.num_samples) ? `${r.metrics.num_samples.toLocaleString("en-US")} images` : "",
    isNum(r.metrics.num_classes) ? `${r.metrics.num_classes} classes` : "",
    pick("adapter") ? `GPU ${pick("adapter")}` : "",
    isNum(speed) ? `${speed.toPrecision(3)} images/s` : "",
    pick("started") ?? "",
  ].filter((s) => s);
  return bits.map((b) => `<span>${escapeXml(truncate(b, 120))}</span>`).join("");
}

/** The complete report page as an HTML string. */
export function renderHtmlReport(report: ReportInput): string {
  const m = report.metrics;
  const heading = report.title ?? "Classifier evaluation report";
  const sections = [
    summarySection(m, m.failed?.length ?? 0),
    calibrationSection(report),
    calibrationMethodsSection(report),
    ttaSection(report),
    confusionSection(report),
    perClassSection(report),
    curvesSection(report),
    mistakesSection(report),
    explanationsSection(report),
    embeddingSection(report),
    failedSection(report),
    metadataSection(report),
  ].filter((s): s is Section => s !== undefined);
  const toc = sections.map((s) => `<a href="#${s.id}">${escapeXml(s.title)}</a>`).join("");
  return renderPage(heading, {
    subtitle: subtitle(report),
    nav: toc,
    main: sections.map((s) => s.html).join("\n"),
  });
}

/** Writes the self-contained HTML report to `path` (creating the folder). */
export async function writeHtmlReport(path: string, report: ReportInput): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, renderHtmlReport(report));
}
