/**
 * Reference fits of the calibration methods, written by
 * `scripts/calibration/gen_refs.py` with /usr/bin/python3 (NumPy, SciPy,
 * scikit-learn) once per script version into a temp file named after the
 * script's hash. Tests needing them use {@link calibrationRefsTest}, ignored
 * (saying why in the name) when python3 lacks scikit-learn.
 */
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fromFileUrl } from "./_path.ts";
import { FIXTURES, HAVE_FIXTURES } from "./_helpers.ts";

const PYTHON = Deno.env.get("VISIONEVAL_PYTHON") ?? "/usr/bin/python3";

/** True when python3 can import numpy, scipy and scikit-learn. */
export const HAVE_SKLEARN: boolean = (() => {
  try {
    return new Deno.Command(PYTHON, {
      args: ["-c", "import numpy, scipy, sklearn"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
})();

/** One method's reference: params it reports, probabilities on the fit and apply parts. */
export interface MethodRef {
  refused?: boolean;
  params?: Record<string, number | number[]>;
  fit?: number[];
  apply?: number[];
}

/** One case: logits [n, C], labels, the first `n_fit` rows fit, the rest are applied to. */
export interface CalibrationCase {
  name: string;
  num_classes: number;
  n_fit: number;
  logits: number[];
  labels: number[];
  methods: Record<string, MethodRef>;
}

let cached: Promise<CalibrationCase[]> | undefined;

/** Runs a python3 script and returns its stdout, or throws with its stderr. */
export async function runPython(args: string[]): Promise<string> {
  const r = await new Deno.Command(PYTHON, { args, stdout: "piped", stderr: "piped" }).output();
  if (!r.success) {
    throw new Error(`${PYTHON} ${args.join(" ")} failed:\n${new TextDecoder().decode(r.stderr)}`);
  }
  return new TextDecoder().decode(r.stdout);
}

/** The reference cases (generated on first use). */
export function calibrationCases(): Promise<CalibrationCase[]> {
  cached ??= (async () => {
    const script = fromFileUrl(new URL("../scripts/calibration/gen_refs.py", import.meta.url));
    const hash = createHash("sha256").update(Deno.readFileSync(script))
      .update(HAVE_FIXTURES ? "fixtures" : "none").digest("hex").slice(0, 12);
    const path = join(tmpdir(), `visioneval-calibration-refs-${hash}.json`);
    try {
      Deno.statSync(path);
    } catch {
      const tmp = `${path}.${Deno.pid}.tmp`;
      await runPython([script, tmp, ...(HAVE_FIXTURES ? [FIXTURES] : [])]);
      Deno.renameSync(tmp, path);
    }
    return JSON.parse(Deno.readTextFileSync(path)).cases as CalibrationCase[];
  })();
  return cached;
}

/** `Deno.test` over the reference cases; ignored, saying why, without scikit-learn. */
export function calibrationRefsTest(
  name: string,
  fn: (cases: CalibrationCase[]) => Promise<void> | void,
): void {
  Deno.test({
    name: HAVE_SKLEARN ? name : `${name} (skipped: ${PYTHON} cannot import numpy/scipy/sklearn)`,
    ignore: !HAVE_SKLEARN,
    fn: async () => fn(await calibrationCases()),
  });
}
