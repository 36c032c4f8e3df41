/**
 * The report's test-time-augmentation section: the headline metrics without
 * and with TTA, and the images whose prediction TTA changed (fixed first,
 * then broken, then wrong either way).
 */
import { className, escapeXml, fmt, truncate } from "./format.ts";
import { imageDataUri } from "./png.ts";
import type { RasterImage } from "./types.ts";

/** metrics.json's `tta` block, as far as the report reads it. */
export interface TtaLike {
  /** What was averaged. */
  readonly spec: string;
  /** Views averaged per image. */
  readonly views: number;
  /** Headline metrics without / with TTA. */
  readonly changes: Readonly<
    Record<string, { without: number | null; with: number | null; delta: number | null }>
  >;
  /** Counts of changed predictions. */
  readonly flipped: { readonly count: number; readonly fixed: number; readonly broken: number };
}

/** An image whose prediction TTA changed, with its thumbnail (classes in the report's label space). */
export interface TtaFlipExample {
  /** Image path. */
  readonly path: string;
  /** True class. */
  readonly label: number;
  /** Prediction without TTA. */
  readonly before: number;
  /** Prediction with TTA. */
  readonly after: number;
  /** Confidence without TTA. */
  readonly confidence_before: number;
  /** Confidence with TTA. */
  readonly confidence_after: number;
  /** Thumbnail, when the image could be read. */
  readonly thumbnail?: RasterImage;
}

const LOWER_IS_BETTER = new Set(["log_loss", "brier", "ece"]);

/** The section body (table + gallery) as HTML. */
export function ttaSectionHtml(
  t: TtaLike,
  flips: readonly TtaFlipExample[],
  names?: readonly string[],
): string {
  const rows = Object.entries(t.changes).map(([k, c]) => {
    const better = c.delta === null || c.delta === 0
      ? ""
      : (c.delta < 0) === LOWER_IS_BETTER.has(k)
      ? "better"
      : "worse";
    return `<tr><td>${escapeXml(k)}</td><td>${fmt(c.without)}</td><td>${fmt(c.with)}</td>` +
      `<td>${c.delta === null ? "n/a" : (c.delta >= 0 ? "+" : "") + fmt(c.delta)}</td>` +
      `<td>${better}</td></tr>`;
  }).join("");
  const table = `<table class="summary"><thead><tr><th>metric</th><th>without TTA</th>` +
    `<th>with TTA</th><th>change</th><th></th></tr></thead><tbody>${rows}</tbody></table>`;
  const tiles = flips.map((f) => {
    const img = f.thumbnail
      ? `<img alt="${escapeXml(f.path)}" loading="lazy" src="${imageDataUri(f.thumbnail)}">`
      : "no thumbnail";
    const cls = (k: number) => escapeXml(truncate(className(k, names), 30));
    const mark = f.after === f.label ? "fixed" : f.before === f.label ? "broken" : "changed";
    return `<div class="tile"><div class="img">${img}</div><div class="meta">` +
      `<div class="true">✓ ${cls(f.label)}</div>` +
      `<div>${mark}: ${cls(f.before)} (${fmt(f.confidence_before, 3)}) → ${cls(f.after)} (${
        fmt(f.confidence_after, 3)
      })</div>` +
      `<div class="path" title="${escapeXml(f.path)}">${escapeXml(f.path)}</div></div></div>`;
  }).join("");
  const lead = `<p>${t.flipped.count} predictions changed: ${t.flipped.fixed} became right, ` +
    `${t.flipped.broken} became wrong${
      flips.length < t.flipped.count ? ` (${flips.length} shown)` : ""
    }.</p>`;
  return table + lead + (tiles ? `<div class="gallery">${tiles}</div>` : "");
}

/** The flipped images to show: those TTA fixed first, then those it broke, then the rest. */
export function orderFlips<T extends { label: number; before: number; after: number }>(
  flips: readonly T[],
): T[] {
  const rank = (f: T) => (f.after === f.label ? 0 : f.before === f.label ? 1 : 2);
  return [...flips].sort((a, b) => rank(a) - rank(b));
}
