/**
 * timm hub `model_args`: the keyword arguments timm passes to the model
 * class when it rebuilds a checkpoint from its config.json
 * (`timm.create_model(..., **model_args)`). Many of them change the forward
 * pass without changing a single tensor name or shape (`output_stride`,
 * `act_layer`, `global_pool`, `aa_layer`, ...), so a key a family does not
 * understand is refused rather than ignored: ignoring it would run the
 * checkpoint with the wrong math and no warning.
 */
import { ModelLayoutError } from "../errors.ts";
import { timmModelArgs } from "../weights/layout_check.ts";

/**
 * What a family does with one `model_args` key:
 * - `"read"`: the family's layout code reads and validates it;
 * - `"weights"`: its effect is recorded in the tensor names and shapes, which
 *   the layout check compares with what the network needs;
 * - `{ runs, says }`: accepted only at values the family runs (`runs`
 *   decides); `says` describes them for the refusal.
 */
export type ModelArgRule = "read" | "weights" | {
  runs: (value: unknown) => boolean;
  says: string;
};

/** Keys that only matter in training (dropout, stochastic depth, initialisation). */
const TRAINING_ONLY = new Set([
  "drop_rate",
  "drop_path_rate",
  "drop_block_rate",
  "attn_drop_rate",
  "proj_drop_rate",
  "pos_drop_rate",
  "patch_drop_rate",
  "zero_init_last",
  "weight_init",
  "fix_init",
  "grad_checkpointing",
]);

/** Keys every classifier's weights settle: the input channels and the classes. */
const SHAPE_KEYS: Record<string, ModelArgRule> = { in_chans: "weights", num_classes: "weights" };

/** A rule that accepts only the given values (strings compared case-insensitively). */
export function onlyValues(...values: unknown[]): ModelArgRule {
  const norm = (v: unknown) => typeof v === "string" ? v.toLowerCase() : v;
  return {
    runs: (v) => values.some((ok) => norm(ok) === norm(v)),
    says: values.map((v) => JSON.stringify(v)).join(" or "),
  };
}

/** A rule for a module-valued key: only absent / null / an empty object runs. */
export const NONE: ModelArgRule = {
  runs: (v) =>
    v === null || v === "" ||
    (typeof v === "object" && !Array.isArray(v) && Object.keys(v as object).length === 0),
  says: "null (not set)",
};

/**
 * Refuses a checkpoint whose config.json `model_args` holds a key `rules`
 * does not list (or a value a rule does not run), naming the key, its value
 * and what the family runs. Training-only keys and `in_chans` /
 * `num_classes` are always accepted.
 */
export function checkTimmModelArgs(
  config: Record<string, unknown>,
  rules: Readonly<Record<string, ModelArgRule>>,
  what: string,
  where: string,
): void {
  const args = timmModelArgs(config);
  const all = { ...SHAPE_KEYS, ...rules };
  for (const [key, value] of Object.entries(args)) {
    if (TRAINING_ONLY.has(key)) continue;
    const rule = all[key];
    const shown = `model_args.${key} = ${JSON.stringify(value)}`;
    if (rule === undefined) {
      throw new ModelLayoutError(
        `${where}: config.json ${shown} is a timm ${what} option this loader does not run ` +
          `(it may change the network without changing its tensors). Options it reads or checks ` +
          `against the weights: ${
            Object.keys(all).join(", ")
          }. Remove the key only if the checkpoint was not built with it.`,
      );
    }
    if (typeof rule === "object" && !rule.runs(value)) {
      throw new ModelLayoutError(
        `${where}: config.json ${shown}: this loader runs timm ${what} only with ${key} ` +
          `${rule.says}; the weights do not record this choice, so the checkpoint is refused ` +
          `rather than run with other math.`,
      );
    }
  }
}
