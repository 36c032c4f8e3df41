/** file URL -> path without @std/path (JSR is not reachable). */
import { fileURLToPath } from "node:url";

/** Converts a file URL to a filesystem path. */
export function fromFileUrl(url: URL): string {
  return fileURLToPath(url);
}
