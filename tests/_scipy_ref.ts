/** The scipy reference of `compare` (scripts/compare/mcnemar_ref.py), for the compare tests. */
import { fromFileUrl } from "./_path.ts";

/** The Python with scipy ($VISIONEVAL_PYTHON or Debian's). */
export const PYTHON = Deno.env.get("VISIONEVAL_PYTHON") ?? "/usr/bin/python3";
const SCRIPT = fromFileUrl(new URL("../scripts/compare/mcnemar_ref.py", import.meta.url));

/** True when python3 can import scipy (the reference of the p-values). */
export const HAVE_SCIPY: boolean = (() => {
  try {
    return new Deno.Command(PYTHON, { args: ["-c", "import scipy.stats"], stderr: "null" })
      .outputSync().success;
  } catch {
    return false;
  }
})();

/** Runs the reference script and parses its JSON. */
export function scipyRef(...args: string[]): unknown {
  const out = new Deno.Command(PYTHON, { args: [SCRIPT, ...args] }).outputSync();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
