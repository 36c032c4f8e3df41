/**
 * Text helpers shared by the SVG plots and the HTML page: escaping, number
 * formatting that shows missing values as "n/a", and truncation of long names.
 */

/** Escapes text for use in XML/HTML element content and attribute values. */
export function escapeXml(text: unknown): string {
  return String(text)
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/** True for a finite number; null, undefined, NaN and ±Infinity are "missing". */
export function isNum(x: unknown): x is number {
  return typeof x === "number" && Number.isFinite(x);
}

/**
 * A metric value with `digits` decimals, or "n/a" when it is missing (null,
 * undefined, NaN, infinite). Metrics keep their decimals even when whole
 * ("1.0000"), so a column of them lines up.
 */
export function fmt(x: unknown, digits = 4): string {
  return isNum(x) ? x.toFixed(digits) : "n/a";
}

/** A fraction printed as a percentage ("82.7%"), or "n/a". */
export function pct(x: unknown, digits = 1): string {
  return isNum(x) ? `${(x * 100).toFixed(digits)}%` : "n/a";
}

/** A tick label: few digits, no trailing zeros. */
export function tickLabel(x: number): string {
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a >= 10000 || a < 0.001) return x.toExponential(0);
  return String(Number(x.toPrecision(4)));
}

/** Cuts `text` to at most `max` characters, ending with "…" when cut. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return max <= 1 ? "…" : text.slice(0, max - 1) + "…";
}

/** Display name of class `k`: its name when known, else its index. */
export function className(k: number, names?: readonly string[]): string {
  const n = names?.[k];
  return n !== undefined && n !== "" ? n : `class ${k}`;
}

/** A count in compact form: 950, 1.2k, 35k, 1.2M. */
export function compactCount(n: number): string {
  if (!isNum(n)) return "n/a";
  const a = Math.abs(n);
  if (a < 1000) return String(Math.round(n));
  if (a < 1e6) return `${Number((n / 1e3).toPrecision(a < 1e4 ? 2 : 3))}k`;
  return `${Number((n / 1e6).toPrecision(a < 1e7 ? 2 : 3))}M`;
}
