/**
 * `visioneval preprocess` command: prints the resolved pipeline and image
 * geometry (matching pipelines.json) and writes tensors equal to the
 * reference ones.
 */
import assert from "node:assert/strict";
import { run } from "../src/cli/preprocess.ts";
import { UsageError } from "../src/errors.ts";
import { SafetensorsFile } from "../src/weights/safetensors.ts";
import { fixture, fixtureTest } from "./_helpers.ts";

async function captured(fn: () => Promise<void>): Promise<string> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    await fn();
  } finally {
    console.log = log;
  }
  return lines.join("\n");
}

fixtureTest("cli preprocess: pipeline line, geometry, tensors equal to the reference", async () => {
  const image = fixture("data", "imagenet-sample", "n01530575_brambling.JPEG");
  const timm = fixture("models", "vit-tiny-in1k", "timm");
  const text = await captured(() => run(["--model", timm, image]));
  assert.match(text, /^pipeline {3}resize shorter side to 248 \(bicubic/);
  // pipelines.json: brambling 500x376 -> 329x248, crop (52, 12) (52.5 rounds to even).
  assert.match(text, /n01530575_brambling\.JPEG: 500x376 -> 329x248, crop at \(52, 12\)/);

  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/pv.safetensors`;
    const json = await captured(() => run(["--model", timm, "--json", "--out", out, image]));
    assert.deepEqual(JSON.parse(json).images[0].crop_left_top, [52, 12]);
    const got = await SafetensorsFile.open(out);
    const ref = await SafetensorsFile.open(
      fixture("reference", "preprocess", "n01530575_brambling.safetensors"),
    );
    assert.deepEqual(got.info("pixel_values").shape, [1, 3, 224, 224]);
    assert.deepEqual(await got.readF32("pixel_values"), await ref.readF32("timm"));
    got.close();
    ref.close();
    // Overrides change the pipeline; --out needs a fixed output size.
    const tv = await captured(() =>
      run(["--model", timm, "--crop-pct", "0.875", "--interpolation", "bilinear"])
    );
    assert.match(tv, /shorter side to 256 \(bilinear/);
    await assert.rejects(
      run(["--model", timm, "--crop", "0", "--size", "256", "--out", out]),
      UsageError,
    );
    await assert.rejects(run([image]), /--model DIR is required/);
    await assert.rejects(run(["--model", `${dir}/nope`]), /model folder .*nope does not exist/);
    // A weights file stands for its folder.
    const viaFile = await captured(() => run(["--model", `${timm}/model.safetensors`]));
    assert.match(viaFile, /timm pretrained_cfg/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
