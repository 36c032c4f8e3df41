/**
 * Swin and Swin V2 in torchvision, Hugging Face and timm layouts against
 * float64 references written by scripts/families/gen_swin_refs.py
 * (torchvision's own module, and a functional forward with each library's
 * window rules checked against it): logits, pooled features, the final
 * token map and Grad-CAM at 64x64 and (torchvision, Hugging Face) at an odd
 * 70x54 input, where windows and merges pad and each library shifts by its
 * own rule; the same weights bit-identical across layouts where the rules
 * agree; refusals; inferred windows, heads and notes.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Engine } from "../src/gpu/engine.ts";
import type { ClassifierModel } from "../src/models/model.ts";
import { ModelLayoutError } from "../src/errors.ts";
import { findModelFiles } from "../src/models/config.ts";
import { SafetensorsFile } from "../src/weights/safetensors.ts";
import { loadSwin, swinFamily } from "../src/models/swin/family.ts";
import { swinSpec } from "../src/models/swin/layouts.ts";
import {
  caseVariant,
  checkCnnCase,
  familyPipeline,
  generatedRefs,
  HAVE_TORCH,
  readRef,
  runCnn,
} from "./_family_refs.ts";

const SKIP = HAVE_TORCH ? "" : " (skipped: /usr/bin/python3 cannot import torch/torchvision)";
/** Case -> the references its layout runs (timm refuses sizes it was not built for). */
const CASES: Record<string, string[]> = {
  tv_swin: ["ref", "ref_odd"],
  hf_swin: ["ref", "ref_odd"],
  timm_swin: ["ref"],
  tv_swin_v2: ["ref", "ref_odd"],
  hf_swinv2: ["ref", "ref_odd"],
  timm_swinv2: ["ref"],
  timm_swinv2_pretrained: ["ref"],
};
const refs = () => generatedRefs("gen_swin_refs.py");

let enginePromise: Promise<Engine> | undefined;
const getEngine = () => enginePromise ??= Engine.create();

const run = async (model: ClassifierModel, pixels: { data: Float32Array; shape: number[] }) =>
  runCnn(await getEngine(), model, pixels);

const measured: string[] = [];

for (const [name, suffixes] of Object.entries(CASES)) {
  Deno.test({
    name: `swin ${name}: logits, features, token map, Grad-CAM vs PyTorch (${
      suffixes.length > 1 ? "64x64, 70x54" : "64x64"
    })${SKIP}`,
    ignore: !HAVE_TORCH,
    async fn() {
      const dir = await refs();
      const files = findModelFiles(join(dir, name));
      const names = Object.keys(await readRef(files.weights));
      assert.ok(swinFamily.detect(names, files.config), `${name} not detected`);
      const model = await loadSwin(files, { engine: await getEngine() });
      try {
        measured.push(...await checkCnnCase(await getEngine(), model, dir, name, suffixes));
      } finally {
        model.dispose();
      }
    },
  });
}

const variant = async (name: string, edit: Parameters<typeof caseVariant>[2]) =>
  caseVariant(await refs(), name, edit);

async function refusal(path: string, ...patterns: RegExp[]): Promise<string> {
  const err = await loadSwin(path, { engine: await getEngine() }).then(() => undefined, (e) => e);
  assert.ok(err instanceof ModelLayoutError, `expected a ModelLayoutError, got ${err}`);
  for (const p of patterns) assert.match(err.message, p);
  return err.message;
}

async function logitsOf(path: string, pixels: { data: Float32Array; shape: number[] }) {
  const model = await loadSwin(path, { engine: await getEngine() });
  try {
    return (await run(model, pixels)).logits;
  } finally {
    model.dispose();
  }
}

