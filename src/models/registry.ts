/**
 * The model families visioneval can load, in detection order. `loadModel`,
 * `folderPipeline`, `info` and the "Supported: ..." message all read this
 * list; adding a family is adding its {@link ModelFamily} here.
 */
import type { ModelFamily } from "./family.ts";
import { resnetFamily } from "./resnet/model.ts";
import { vitFamily } from "./vit/model.ts";
import { convnextFamily } from "./convnext/family.ts";
import { mobilenetFamily } from "./mobilenet/family.ts";
import { swinFamily } from "./swin/family.ts";

/** Every family, in the order their `detect` is tried. */
export const FAMILIES: readonly ModelFamily[] = [
  resnetFamily,
  vitFamily,
  convnextFamily,
  mobilenetFamily,
  swinFamily,
];

/** The family and layout a checkpoint holds, or undefined when no family claims it. */
export function detectFamily(
  names: readonly string[],
  config: Record<string, unknown>,
): { family: ModelFamily; layout: string } | undefined {
  for (const family of FAMILIES) {
    const match = family.detect(names, config);
    if (match) return { family, layout: match.layout };
  }
  return undefined;
}

/** "ResNet (...), ViT/DeiT (...), ...": what the registry supports, for messages. */
export function supportedSummary(): string {
  return FAMILIES.map((f) => f.summary).join(", ");
}
