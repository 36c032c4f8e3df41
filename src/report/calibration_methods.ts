/**
 * The report's "Calibration methods" section: the table of metrics.json's
 * `calibration_split` (every method fitted on one part, measured on the
 * other) or `calibrated` (a stored calibrator on every sample), and one
 * reliability diagram per method.
 */
import { escapeXml, fmt } from "./format.ts";
import { reliabilityDiagramSvg } from "./reliability.ts";
import type { CalibrationTableLike, MetricsLike } from "./types.ts";

/** The section's lead and body, or undefined when neither table is present. */
export function calibrationMethodsHtml(
  m: MetricsLike,
): { lead: string; body: string } | undefined {
  const parts: string[] = [], leads: string[] = [];
  const split = m.calibration_split, cal = m.calibrated;
  if (split?.rows?.length) {
    leads.push(
      `Each method was fitted on ${split.fit_samples} images (a seeded, stratified split) and ` +
        `every number is measured on the other ${split.eval_samples}; "none" is the model's own ` +
        `softmax on those images.`,
    );
    parts.push(tableHtml(split), diagramsHtml(split));
  }
  if (cal?.rows?.length) {
    leads.push(
      `The calibrator ${escapeXml(cal.calibrator ?? "")} applied to all ${cal.samples} images.`,
    );
    parts.push(tableHtml(cal), diagramsHtml(cal));
  }
  if (!parts.length) return undefined;
  return {
    lead: leads.join(" ") + " Lower is better for every column but top-1.",
    body: parts.join(""),
  };
}

function tableHtml(t: CalibrationTableLike): string {
  const best = (key: "nll" | "brier" | "ece" | "ace" | "classwise_ece") =>
    Math.min(...t.rows.map((r) => (typeof r[key] === "number" ? r[key] as number : Infinity)));
  const cell = (v: unknown, b?: number) =>
    `<td class="num">${v === b ? `<b>${fmt(v)}</b>` : fmt(v)}</td>`;
  const rows = t.rows.map((r) =>
    r.refused
      ? `<tr><td>${escapeXml(r.method)}</td><td colspan="6" class="desc">refused: ${
        escapeXml(r.refused)
      }</td></tr>`
      : `<tr><td>${escapeXml(r.method)}</td>${cell(r.nll, best("nll"))}${
        cell(r.brier, best("brier"))
      }${cell(r.ece, best("ece"))}${cell(r.ace, best("ace"))}${
        cell(r.classwise_ece, best("classwise_ece"))
      }${cell(r.accuracy)}</tr>`
  ).join("");
  return `<table class="summary"><thead><tr><th>Method</th><th class="num">NLL</th>` +
    `<th class="num">Brier</th><th class="num">ECE</th><th class="num">Adaptive ECE</th>` +
    `<th class="num">Class-wise ECE</th><th class="num">Top-1</th></tr></thead><tbody>${rows}` +
    `</tbody></table>`;
}

function diagramsHtml(t: CalibrationTableLike): string {
  const plots = t.rows.filter((r) => r.reliability?.length).map((r) =>
    `<div class="plot-box">${
      reliabilityDiagramSvg(r.reliability!, {
        title: r.method === "none" ? "Uncalibrated" : r.method,
        ece: r.ece,
        width: 360,
        height: 340,
      })
    }</div>`
  );
  return `<div class="grid2">${plots.join("")}</div>`;
}
