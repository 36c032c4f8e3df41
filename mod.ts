/**
 * visioneval: evaluate image classifiers on WebGPU.
 *
 * ```ts
 * import { Engine } from "@visioneval/visioneval";
 * const engine = await Engine.create();
 * ```
 *
 * @module
 */
export {
  type Binding,
  type BufferRange,
  Engine,
  type EngineOptions,
  type KernelProfile,
} from "./src/gpu/engine.ts";
export { BufferPool } from "./src/gpu/buffer_pool.ts";
export { type Kernel } from "./src/gpu/kernel.ts";
export { type AdapterDescription, getGpu, type Gpu, GpuError } from "./src/gpu/device.ts";
export { type DType, Tensor } from "./src/tensor.ts";
export {
  DataError,
  GpuDeviceLostError,
  GpuLimitError,
  GpuUnavailableError,
  MetricsInputError,
  ModelLayoutError,
  SafetensorsError,
  UsageError,
  VisionEvalError,
} from "./src/errors.ts";
export { VERSION } from "./src/version.ts";
export {
  encodeSafetensors,
  parseSafetensorsBytes,
  type RawTypedArray,
  type SafetensorsDType,
  SafetensorsFile,
  type SafetensorsTensorData,
  type SafetensorsTensorInfo,
  writeSafetensors,
} from "./src/weights/safetensors.ts";
export {
  type NpyArray,
  type NpyData,
  type NpyDType,
  npyToF64,
  parseNpy,
  readNpy,
} from "./src/weights/npy.ts";
export {
  type ClassifierModel,
  type ForwardOptions,
  type ForwardResult,
  type ModelPreprocess,
} from "./src/models/model.ts";
export { type ArchitectureFamily, detectArchitecture, loadModel } from "./src/models/load.ts";
export {
  findModelFiles,
  inputSizeFromConfig,
  labelsFromConfig,
  type ModelFiles,
} from "./src/models/config.ts";
export { loadResNet, type LoadResNetOptions, ResNet } from "./src/models/resnet.ts";
export {
  type BatchNormNames,
  type BlockSpec,
  type ConvSpec,
  detectResNetLayout,
  type ResNetLayout,
  type ResNetSpec,
  resnetSpec,
  type ShortcutSpec,
  type TensorIndex,
} from "./src/weights/resnet_layouts.ts";
export { shortcutOptionA } from "./src/ops/shortcut_option_a.ts";
