/**
 * A small SVG builder: elements as strings, linear scales with "nice" ticks,
 * axes, legends and a plot frame. Every plot in src/report is built from these.
 * Styling is done with presentation attributes (not CSS classes) so an SVG is
 * also correct when saved on its own.
 */
import { escapeXml, tickLabel, truncate } from "./format.ts";

/** Attribute values; `undefined`, `null` and `false` leave the attribute out. */
export type Attrs = Record<string, string | number | undefined | null | false>;

/** Font stack of all plot text. */
export const FONT =
  "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif";
/** Text/axis colors. */
export const INK = "#1f2937";
/** Secondary text color. */
export const MUTED = "#6b7280";
/** Grid line color. */
export const GRID = "#e5e7eb";

/** Rounds coordinates to 2 decimals to keep the markup small. */
export function r2(x: number): number {
  return Math.round(x * 100) / 100;
}

function attrString(attrs: Attrs): string {
  let s = "";
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    s += ` ${k}="${escapeXml(typeof v === "number" ? r2(v) : v)}"`;
  }
  return s;
}

/** An element; `children` is already-built markup (escape text with `escapeXml`). */
export function el(tag: string, attrs: Attrs = {}, children?: string | readonly string[]): string {
  const inner = children === undefined
    ? undefined
    : typeof children === "string"
    ? children
    : children.join("");
  return inner === undefined || inner === ""
    ? `<${tag}${attrString(attrs)}/>`
    : `<${tag}${attrString(attrs)}>${inner}</${tag}>`;
}

/** A `<title>` tooltip child. */
export function tooltip(text: string): string {
  return `<title>${escapeXml(text)}</title>`;
}

/**
 * A text element. Text longer than `maxChars` is truncated with "…" and the
 * full text goes into a `<title>` tooltip.
 */
export function text(
  x: number,
  y: number,
  content: string,
  attrs: Attrs = {},
  maxChars = Infinity,
): string {
  const shown = truncate(content, maxChars);
  const tip = shown !== content ? tooltip(content) : "";
  return el("text", { x, y, ...attrs }, tip + escapeXml(shown));
}

/** The root `<svg>` element with a title (accessible name) and a white background. */
export function svgRoot(
  width: number,
  height: number,
  body: readonly string[],
  opts: { title?: string; description?: string; id?: string } = {},
): string {
  const head = (opts.title ? tooltip(opts.title) : "") +
    (opts.description ? `<desc>${escapeXml(opts.description)}</desc>` : "");
  return el("svg", {
    xmlns: "http://www.w3.org/2000/svg",
    id: opts.id,
    width,
    height,
    viewBox: `0 0 ${width} ${height}`,
    role: "img",
    "font-family": FONT,
    "font-size": 12,
    fill: INK,
    class: "plot",
  }, [head, el("rect", { width, height, fill: "#ffffff" }), ...body]);
}

/** An affine map from a data interval to a pixel interval. */
export class LinearScale {
  /** Creates a scale mapping [d0, d1] onto [p0, p1]; a zero-width domain is widened. */
  constructor(
    readonly d0: number,
    readonly d1: number,
    readonly p0: number,
    readonly p1: number,
  ) {
    if (!(d1 > d0)) {
      const c = Number.isFinite(d0) ? d0 : 0;
      this.d0 = c - 0.5;
      this.d1 = c + 0.5;
    }
  }
  /** Pixel position of a data value. */
  map(v: number): number {
    return this.p0 + (v - this.d0) / (this.d1 - this.d0) * (this.p1 - this.p0);
  }
  /** About `count` round tick values inside the domain. */
  ticks(count = 5): number[] {
    return niceTicks(this.d0, this.d1, count);
  }
}

/** Round tick values (steps of 1, 2 or 5 × 10^k) covering [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo) || !Number.isFinite(lo) || !Number.isFinite(hi)) return [lo];
  const raw = (hi - lo) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  // The 1-2-5 step nearest to the raw step (geometric midpoints as thresholds).
  const err = raw / mag;
  const step = mag *
    (err >= Math.sqrt(50) ? 10 : err >= Math.sqrt(10) ? 5 : err >= Math.SQRT2 ? 2 : 1);
  const out: number[] = [];
  const first = Math.ceil(lo / step - 1e-9);
  for (let i = first; i * step <= hi + step * 1e-9; i++) {
    out.push(Number((i * step).toPrecision(12)));
  }
  return out;
}

/** The rectangle of a plot area, in pixels. */
export interface Frame {
  /** Left edge. */
  x: number;
  /** Top edge. */
  y: number;
  /** Width. */
  width: number;
  /** Height. */
  height: number;
}