Deno.test({
  name:
    `swin: the same weights give bit-identical logits across layouts where the rules agree${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    const dir = await refs();
    for (
      const [tv, others] of [["tv_swin", ["hf_swin", "timm_swin"]], [
        "tv_swin_v2",
        ["hf_swinv2", "timm_swinv2"],
      ]] as const
    ) {
      const ref = await readRef(join(dir, `${tv}.ref.safetensors`));
      const base = await logitsOf(join(dir, tv), ref.pixels);
      for (const o of others) assert.deepEqual(await logitsOf(join(dir, o), ref.pixels), base, o);
    }
  },
});

Deno.test({
  name: `swin: sizes a layout's library refuses are refused, with the reason${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    const dir = await refs();
    const odd = await readRef(join(dir, "tv_swin.ref_odd.safetensors"));
    const engine = await getEngine();
    const timm = await loadSwin(join(dir, "timm_swin"), { engine });
    try {
      await assert.rejects(
        () => run(timm, odd.pixels),
        (e: Error) => e instanceof ModelLayoutError && /built for 64x64 inputs/.test(e.message),
      );
    } finally {
      timm.dispose();
    }
    // Hugging Face Swin cannot run a stage map smaller than its window: 40x40 -> 10, 5, 3 < 4.
    const hf = await loadSwin(join(dir, "hf_swin"), { engine });
    try {
      const px = { data: new Float32Array(3 * 40 * 40), shape: [1, 3, 40, 40] };
      await assert.rejects(
        () => run(hf, px),
        (e: Error) =>
          e instanceof ModelLayoutError && /stage 3's map is 3x3.*window/.test(e.message),
      );
      // torchvision pads that map to one window instead: it runs.
      const tv = await loadSwin(join(dir, "tv_swin"), { engine });
      try {
        const out = await run(tv, px);
        assert.ok(out.logits.every(Number.isFinite));
      } finally {
        tv.dispose();
      }
    } finally {
      hf.dispose();
    }
  },
});

