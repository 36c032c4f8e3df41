/**
 * Listing the members of a tar file without reading their contents: each
 * 512-byte header is read and the member's data skipped by seeking, so a
 * shard of any size is listed in memory proportional to its member count.
 * Understands POSIX ustar (name prefix), GNU long names (`L` entries) and
 * pax extended headers (`path`, `size`), as written by Python's tarfile,
 * GNU tar and webdataset's TarWriter.
 */
import { DataError } from "../errors.ts";

/** A regular file inside a tar file. */
export interface TarMember {
  /** Path inside the archive. */
  name: string;
  /** Byte offset of the member's data in the tar file. */
  offset: number;
  /** Size of the data in bytes. */
  size: number;
}

const BLOCK = 512;
const text = new TextDecoder();

function cString(b: Uint8Array): string {
  const end = b.indexOf(0);
  return text.decode(end < 0 ? b : b.subarray(0, end));
}

/** An octal field, or GNU base-256 (high bit set) for sizes of 8 GiB and more. */
function numberField(b: Uint8Array): number {
  if (b[0] & 0x80) {
    let v = b[0] & 0x7f;
    for (let i = 1; i < b.length; i++) v = v * 256 + b[i];
    return v;
  }
  const s = cString(b).trim();
  return s ? parseInt(s, 8) : 0;
}

function checksumOk(h: Uint8Array): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return sum === numberField(h.subarray(148, 156));
}

/** pax records `LEN key=value\n` -> map. */
function paxRecords(data: Uint8Array): Map<string, string> {
  const out = new Map<string, string>();
  let at = 0;
  while (at < data.length) {
    const sp = data.indexOf(0x20, at);
    if (sp < 0) break;
    const len = Number(text.decode(data.subarray(at, sp)));
    if (!(len > 0)) break;
    const rec = text.decode(data.subarray(sp + 1, at + len - 1));
    const eq = rec.indexOf("=");
    if (eq > 0) out.set(rec.slice(0, eq), rec.slice(eq + 1));
    at += len;
  }
  return out;
}

function readAt(f: Deno.FsFile, offset: number, n: number, path: string): Uint8Array {
  const buf = new Uint8Array(n);
  f.seekSync(offset, Deno.SeekMode.Start);
  let got = 0;
  while (got < n) {
    const r = f.readSync(buf.subarray(got));
    if (r === null) break;
    got += r;
  }
  if (got < n) throw new DataError(`${path}: tar file is cut short at byte ${offset + got}`);
  return buf;
}

/** The regular-file members of a tar file, in archive order. */
export function listTar(path: string): TarMember[] {
  let f: Deno.FsFile;
  try {
    f = Deno.openSync(path, { read: true });
  } catch (e) {
    throw new DataError(`cannot read tar file ${path}: ${(e as Error).message}`);
  }
  try {
    const size = f.statSync().size;
    const out: TarMember[] = [];
    let at = 0;
    let longName: string | undefined;
    let pax = new Map<string, string>();
    while (at + BLOCK <= size) {
      const h = readAt(f, at, BLOCK, path);
      if (h.every((b) => b === 0)) break; // end-of-archive block
      if (!checksumOk(h)) {
        throw new DataError(
          `${path}: bad tar header checksum at byte ${at}; is it a tar file (not compressed)?`,
        );
      }
      const type = String.fromCharCode(h[156] || 0x30);
      const magic = cString(h.subarray(257, 263));
      const prefix = magic.startsWith("ustar") ? cString(h.subarray(345, 500)) : "";
      const base = cString(h.subarray(0, 100));
      const dataSize = pax.has("size")
        ? Number(pax.get("size"))
        : numberField(h.subarray(124, 136));
      const dataAt = at + BLOCK;
      const next = dataAt + Math.ceil(dataSize / BLOCK) * BLOCK;
      if (type === "L") {
        longName = cString(readAt(f, dataAt, dataSize, path));
      } else if (type === "x") {
        pax = paxRecords(readAt(f, dataAt, dataSize, path));
      } else {
        if (type === "0" || type === "7") {
          const name = pax.get("path") ?? longName ?? (prefix ? `${prefix}/${base}` : base);
          if (dataAt + dataSize > size) {
            throw new DataError(`${path}: member ${name} is cut short (the file ends early)`);
          }
          out.push({ name, offset: dataAt, size: dataSize });
        }
        // 'g' (global pax), directories, links: nothing to list; per-member names reset.
        longName = undefined;
        pax = new Map();
      }
      at = next;
    }
    return out;
  } finally {
    f.close();
  }
}

/** Reads a (small) member's bytes. */
export function readTarMember(path: string, m: TarMember): Uint8Array {
  const f = Deno.openSync(path, { read: true });
  try {
    return readAt(f, m.offset, m.size, path);
  } finally {
    f.close();
  }
}
