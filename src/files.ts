/**
 * What a path is, before anything opens it. Reading a FIFO or a character
 * device blocks until a writer shows up (forever, for a careless path), and
 * a link to itself fails with a system message; every file a user names
 * (image, config.json, weights, labels) is checked here first, so that such
 * paths are refused with a sentence instead of hanging or crashing.
 */
import { DataError, type VisionEvalError } from "./errors.ts";

/** What a non-regular file is, in words ("a FIFO (named pipe)", "a folder", ...). */
export function fileKind(info: Deno.FileInfo): string {
  if (info.isFile) return "a regular file";
  if (info.isDirectory) return "a folder";
  if (info.isFifo) return "a FIFO (named pipe)";
  if (info.isSocket) return "a socket";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  return "not a regular file";
}

/**
 * Why `path` cannot be read as a regular file, or null when it can: it does
 * not exist, is a dangling or looping symbolic link, or is a folder, FIFO,
 * socket or device.
 */
export function notRegularFileReason(path: string): string | null {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      let link = false;
      try {
        link = Deno.lstatSync(path).isSymlink;
      } catch { /* not there at all */ }
      return link ? "a symbolic link whose target does not exist" : "does not exist";
    }
    if (e instanceof Deno.errors.FilesystemLoop || /loop|ELOOP/i.test((e as Error).message)) {
      return "a symbolic link that refers to itself (a link loop)";
    }
    if (e instanceof Deno.errors.PermissionDenied) return "cannot be accessed (permission denied)";
    return `cannot be accessed (${(e as Error).message})`;
  }
  return info.isFile ? null : `is ${fileKind(info)}, not a regular file`;
}

/**
 * Throws (a DataError unless `error` says which) when `path` is not a
 * regular file; `what` names it in the message ("image", "weights file").
 */
export function requireRegularFile(
  path: string,
  what: string,
  error: new (message: string) => VisionEvalError = DataError,
): void {
  const why = notRegularFileReason(path);
  if (why !== null) {
    throw new error(
      `${what} ${path} ${why.startsWith("a ") ? `is ${why}` : why}; ` +
        `give the path of a regular file`,
    );
  }
}