Deno.test({
  name: `swin: broken or unsupported checkpoints are refused with the tensors named${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    await refusal(
      await variant("tv_swin", { tensors: (t) => delete t["features.3.1.attn.proj.bias"] }),
      /missing tensors: features\.3\.1\.attn\.proj\.bias/,
    );
    await refusal(
      await variant("hf_swin", {
        tensors: (t) => {
          const k = "swin.encoder.layers.1.blocks.0.attention.self.relative_position_bias_table";
          t[k] = { data: new Float32Array(50 * 2), shape: [50, 2] };
        },
      }),
      /relative_position_bias_table \[50,2\] is not \[\(2w-1\)\^2, heads\]/,
    );
    // timm options the weights do not record, at values other than the ones run.
    await refusal(
      await variant("timm_swin", { config: { model_args: { always_partition: true } } }),
      /model_args\.always_partition = true: this loader runs timm Swin only with always_partition false/,
    );
    await refusal(
      await variant("timm_swin", { config: { model_args: { global_pool: "max" } } }),
      /only with global_pool "avg"/,
    );
    await refusal(
      await variant("timm_swin", {
        tensors: (t) => {
          t["layers.1.downsample.reduction.weight"] = {
            data: new Float32Array(32 * 48),
            shape: [32, 48],
          };
        },
      }),
      /reduction\.weight \[32,48\] should read the 4 x 16 merged channels/,
    );
    // Swin V2 without a recorded window (no coordinate table, no config) cannot be run exactly.
    await refusal(
      await variant("tv_swin_v2", {
        tensors: (t) => {
          for (const k of Object.keys(t)) if (k.endsWith("relative_coords_table")) delete t[k];
        },
      }),
      /Swin V2 window size is not recorded/,
    );
    await refusal(
      await variant("hf_swin", { config: { hidden_act: "gelu_new" } }),
      /hidden_act "gelu_new" is not supported/,
    );
  },
});

async function specOf(name: string, config?: Record<string, unknown>) {
  const dir = await refs();
  const files = findModelFiles(join(dir, name));
  const f = await SafetensorsFile.open(files.weights);
  try {
    return swinSpec(f, config ?? files.config, name);
  } finally {
    f.close();
  }
}

Deno.test({
  name: `swin: widths, heads, windows, rules and notes inferred from the weights${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    const tv = await specOf("tv_swin");
    assert.deepEqual(
      [tv.version, tv.layout, tv.depths, tv.widths, tv.stages.map((s) => s.heads)],
      [1, "torchvision", [2, 2, 2], [16, 32, 64], [1, 2, 4]],
    );
    assert.deepEqual(tv.stages.map((s) => s.window), [4, 4, 4]);
    assert.deepEqual([tv.windowRule, tv.padPixels, tv.maskValue, tv.eps], [
      "torchvision",
      false,
      -100,
      1e-5,
    ]);
    assert.match(tv.notes.join("\n"), /shifted windows on odd blocks/);
    const tv2 = await specOf("tv_swin_v2");
    assert.equal(tv2.version, 2);
    assert.match(
      tv2.notes.join("\n"),
      /window 4: from features\.1\.0\.attn\.relative_coords_table/,
    );
    const hf2 = await specOf("hf_swinv2");
    assert.deepEqual([hf2.windowRule, hf2.maskValue, hf2.constructionGrid, hf2.padPixels], [
      "construction",
      -200,
      [16, 16],
      true,
    ]);
    assert.match(hf2.notes.join("\n"), /mask added twice/);
    const timm = await specOf("timm_swin");
    assert.deepEqual(timm.fixedInput, [64, 64]);
    // timm "window2to4_32to64": window 4, pretrained windows min(2, 32x32 grid per stage), input 64.
    const pt = await specOf("timm_swinv2_pretrained");
    assert.deepEqual(pt.stages.map((s) => s.window), [4, 4, 4]);
    assert.deepEqual(pt.stages.map((s) => s.blocks[0].cpb?.pretrainedWindow), [2, 2, 2]);
    assert.deepEqual(pt.fixedInput, [64, 64]);
    assert.match(pt.notes.join("\n"), /pretrained windows 2,2,2 and window 4: from the timm name/);
    // A pretrained tag after the architecture does not change what the name says.
    const tagged = await specOf("timm_swin", {
      architecture: "swin_custom_patch4_window4_64.some_tag_in1k",
    });
    assert.deepEqual(tagged.fixedInput, [64, 64]);
    // Older timm (< 0.9) stores the merging at the end of the previous stage.
    const old = await variant("timm_swin", {
      tensors: (t) => {
        for (const k of Object.keys(t)) {
          const m = /^layers\.(\d+)\.downsample\.(.*)$/.exec(k);
          if (m) {
            t[`layers.${Number(m[1]) - 1}.downsample.${m[2]}`] = t[k];
            delete t[k];
          }
        }
      },
    });
    const pixels = (await readRef(join(await refs(), "timm_swin.ref.safetensors"))).pixels;
    assert.deepEqual(
      await logitsOf(old, pixels),
      await logitsOf(join(await refs(), "timm_swin"), pixels),
    );
    // config.json overrides: eps.
    const eps = await specOf("tv_swin", { layer_norm_eps: 1e-6 });
    assert.equal(eps.eps, 1e-6);
  },
});

Deno.test("swin: detection from names alone; other families are not claimed", () => {
  assert.deepEqual(
    swinFamily.detect(["features.0.0.weight", "features.1.0.attn.qkv.weight"], {}),
    { layout: "torchvision" },
  );
  assert.deepEqual(swinFamily.detect(["layers.0.blocks.0.attn.qkv.weight"], {}), {
    layout: "timm",
  });
  assert.deepEqual(swinFamily.detect([], { model_type: "swinv2" }), { layout: "hf" });
  assert.equal(swinFamily.detect(["blocks.0.attn.qkv.weight", "cls_token"], {}), undefined); // ViT
  assert.equal(swinFamily.detect(["features.1.0.block.0.weight"], {}), undefined); // ConvNeXt
});

