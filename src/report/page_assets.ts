/**
 * The stylesheet and the small script inlined into report.html and
 * comparison.html (the pages load nothing from the network), and the page
 * around their sections. The script makes tables with class "sortable" sort
 * on a header click and filters rows by a text box.
 */
import { VERSION } from "../version.ts";
import { escapeXml } from "./format.ts";

/** Page stylesheet. */
export const PAGE_CSS = `
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#f4f5f7; --card:#fff; --accent:#2563eb;
  --good:#15803d; --bad:#b91c1c; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin:0; background:var(--bg); color:var(--ink); font: 14px/1.45 system-ui, -apple-system,
  "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
header.top { background:#111827; color:#f9fafb; padding:22px 0 18px; }
header.top h1 { margin:0 0 4px; font-size:22px; font-weight:650; letter-spacing:.2px; overflow-wrap:anywhere; }
header.top .sub { color:#cbd5e1; font-size:13px; overflow-wrap:anywhere; }
header.top .sub span + span::before { content:"·"; margin:0 8px; color:#64748b; }
nav.toc { position:sticky; top:0; z-index:5; background:#ffffffee; border-bottom:1px solid var(--line);
  backdrop-filter: blur(4px); }
nav.toc .wrap { display:flex; gap:4px; flex-wrap:wrap; padding:6px 24px; }
nav.toc a { color:var(--ink); text-decoration:none; padding:4px 10px; border-radius:6px; font-size:13px; }
nav.toc a:hover { background:#eef2ff; color:var(--accent); }
.wrap { max-width:1240px; margin:0 auto; padding:0 24px; }
section.card { background:var(--card); border:1px solid var(--line); border-radius:10px;
  padding:18px 20px 20px; margin:18px 0; box-shadow:0 1px 2px #0000000d; }
section.card > h2 { margin:0 0 4px; font-size:17px; font-weight:650; }
section.card > p.lead { margin:0 0 14px; color:var(--muted); font-size:13px; }
.kpis { display:grid; grid-template-columns:repeat(auto-fill, minmax(126px, 1fr)); gap:10px; margin:4px 0 16px; }
.kpi { border:1px solid var(--line); border-radius:8px; padding:10px 12px; background:#fafafa; }
.kpi .label { color:var(--muted); font-size:12px; }
.kpi .value { font-size:21px; font-weight:650; font-variant-numeric: tabular-nums; }
.kpi .hint { color:var(--muted); font-size:11px; }
.kpi.warn { border-color:#fecaca; background:#fef2f2; }
.grid2 { display:grid; grid-template-columns:repeat(auto-fit, minmax(440px, 1fr)); gap:16px; align-items:start; }
.plot-box { overflow-x:auto; }
svg.plot { max-width:100%; height:auto; display:block; }
table { border-collapse:collapse; width:100%; font-variant-numeric: tabular-nums; }
th, td { padding:5px 9px; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
th { font-weight:600; font-size:12px; color:#374151; background:#f9fafb; white-space:nowrap; }
td.num, th.num { text-align:right; white-space:nowrap; }
td.name { max-width:240px; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
table.summary td:first-child { width:34%; }
table.summary td.desc { color:var(--muted); font-size:12px; }
table.sortable th { cursor:pointer; user-select:none; position:sticky; top:0; }
table.sortable th::after { content:"↕"; color:#c0c4cc; margin-left:4px; font-size:11px; }
table.sortable th[aria-sort=ascending]::after { content:"▲"; color:var(--accent); }
table.sortable th[aria-sort=descending]::after { content:"▼"; color:var(--accent); }
.scroll { max-height:520px; overflow:auto; border:1px solid var(--line); border-radius:8px; }
.scroll table { border:0; }
.meter { display:inline-block; width:36px; height:7px; background:#eef0f3; border-radius:4px;
  margin-right:6px; vertical-align:middle; overflow:hidden; }
.meter > span { display:block; height:100%; background:#60a5fa; }
input.filter { padding:6px 10px; border:1px solid #d1d5db; border-radius:6px; margin:0 0 10px; width:260px;
  font:inherit; }
.gallery { display:grid; grid-template-columns:repeat(auto-fill, minmax(170px, 1fr)); gap:12px; }
.tile { border:1px solid var(--line); border-radius:8px; overflow:hidden; background:#fff; }
.tile .img { background:#f3f4f6; aspect-ratio:1/1; display:flex; align-items:center; justify-content:center;
  color:var(--muted); font-size:12px; }
.tile .img img { width:100%; height:100%; object-fit:contain; image-rendering:auto; }
.gallery.wide { grid-template-columns:repeat(auto-fill, minmax(300px, 1fr)); }
.tile .img.pair { aspect-ratio:2/1; }
.tile .img.pair img { width:50%; }
.tile .meta { padding:7px 9px 9px; font-size:12px; line-height:1.35; }
.tile .meta div { overflow:hidden; text-overflow:ellipsis; white-space:nowrap; }
.tile .pred { color:var(--bad); font-weight:600; }
.tile .true { color:var(--good); }
.tile .path { color:var(--muted); font-size:11px; }
.conf { font-variant-numeric: tabular-nums; }
.overview img { max-width:100%; image-rendering:pixelated; border:1px solid var(--line); }
pre.json { margin:0; white-space:pre-wrap; word-break:break-all; font-size:12px; max-height:200px; overflow:auto; }
.muted { color:var(--muted); }
.pill { display:inline-block; padding:1px 8px; border-radius:999px; background:#eef2ff; color:#3730a3;
  font-size:12px; margin-left:6px; }
.pill.bad { background:#fee2e2; color:#991b1b; }
footer { color:var(--muted); font-size:12px; padding:10px 0 30px; }
@media print { nav.toc { display:none; } section.card { break-inside: avoid; box-shadow:none; } }
`;