/** Options of `axes`. */
export interface AxesOptions {
  /** Label under the x axis. */
  xLabel?: string;
  /** Label left of the y axis (rotated). */
  yLabel?: string;
  /** Tick values on x (default: nice ticks). */
  xTicks?: readonly number[];
  /** Tick values on y (default: nice ticks). */
  yTicks?: readonly number[];
  /** Tick label formatter of both axes (default: `tickLabel`). */
  format?: (v: number) => string;
  /** Tick label formatter of the x axis (overrides `format`). */
  xFormat?: (v: number) => string;
  /** Tick label formatter of the y axis (overrides `format`). */
  yFormat?: (v: number) => string;
  /** Draw horizontal grid lines. */
  grid?: boolean;
  /** Hide x tick labels (for a panel stacked above another). */
  hideXTickLabels?: boolean;
}

/** Axis lines, ticks, tick labels, grid lines and axis titles for a frame. */
export function axes(f: Frame, xs: LinearScale, ys: LinearScale, o: AxesOptions = {}): string {
  const fmtX = o.xFormat ?? o.format ?? tickLabel;
  const fmtY = o.yFormat ?? o.format ?? tickLabel;
  const parts: string[] = [];
  const xTicks = o.xTicks ?? xs.ticks(Math.max(2, Math.round(f.width / 80)));
  const yTicks = o.yTicks ?? ys.ticks(Math.max(2, Math.round(f.height / 50)));
  const bottom = f.y + f.height;
  if (o.grid !== false) {
    for (const t of yTicks) {
      const y = ys.map(t);
      parts.push(el("line", { x1: f.x, x2: f.x + f.width, y1: y, y2: y, stroke: GRID }));
    }
  }
  for (const t of xTicks) {
    const x = xs.map(t);
    parts.push(el("line", { x1: x, x2: x, y1: bottom, y2: bottom + 4, stroke: INK }));
    if (!o.hideXTickLabels) {
      parts.push(text(x, bottom + 16, fmtX(t), { "text-anchor": "middle", fill: MUTED }));
    }
  }
  for (const t of yTicks) {
    const y = ys.map(t);
    parts.push(el("line", { x1: f.x - 4, x2: f.x, y1: y, y2: y, stroke: INK }));
    parts.push(text(f.x - 7, y + 4, fmtY(t), { "text-anchor": "end", fill: MUTED }));
  }
  parts.push(el("line", { x1: f.x, x2: f.x + f.width, y1: bottom, y2: bottom, stroke: INK }));
  parts.push(el("line", { x1: f.x, x2: f.x, y1: f.y, y2: bottom, stroke: INK }));
  if (o.xLabel) {
    parts.push(
      text(f.x + f.width / 2, bottom + 34, o.xLabel, { "text-anchor": "middle", "font-size": 13 }),
    );
  }
  if (o.yLabel) {
    const cx = f.x - 46, cy = f.y + f.height / 2;
    parts.push(text(cx, cy, o.yLabel, {
      "text-anchor": "middle",
      "font-size": 13,
      transform: `rotate(-90 ${r2(cx)} ${r2(cy)})`,
    }));
  }
  return el("g", { class: "axes" }, parts);
}

/** A plot title, left-aligned at (x, y). */
export function title(x: number, y: number, content: string, maxChars = 90): string {
  return text(x, y, content, { "font-size": 15, "font-weight": 600 }, maxChars);
}

/** One legend entry. */
export interface LegendItem {
  /** Label text (truncated to the legend's maxChars, with a tooltip). */
  label: string;
  /** Swatch color. */
  color: string;
  /** Swatch shape. */
  shape?: "rect" | "line" | "dashed" | "circle" | "cross";
  /** Swatch opacity. */
  opacity?: number;
}