Deno.test({
  name: `swin: preprocessing defaults per layout${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    const dir = await refs();
    const tv = await familyPipeline(swinFamily, join(dir, "tv_swin"));
    assert.deepEqual([tv.crop, tv.interpolation], [[224, 224], "bicubic"]);
    assert.match(tv.warnings.join("\n"), /match no published torchvision Swin/);
    const hf = await familyPipeline(swinFamily, join(dir, "hf_swin"));
    assert.deepEqual([hf.resizeMode, hf.size, hf.interpolation], ["exact", [64, 64], "bicubic"]);
    const timm = await familyPipeline(swinFamily, join(dir, "timm_swin"));
    assert.deepEqual([timm.size, timm.crop], [[71, 71], [64, 64]]);
  },
});

Deno.test({
  name: `swin: loadModel finds the family through the registry; chunked batches agree${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    const { loadModel } = await import("../src/models/load.ts");
    const dir = await refs();
    for (const name of Object.keys(CASES)) {
      const model = await loadModel(join(dir, name), await getEngine());
      assert.equal(model.architecture, "swin", name);
      model.dispose();
    }
    const ref = await readRef(join(dir, "tv_swin_v2.ref_odd.safetensors"));
    const model = await loadSwin(join(dir, "tv_swin_v2"), { engine: await getEngine() });
    try {
      const whole = await run(model, ref.pixels);
      const [, , h, w] = ref.pixels.shape;
      model.maxTensorBytes = model.activationBytesPerImage(h, w);
      const chunked = await run(model, ref.pixels);
      assert.deepEqual(chunked.logits, whole.logits);
    } finally {
      model.dispose();
    }
  },
});

Deno.test({
  name: `swin: measured differences${SKIP}`,
  ignore: !HAVE_TORCH,
  fn() {
    if (measured.length) console.log(measured.join("\n"));
  },
});

Deno.test({
  name:
    `swin: bare state dicts (no config.json) run exactly or are refused, and say what they assumed${SKIP}`,
  ignore: !HAVE_TORCH,
  async fn() {
    const dir = await refs();
    const engine = await getEngine();
    // Hugging Face Swin, names only: the window comes from the table, its rules from the layout.
    const hfBare = await variant("hf_swin", { config: null });
    for (const suffix of ["ref", "ref_odd"]) {
      const ref = await readRef(join(dir, `hf_swin.${suffix}.safetensors`));
      assert.deepEqual(
        await logitsOf(hfBare, ref.pixels),
        await logitsOf(join(dir, "hf_swin"), ref.pixels),
        `bare hf_swin ${suffix}`,
      );
    }
    const hf = await loadSwin(hfBare, { engine });
    try {
      assert.match(hf.notes.join("\n"), /LayerNorm eps 1e-5 \(not recorded/);
      assert.match(hf.notes.join("\n"), /MLP activation GELU: config\.json has no hidden_act/);
      assert.match(hf.notes.join("\n"), /pixels padded to whole patches/);
    } finally {
      hf.dispose();
    }
    // Hugging Face Swin V2, names only: window and construction size are not in the weights
    // (Swinv2Layer fixes both from config.json), so it is refused, naming the keys.
    await refusal(
      await variant("hf_swinv2", { config: null }),
      /needs config\.json's window_size and image_size/,
    );
    // timm, names only: built for 224 unless config.json says; other sizes refused with the fix.
    const timmBare = await variant("timm_swin", { config: null });
    const timm = await loadSwin(timmBare, { engine });
    try {
      assert.match(timm.notes.join("\n"), /input 224x224: timm builds Swin for img_size 224/);
      const ref = await readRef(join(dir, "timm_swin.ref.safetensors"));
      await assert.rejects(
        () => run(timm, ref.pixels),
        (e: Error) =>
          e instanceof ModelLayoutError && /built for 224x224/.test(e.message) &&
          /pretrained_cfg\.input_size/.test(e.message),
      );
    } finally {
      timm.dispose();
    }
    // timm V2 without a name or model_args: the window is not recorded, so it is refused.
    await refusal(
      await variant("timm_swinv2", { config: null }),
      /Swin V2 window size is not recorded/,
    );
  },
});