/** Page script: sortable tables and row filters. Plain ES2017, no dependencies. */
export const PAGE_SCRIPT = `
(function () {
  "use strict";
  function cellKey(cell, numeric) {
    if (!cell) return numeric ? -Infinity : "";
    if (numeric) {
      var v = parseFloat(cell.getAttribute("data-v") || cell.textContent.replace(/,/g, ""));
      return isNaN(v) ? -Infinity : v;
    }
    return (cell.textContent || "").trim().toLowerCase();
  }
  function sortTable(table, col, numeric, th) {
    var asc = th.getAttribute("aria-sort") !== "ascending";
    var heads = table.tHead.rows[0].cells;
    for (var i = 0; i < heads.length; i++) heads[i].removeAttribute("aria-sort");
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var keyed = rows.map(function (r, i) { return { r: r, k: cellKey(r.cells[col], numeric), i: i }; });
    keyed.sort(function (a, b) {
      var s = a.k < b.k ? -1 : a.k > b.k ? 1 : 0;
      return (asc ? s : -s) || a.i - b.i;
    });
    var frag = document.createDocumentFragment();
    keyed.forEach(function (x) { frag.appendChild(x.r); });
    body.appendChild(frag);
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    if (!table.tHead) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      th.setAttribute("tabindex", "0");
      var go = function () { sortTable(table, col, th.getAttribute("data-type") === "num", th); };
      th.addEventListener("click", go);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); go(); } });
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll("input.filter"), function (input) {
    var table = document.getElementById(input.getAttribute("data-table"));
    if (!table) return;
    input.addEventListener("input", function () {
      var q = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        r.style.display = !q || r.textContent.toLowerCase().indexOf(q) >= 0 ? "" : "none";
      });
    });
  });
})();
`;

/**
 * A whole self-contained page: `heading` in the title and the top bar,
 * then the optional `subtitle` (HTML) under it, the optional `nav` (HTML)
 * and `main` (the sections' HTML).
 */
export function renderPage(
  heading: string,
  parts: { subtitle?: string; nav?: string; main: string },
): string {
  const sub = parts.subtitle === undefined ? "" : `<div class="sub">${parts.subtitle}</div>`;
  const nav = parts.nav === undefined
    ? ""
    : `\n<nav class="toc"><div class="wrap">${parts.nav}</div></nav>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="visioneval ${VERSION}">
<title>${escapeXml(heading)}</title>
<style>${PAGE_CSS}</style>
</head>
<body>
<header class="top"><div class="wrap"><h1>${escapeXml(heading)}</h1>${sub}</div></header>${nav}
<main class="wrap">
${parts.main}
<footer>Generated by visioneval ${VERSION}. This file is self-contained: it loads nothing from the network.</footer>
</main>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