/** A vertical legend with its top-left corner at (x, y); returns markup and its size. */
export function legend(
  items: readonly LegendItem[],
  x: number,
  y: number,
  opts: { maxChars?: number; background?: boolean; rowHeight?: number } = {},
): { svg: string; width: number; height: number } {
  const rowH = opts.rowHeight ?? 18;
  const maxChars = opts.maxChars ?? 28;
  const longest = Math.max(0, ...items.map((i) => Math.min(i.label.length, maxChars)));
  const width = 30 + longest * 6.6 + 10;
  const height = items.length * rowH + 8;
  const parts: string[] = [];
  if (opts.background !== false) {
    parts.push(el("rect", {
      x,
      y,
      width,
      height,
      rx: 4,
      fill: "#ffffff",
      "fill-opacity": 0.9,
      stroke: GRID,
    }));
  }
  items.forEach((item, i) => {
    const cy = y + 4 + i * rowH + rowH / 2;
    const sx = x + 8;
    const shape = item.shape ?? "rect";
    if (shape === "line" || shape === "dashed") {
      parts.push(el("line", {
        x1: sx,
        x2: sx + 16,
        y1: cy,
        y2: cy,
        stroke: item.color,
        "stroke-width": 2.5,
        "stroke-dasharray": shape === "dashed" ? "4 3" : undefined,
      }));
    } else if (shape === "circle") {
      parts.push(el("circle", { cx: sx + 8, cy, r: 4.5, fill: item.color, opacity: item.opacity }));
    } else if (shape === "cross") {
      parts.push(crossMark(sx + 8, cy, 4.5, item.color));
    } else {
      parts.push(el("rect", {
        x: sx + 2,
        y: cy - 6,
        width: 12,
        height: 12,
        fill: item.color,
        "fill-opacity": item.opacity,
      }));
    }
    parts.push(text(sx + 22, cy + 4, item.label, {}, maxChars));
  });
  return { svg: el("g", { class: "legend" }, parts), width, height };
}

/** An "×" marker centred at (cx, cy). */
export function crossMark(cx: number, cy: number, r: number, color: string, width = 2): string {
  return el("path", {
    d: `M${r2(cx - r)} ${r2(cy - r)}L${r2(cx + r)} ${r2(cy + r)}M${r2(cx - r)} ${r2(cy + r)}L${
      r2(cx + r)
    } ${r2(cy - r)}`,
    stroke: color,
    "stroke-width": width,
    fill: "none",
  });
}

/** A polyline path through points (pixel coordinates). */
export function pathThrough(points: readonly [number, number][]): string {
  return points.map(([x, y], i) => `${i ? "L" : "M"}${r2(x)} ${r2(y)}`).join("");
}

/** A centered note in an empty plot ("no data"). */
export function emptyPlot(width: number, height: number, heading: string, note: string): string {
  return svgRoot(width, height, [
    title(16, 24, heading),
    text(width / 2, height / 2, note, { "text-anchor": "middle", fill: MUTED, "font-size": 14 }),
  ], { title: heading });
}

/** A horizontal legend (one row of swatches) starting at (x, y) = left end of the baseline. */
export function legendRow(
  items: readonly LegendItem[],
  x: number,
  y: number,
  maxChars = 24,
): string {
  const parts: string[] = [];
  let cx = x;
  for (const item of items) {
    const label = truncate(item.label, maxChars);
    if (item.shape === "line" || item.shape === "dashed") {
      parts.push(el("line", {
        x1: cx,
        x2: cx + 16,
        y1: y - 4,
        y2: y - 4,
        stroke: item.color,
        "stroke-width": 2.5,
        "stroke-dasharray": item.shape === "dashed" ? "4 3" : undefined,
      }));
    } else if (item.shape === "circle") {
      parts.push(el("circle", { cx: cx + 8, cy: y - 4, r: 4.5, fill: item.color }));
    } else if (item.shape === "cross") {
      parts.push(crossMark(cx + 8, y - 4, 4.5, item.color));
    } else {
      parts.push(el("rect", {
        x: cx + 2,
        y: y - 10,
        width: 12,
        height: 12,
        fill: item.color,
        "fill-opacity": item.opacity,
      }));
    }
    parts.push(text(cx + 21, y, item.label, {}, maxChars));
    cx += 21 + label.length * 6.8 + 16;
  }
  return el("g", { class: "legend" }, parts);
}

/** Approximate rendered width of a `legendRow`, to right-align it. */
export function legendRowWidth(items: readonly LegendItem[], maxChars = 24): number {
  return items.reduce((w, i) => w + 21 + truncate(i.label, maxChars).length * 6.8 + 16, 0) - 16;
}
