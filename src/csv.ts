/**
 * The one CSV reader and writer of the project (RFC 4180): labels files,
 * mapping files, predictions.csv, metrics input CSV/TSV and the demo all go
 * through it, so a quoted field with a comma means the same everywhere.
 *
 * Reading: fields are separated by `separator` (default ","); a field that
 * starts with a quote runs to the closing quote (it may hold separators,
 * doubled quotes and line breaks); a quote inside an unquoted field is kept
 * as a character. Lines end with LF, CRLF or CR. A leading byte-order mark
 * is dropped, and so are blank lines. Each record knows the line it starts
 * on, for messages.
 *
 * Writing: missing and non-finite numbers become empty fields; text with a
 * separator, quote, line break or edge space is quoted, inner quotes doubled.
 */

/** One record of a CSV file: its fields and the (1-based) line it starts on. */
export interface CsvRecord {
  /** The fields, unquoted. */
  fields: string[];
  /** Line number of the record's first character (1-based). */
  line: number;
}

/** Options of {@link readCsvRecords}. */
export interface CsvOptions {
  /** Field separator, one character (default ","; "\t" for TSV). */
  separator?: string;
}

/** Splits CSV text into records with their line numbers (blank lines dropped). */
export function readCsvRecords(text: string, opts: CsvOptions = {}): CsvRecord[] {
  const sep = opts.separator ?? ",";
  const out: CsvRecord[] = [];
  let fields: string[] = [];
  let field = "";
  let quoted = false;
  let wasQuoted = false;
  let line = 1;
  let start = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRecord = () => {
    fields.push(field);
    if (fields.length > 1 || fields[0] !== "" || wasQuoted) out.push({ fields, line: start });
    fields = [];
    field = "";
    wasQuoted = false;
  };
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') (field += '"', i++);
        else quoted = false;
      } else {
        if (ch === "\n" || (ch === "\r" && text[i + 1] !== "\n")) line++;
        field += ch;
      }
    } else if (ch === '"' && field === "") {
      quoted = true;
      wasQuoted = true;
    } else if (ch === sep) {
      fields.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      endRecord();
      line++;
      start = line;
    } else field += ch;
  }
  if (field !== "" || fields.length || wasQuoted) endRecord();
  return out;
}

/** Splits CSV text into rows of fields (see {@link readCsvRecords}). */
export function parseCsv(text: string, opts: CsvOptions = {}): string[][] {
  return readCsvRecords(text, opts).map((r) => r.fields);
}

/** One field: missing and non-finite values are empty; text is quoted when needed. */
export function csvField(v: unknown): string {
  if (v === null || v === undefined) return "";
  if (typeof v === "number") return Number.isFinite(v) ? String(v) : "";
  const s = String(v);
  return /[",\r\n]|^\s|\s$/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

/** One line (without the line ending). */
export function csvLine(fields: readonly unknown[]): string {
  return fields.map(csvField).join(",");
}
