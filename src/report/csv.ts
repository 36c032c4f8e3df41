/**
 * CSV writers (RFC 4180: comma-separated, fields with a comma, quote, CR/LF
 * or edge spaces are quoted and inner quotes doubled) for predictions.csv and
 * the embedding coordinates; the reader and field writer are src/csv.ts's
 * (re-exported here).
 */
import { dirname } from "node:path";
import { csvLine } from "../csv.ts";
import { className, isNum } from "./format.ts";
import type { EmbeddingPoint } from "./types.ts";

export { csvField, csvLine, type CsvOptions, parseCsv } from "../csv.ts";

/** One row of predictions.csv. */
export interface PredictionRow {
  /** Image path. */
  path: string;
  /** True class index (model label space); missing when unlabelled. */
  label?: number | null;
  /** Predicted class index. */
  pred: number;
  /** Confidence of the prediction (max probability). */
  confidence: number;
  /** Top-k class indices, best first. */
  top5?: ArrayLike<number>;
}

/** Header of predictions.csv. */
export const PREDICTIONS_HEADER = [
  "path",
  "label",
  "pred",
  "confidence",
  "top5",
  "label_name",
  "pred_name",
];

/** predictions.csv text: `path,label,pred,confidence,top5,label_name,pred_name` (top5 space-separated). */
export function predictionsCsv(
  rows: Iterable<PredictionRow>,
  classNames?: readonly string[],
): string {
  const lines = [PREDICTIONS_HEADER.join(",")];
  for (const r of rows) {
    const hasLabel = isNum(r.label) && r.label >= 0;
    lines.push(csvLine([
      r.path,
      hasLabel ? r.label : "",
      r.pred,
      r.confidence,
      r.top5 ? Array.from(r.top5).join(" ") : "",
      hasLabel ? className(r.label!, classNames) : "",
      className(r.pred, classNames),
    ]));
  }
  return lines.join("\n") + "\n";
}

/** Writes predictions.csv, creating the parent folder. */
export async function writePredictionsCsv(
  path: string,
  rows: Iterable<PredictionRow>,
  classNames?: readonly string[],
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, predictionsCsv(rows, classNames));
}

/** Embedding CSV text: `path,x,y,label,pred,label_name,pred_name`. */
export function embeddingCsv(
  points: Iterable<EmbeddingPoint>,
  classNames?: readonly string[],
): string {
  const lines = ["path,x,y,label,pred,label_name,pred_name"];
  for (const p of points) {
    const hasLabel = isNum(p.label) && p.label >= 0;
    const hasPred = isNum(p.pred) && p.pred >= 0;
    lines.push(csvLine([
      p.path ?? "",
      p.x,
      p.y,
      hasLabel ? p.label : "",
      hasPred ? p.pred : "",
      hasLabel ? className(p.label!, classNames) : "",
      hasPred ? className(p.pred!, classNames) : "",
    ]));
  }
  return lines.join("\n") + "\n";
}

/** Writes the embedding coordinates as CSV, creating the parent folder. */
export async function writeEmbeddingCsv(
  path: string,
  points: Iterable<EmbeddingPoint>,
  classNames?: readonly string[],
): Promise<void> {
  await Deno.mkdir(dirname(path), { recursive: true });
  await Deno.writeTextFile(path, embeddingCsv(points, classNames));
}
