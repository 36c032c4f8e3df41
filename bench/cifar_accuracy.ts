/**
 * Real-image accuracy of the CIFAR ResNets, end to end: the CIFAR-10 test
 * JPEGs go through the data pipeline (decode, preprocessing from the model's
 * config.json, batching) and the GPU forward pass, and the top-1 predictions
 * are compared with PyTorch's (`predictions_resnetN.csv` in the fixtures).
 *
 * ```sh
 * deno run -A bench/cifar_accuracy.ts --model resnet20 [--limit 500] [--batch 250]
 * ```
 *
 * Prints agreement with the reference predictions, top-1 accuracy of both,
 * and every disagreement with its top-1/top-2 logit gap. Also imported by
 * the opt-in (VISIONEVAL_FULL=1) test in tests/models_resnet_test.ts.
 */
import { parseArgs } from "node:util";
import { join, relative } from "node:path";
import { Engine } from "../src/gpu/engine.ts";
import { openDataset } from "../src/data/datasets.ts";
import { loadBatches } from "../src/data/loader.ts";
import { loadModel } from "../src/models/load.ts";
import { FIXTURES } from "../tests/_helpers.ts";

/** Outcome of {@link cifarAgreement}. */
export interface CifarAgreement {
  /** Images compared. */
  n: number;
  /** Images whose top-1 equals the reference's. */
  agree: number;
  /** Our top-1 accuracy. */
  top1: number;
  /** The reference's top-1 accuracy on the same images. */
  refTop1: number;
  /** Images that failed to load. */
  failed: number;
  /** Disagreements: path, our and the reference's class, our top-1/top-2 logit gap. */
  disagreements: { path: string; pred: number; ref: number; gap: number }[];
  /** Seconds spent, and images/s overall (decode + forward). */
  seconds: number;
}

/** Runs a CIFAR ResNet over the fixture JPEGs and compares with PyTorch's predictions. */
export async function cifarAgreement(opts: {
  model: "resnet20" | "resnet56";
  limit?: number;
  batch?: number;
  workers?: number;
  engine?: Engine;
}): Promise<CifarAgreement> {
  const t0 = performance.now();
  const engine = opts.engine ?? await Engine.create();
  const data = join(FIXTURES, "data", "cifar10-test");
  const model = await loadModel(join(FIXTURES, "models", "resnet-cifar10", opts.model), engine);
  const csv = await Deno.readTextFile(
    join(FIXTURES, "reference", "resnet-cifar10", `predictions_${opts.model}.csv`),
  );
  const reference = new Map<string, { label: number; pred: number }>();
  for (const line of csv.trim().split("\n").slice(1)) {
    const [path, label, pred] = line.split(",");
    reference.set(path, { label: Number(label), pred: Number(pred) });
  }
  const ds = openDataset(data);
  // Evenly over classes when limited: every k-th image.
  const step = opts.limit ? Math.max(1, Math.floor(ds.items.length / opts.limit)) : 1;
  const items = ds.items.filter((_, i) => i % step === 0).slice(0, opts.limit ?? Infinity);
  if (!model.preprocess) throw new Error(`${opts.model}: no preprocessing known`);

  let n = 0, agree = 0, correct = 0, refCorrect = 0, failed = 0;
  const disagreements: CifarAgreement["disagreements"] = [];
  for await (
    const batch of loadBatches(items, {
      preprocess: model.preprocess,
      batchSize: opts.batch ?? 250,
      workers: opts.workers,
    })
  ) {
    failed += batch.failed.length;
    if (batch.items.length === 0) continue;
    const x = engine.upload(batch.pixels, batch.shape, "pixels");
    const { logits } = model.forward(engine, x);
    const l = await engine.readF32(logits);
    x.release();
    logits.release();
    const c = model.numClasses;
    batch.items.forEach((item, b) => {
      const row = l.subarray(b * c, (b + 1) * c);
      let best = 0, second = -1;
      for (let k = 1; k < c; k++) {
        if (row[k] > row[best]) [second, best] = [best, k];
        else if (second < 0 || row[k] > row[second]) second = k;
      }
      const rel = relative(data, item.path);
      const ref = reference.get(rel);
      if (!ref) throw new Error(`no reference prediction for ${rel}`);
      // Dataset labels index the class folders; map them to the model's classes by name.
      const label = model.labels!.indexOf(ds.classes[item.label!]);
      n++;
      if (best === ref.pred) agree++;
      else {disagreements.push({
          path: rel,
          pred: best,
          ref: ref.pred,
          gap: row[best] - row[second],
        });}
      if (best === label) correct++;
      if (ref.pred === ref.label) refCorrect++;
    });
  }
  model.dispose();
  return {
    n,
    agree,
    top1: correct / n,
    refTop1: refCorrect / n,
    failed,
    disagreements,
    seconds: (performance.now() - t0) / 1000,
  };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      model: { type: "string", default: "resnet20" },
      limit: { type: "string" },
      batch: { type: "string", default: "250" },
    },
  });
  const model = values.model as "resnet20" | "resnet56";
  const r = await cifarAgreement({
    model,
    limit: values.limit ? Number(values.limit) : undefined,
    batch: Number(values.batch),
  });
  console.log(
    `${model}: ${r.n} CIFAR-10 test JPEGs, agreement with PyTorch ${
      (100 * r.agree / r.n).toFixed(2)
    }% (${r.agree}/${r.n}), top-1 ${(100 * r.top1).toFixed(2)}% (reference ${
      (100 * r.refTop1).toFixed(2)
    }%), ${r.failed} failed to load, ${r.seconds.toFixed(1)} s (${
      (r.n / r.seconds).toFixed(1)
    } images/s incl. decoding)`,
  );
  for (const d of r.disagreements) {
    console.log(
      `  ${d.path}: ours ${d.pred}, PyTorch ${d.ref}, our top-1/top-2 gap ${d.gap.toFixed(4)}`,
    );
  }
}
