/**
 * visioneval command-line entry: `deno run -A cli.ts <command> [options]`.
 * Each command lives in `src/cli/<command>.ts` and exports `run(args)` and
 * `HELP`. User errors print one line and exit 1 (usage errors exit 2);
 * `--debug` prints the stack as well.
 *
 * @module
 */
import { UsageError, VisionEvalError } from "./src/errors.ts";
import {
  type KernelOptions,
  parseKernelChoice,
  parseWeightStorage,
  setKernelDefaults,
} from "./src/gpu/kernel_path.ts";

/** What every command module exports. */
export interface Command {
  /** Usage text printed by `--help`. */
  HELP: string;
  /** Runs the command with the arguments after its name. */
  run(args: string[]): Promise<void>;
}

/** The commands, loaded on demand so `info` does not pay for `eval`'s imports. */
const COMMANDS: Record<string, { summary: string; load: () => Promise<Command> }> = {
  eval: {
    summary: "evaluate a model on a labelled image dataset (metrics, predictions, report)",
    load: () => import("./src/cli/eval.ts"),
  },
  demo: {
    summary: "the main job with defaults: fixtures if present, else a generated model + images",
    load: () => import("./src/cli/demo.ts"),
  },
  predict: {
    summary: "top-k classes of individual images",
    load: () => import("./src/cli/predict.ts"),
  },
  info: { summary: "describe the GPU adapter", load: () => import("./src/cli/info.ts") },
  bench: {
    summary: "forward-pass images/s of a model (and per-kernel GPU times)",
    load: () => import("./src/cli/bench.ts"),
  },
  metrics: {
    summary: "metrics of stored predictions (.safetensors, .npy, CSV, JSONL)",
    load: () => import("./src/cli/metrics.ts"),
  },
  compare: {
    summary: "compare models on the same images (McNemar, paired bootstrap, per-class deltas)",
    load: () => import("./src/cli/compare.ts"),
  },
  merge: {
    summary: "merge shard metric states into one metrics.json",
    load: () => import("./src/cli/merge.ts"),
  },
  calibrate: {
    summary: "temperature scaling: T, NLL/ECE before and after",
    load: () => import("./src/cli/calibrate.ts"),
  },
  explain: {
    summary: "Grad-CAM / Grad-CAM++ / attention-rollout maps and overlays for images",
    load: () => import("./src/cli/explain.ts"),
  },
  embed: {
    summary: "PCA / UMAP / t-SNE projection of a dataset's penultimate features",
    load: () => import("./src/cli/embed.ts"),
  },
  preprocess: {
    summary: "show a model's preprocessing pipeline and what it does to images (no GPU)",
    load: () => import("./src/cli/preprocess.ts"),
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  return [
    "visioneval: evaluate image classifiers on WebGPU",
    "",
    "usage: visioneval <command> [options]   (each command takes --help)",
    "",
    "commands:",
    ...Object.entries(COMMANDS).map(([n, c]) => `  ${n.padEnd(width)}  ${c.summary}`),
    "",
    "global options:",
    "  --debug                      print stack traces",
    "  --kernels software|gpu|auto  kernel path (default auto: software kernels on CPU adapters",
    "                               such as lavapipe, GPU-class kernels on hardware GPUs)",
    "  --no-autotune                GPU path: cached or heuristic GEMM tilings (checked), time none",
    "  --weights f32|f16            storage of linear and GEMM-conv weights on the GPU (default f32;",
    "                               f16 halves their memory, needs shader-f16, accumulates in f32)",
  ].join("\n");
}

/**
 * Removes the global kernel options (`--kernels X`, `--kernels=X`,
 * `--no-autotune`, `--weights X`, `--weights=X`) from `argv` and makes them
 * the defaults of every engine.
 */
function takeKernelOptions(argv: string[]): string[] {
  const rest: string[] = [];
  const opts: KernelOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--no-autotune") opts.autotune = false;
    else if (a === "--kernels" || a.startsWith("--kernels=")) {
      const value = a === "--kernels" ? argv[++i] : a.slice("--kernels=".length);
      opts.kernels = parseKernelChoice(value ?? "", "--kernels");
    } else if (a === "--weights" || a.startsWith("--weights=")) {
      const value = a === "--weights" ? argv[++i] : a.slice("--weights=".length);
      opts.weights = parseWeightStorage(value ?? "", "--weights");
    } else rest.push(a);
  }
  setKernelDefaults(opts);
  return rest;
}

/** Runs the CLI with `argv` and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  const debug = argv.includes("--debug");
  let args: string[];
  try {
    args = takeKernelOptions(argv.filter((a) => a !== "--debug"));
  } catch (e) {
    console.error(`visioneval: ${(e as Error).message}`);
    return 2;
  }
  const name = args[0];
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(usage());
    return name ? 0 : 2;
  }
  if (name === "--version" || name === "version") {
    const { VERSION } = await import("./src/version.ts");
    console.log(VERSION);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    console.error(`visioneval: unknown command "${name}"\n\n${usage()}`);
    return 2;
  }
  const cmd = await entry.load();
  if (args.includes("--help") || args.includes("-h")) {
    console.log(cmd.HELP);
    return 0;
  }
  try {
    await cmd.run(args.slice(1));
    return 0;
  } catch (e) {
    const err = e as Error;
    const isUsage = err instanceof UsageError ||
      (err as { code?: string }).code?.startsWith("ERR_PARSE_ARGS");
    if (debug) console.error(err.stack ?? err);
    if (isUsage) {
      console.error(`visioneval ${name}: ${err.message}\n\n${cmd.HELP}`);
      return 2;
    }
    if (err instanceof VisionEvalError) {
      console.error(`visioneval ${name}: ${err.message}`);
    } else if (!debug) {
      console.error(
        `visioneval ${name}: internal error: ${err.message} (run with --debug for the stack)`,
      );
    }
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
