/**
 * The analyses an `eval` runs beside its metrics, for `merge`: what one run
 * over all the shards' images would have reported. A calibration split and
 * an applied calibrator work from the logits, so they are recomputed from
 * the merged state (its samples are in global order, so the seeded split is
 * the one run's split). TTA keeps a metric state of its own that shards do
 * not write, so its metrics cannot be merged: that is said, never dropped
 * silently.
 */
import { type CalibrationMethod, calibratorFromJson } from "./calibrators/index.ts";
import { type CalibrationReports, calibrationReports } from "./calibration_split.ts";
import type { MetricSnapshot } from "./snapshot.ts";

/** An analysis the shards ran that the merged report lacks, and why. */
export interface NotMerged {
  /** "tta", "calibration_split", "calibrated" or "analyses". */
  analysis: string;
  /** Why it is missing and what to do. */
  reason: string;
}

/** What {@link mergedAnalyses} adds to the merged metrics.json. */
export interface MergedAnalyses extends CalibrationReports {
  /** Analyses the shards ran that are not in the merged report. */
  not_merged?: NotMerged[];
}

/**
 * Recomputes the shards' calibration split / calibrated entries over the
 * merged logits, and lists what cannot be merged (also passed to `warn`).
 */
export function mergedAnalyses(
  merged: MetricSnapshot,
  parts: readonly MetricSnapshot[],
  names: readonly string[],
  warn: (message: string) => void,
): MergedAnalyses {
  const notMerged: NotMerged[] = [];
  const skip = (analysis: string, reason: string) => {
    notMerged.push({ analysis, reason });
    warn(`${analysis} not merged: ${reason}`);
  };
  const key = (p: MetricSnapshot) => JSON.stringify(p.provenance?.analyses ?? null);
  const odd = parts.findIndex((p) => key(p) !== key(parts[0]));
  if (odd >= 0) {
    skip(
      "analyses",
      `${names[0]} and ${names[odd]} ran different analyses beside the metrics ` +
        `(${key(parts[0])} vs ${key(parts[odd])}); give every shard the same options`,
    );
    return { not_merged: notMerged };
  }
  const a = parts[0]?.provenance?.analyses;
  if (!a) return {};
  let out: MergedAnalyses = {};
  if (a.calibrationSplit || a.calibrator) {
    if (merged.logits && merged.samples) {
      const s = a.calibrationSplit;
      out = calibrationReports(merged.logits, merged.samples.label, merged.numClasses, {
        split: s?.fraction,
        seed: s?.seed,
        methods: s?.methods as CalibrationMethod[] | undefined,
        bins: s?.bins ?? merged.calibrationBins,
        calibrator: a.calibrator && {
          calibrator: calibratorFromJson(a.calibrator.json, a.calibrator.file),
          file: a.calibrator.file,
        },
      });
    } else {
      for (
        const what of [a.calibrationSplit && "calibration_split", a.calibrator && "calibrated"]
      ) {
        if (what) skip(what, "some shard kept no logits; re-run the shards with the same options");
      }
    }
  }
  if (a.tta) {
    skip(
      "tta",
      `the shards' TTA metrics (${a.tta}) come from a metric state of their own, which ` +
        `state.safetensors does not hold; the merged metrics are those without TTA. Run the ` +
        `TTA evaluation unsharded for its metrics`,
    );
  }
  return notMerged.length ? { ...out, not_merged: notMerged } : out;
}
