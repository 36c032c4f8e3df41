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

// Evaluating: a model folder and a dataset to metrics, predictions and a report; errors.
export {
  DataError,
  GpuDeviceLostError,
  GpuLimitError,
  GpuUnavailableError,
  KernelCheckError,
  MetricsInputError,
  ModelLayoutError,
  NonFiniteValuesError,
  SafetensorsError,
  UsageError,
  VisionEvalError,
} from "./src/errors.ts";
export { VERSION } from "./src/version.ts";
export {
  evaluate,
  type EvaluateOptions,
  type EvaluationMetrics,
  type EvaluationResult,
  type RunMetadata,
  type Shard,
  shardRange,
  shardRangeByFile,
  thumbnail,
  TopKStore,
} from "./src/evaluate.ts";
export { predict, type PredictInput, type Prediction, type PredictOptions } from "./src/predict.ts";
export {
  COMPARE_OUTPUTS,
  compareModelsOnData,
  type CompareModelsOptions,
  compareRuns,
  type CompareRunsOptions,
  type ComparisonResult,
  evaluationRecords,
  loadRun,
  type MatchedRuns,
  matchRuns,
  modelNames,
  type RunRecords,
  runRecords,
} from "./src/compare.ts";
export {
  type FlippedPrediction,
  type TtaChange,
  type TtaReport,
  TtaRunner,
  ttaSummary,
} from "./src/tta.ts";

// GPU: adapter, engine (pipelines, dispatch, readback, profiling), tensors.
export {
  type Binding,
  type BufferRange,
  Engine,
  type EngineOptions,
  type KernelProfile,
} from "./src/gpu/engine.ts";
export { BufferPool } from "./src/gpu/buffer_pool.ts";
export { GpuTexture, TEXTURE_USAGE, TexturePool } from "./src/gpu/texture.ts";
export { type Kernel } from "./src/gpu/kernel.ts";
export {
  assertFitsF16,
  chooseKernelPath,
  chooseWeightStorage,
  F16_MAX,
  isSoftwareAdapter,
  type KernelChoice,
  type KernelOptions,
  type KernelPath,
  type KernelPathName,
  parseKernelChoice,
  parseWeightStorage,
  setKernelDefaults,
  type WeightStorage,
} from "./src/gpu/kernel_path.ts";
export {
  adapterKey,
  type AdapterTilings,
  Autotuner,
  cacheDir,
  DEFAULT_TOLERANCE,
  type ShapeTiling,
  type TuneJob,
  type TuneResult,
  tunerFor,
} from "./src/gpu/autotune.ts";
export {
  maxAbsDiff,
  type OutputDifference,
  randomFill,
  readDifference,
} from "./src/gpu/output_check.ts";
export {
  type AdapterDescription,
  getGpu,
  type Gpu,
  GpuError,
  requestGpu,
} from "./src/gpu/device.ts";
export { type DType, Tensor } from "./src/tensor.ts";

// Models: loading any supported checkpoint, the family registry, what every family shares.
export {
  type ClassifierModel,
  type ForwardOptions,
  type ForwardResult,
  type ModelPreprocess,
} from "./src/models/model.ts";
export { type ArchitectureFamily, detectArchitecture, loadModel } from "./src/models/load.ts";
export {
  checkKernelPath,
  KERNEL_CHECK_TOLERANCE,
  type KernelCheck,
} from "./src/models/kernel_check.ts";
export {
  findModelFiles,
  inputSizeFromConfig,
  labelsFromConfig,
  type ModelFiles,
} from "./src/models/config.ts";
export { modelClasses, modelDir, modelPipeline } from "./src/models/pipeline.ts";
export type { FamilyMatch, ModelFamily } from "./src/models/family.ts";
export { detectFamily, FAMILIES, supportedSummary } from "./src/models/registry.ts";
export {
  checkpointMeta,
  Classifier,
  type ClassifierMeta,
  completeMeta,
  type LoaderMeta,
  PooledClassifier,
} from "./src/models/classifier.ts";

// ResNet family.
export { loadResNet, type LoadResNetOptions, ResNet } from "./src/models/resnet/model.ts";
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
} from "./src/models/resnet/layouts.ts";

// Vision Transformer family (ViT, DeiT, DINOv2, torchvision, nn.TransformerEncoder).
export { loadViT, ViTModel } from "./src/models/vit/model.ts";
export {
  detectViTLayout,
  type LinearNames,
  type NormNames,
  type PosEmbedResize,
  type ViTBlockSpec,
  type ViTLayout,
  type ViTSpec,
  vitSpec,
} from "./src/models/vit/layouts.ts";
export { positionTable, resizeGrid } from "./src/models/vit/posembed.ts";

// ConvNeXt / ConvNeXt V2 family.
export {
  convnextFamily,
  convnextPipeline,
  loadConvNeXt,
  type LoadConvNeXtOptions,
} from "./src/models/convnext/family.ts";
export { ConvNeXt } from "./src/models/convnext/model.ts";
export { convnextSpec, detectConvNeXtLayout } from "./src/models/convnext/layouts.ts";
export type {
  ChannelNorm,
  ConvNames,
  ConvNeXtBlockSpec,
  ConvNeXtLayout,
  ConvNeXtSpec,
  ConvNeXtStageSpec,
} from "./src/models/convnext/spec.ts";

// MobileNetV2 / MobileNetV3 / EfficientNet / EfficientNetV2 family.
export {
  loadMobileNet,
  type LoadMobileNetOptions,
  mobilenetFamily,
  mobilenetPipeline,
} from "./src/models/mobilenet/family.ts";
export { MobileNet } from "./src/models/mobilenet/model.ts";
export {
  detectMobileNetLayout,
  makeDivisible,
  mobilenetSpec,
} from "./src/models/mobilenet/layouts.ts";
export type {
  ConvBnSpec,
  FusedMBConvSpec,
  InvertedResidualSpec,
  MobileNetArch,
  MobileNetBlockSpec,
  MobileNetLayout,
  MobileNetSpec,
  SqueezeExciteSpec,
} from "./src/models/mobilenet/spec.ts";

// Swin / Swin V2 family.
export {
  loadSwin,
  type LoadSwinOptions,
  swinFamily,
  swinPipeline,
} from "./src/models/swin/family.ts";
export { Swin } from "./src/models/swin/model.ts";
export { detectSwinLayout, swinSpec } from "./src/models/swin/layouts.ts";
export type {
  ContinuousBiasSpec,
  SwinBlockSpec,
  SwinLayout,
  SwinSpec,
  SwinStageSpec,
  WindowRule,
} from "./src/models/swin/spec.ts";
export { continuousBiasTable, gatherRelative, relativeIndex } from "./src/models/swin/bias.ts";

// Blocks the families compose: classifier head, transformer block, layer loading.
export {
  ClassifierHead,
  type HeadActivation,
  type HeadLayerSpec,
  type HeadSpec,
  type HeadSpecOptions,
} from "./src/nn/head.ts";
export {
  type AttentionTaps,
  relativePositionBias,
  resizeRelativeTable,
  TransformerBlock,
  type TransformerBlockSpec,
  type TransformerOptions,
} from "./src/nn/transformer.ts";

// Ops: one typed wrapper per WGSL kernel family.
export { type TopK, topk, TOPK_MAX } from "./src/ops/topk.ts";
export { gatherColumns } from "./src/ops/gather_columns.ts";
export { shortcutOptionA } from "./src/ops/shortcut_option_a.ts";
export { attention, type AttentionOptions } from "./src/ops/attention.ts";
export {
  cosineQK,
  padPixels,
  patchMerge,
  shiftedWindowMask,
  type WindowGrid,
  windowLayout,
  windowMergeAdd,
  windowPartition,
} from "./src/ops/window.ts";
export { layerNorm, type LayerNormStrategy } from "./src/ops/layernorm.ts";
export { softmaxRows } from "./src/ops/softmax.ts";
export { pickReduction, type Reduction, reductionCode } from "./src/ops/row_reduce.ts";
export { ttaReduce, type TtaReduceOptions, ttaViews } from "./src/ops/tta.ts";
export { assembleTokens, patchify, takeTokens } from "./src/ops/patch_embed.ts";
export {
  type Activation,
  defaultGemmTiling,
  gemm,
  GEMM_TILINGS,
  type GemmA,
  type GemmC,
  type GemmOptions,
  type GemmTiling,
  linear,
  type LinearOptions,
  matmul,
  type MatmulOptions,
  packB,
  PackedMatrix,
  prepareLinearWeight,
} from "./src/ops/gemm.ts";
export {
  activateRef,
  ACTIVATION_WGSL,
  activationCode,
  ACTIVATIONS,
  erf64,
} from "./src/ops/activation.ts";
export {
  type BatchNormParams,
  conv2d,
  type Conv2dOptions,
  conv2dShape,
  conv2dTuning,
  convActivation,
  convOutSize,
  ConvWeight,
  foldBatchNorm,
  type Size2,
  uploadConvWeight,
} from "./src/ops/conv2d.ts";
export {
  type Pad4,
  paddedOutShape,
  paddedOutSize,
  type Padding,
  resolvePadding,
  samePadding,
} from "./src/ops/padding.ts";
export {
  avgPool2d,
  globalAvgPool,
  maxPool2d,
  type Pool2dOptions,
  poolOutSize,
} from "./src/ops/pool.ts";
export { permute, transposeLast2 } from "./src/ops/transpose.ts";
export {
  depthwiseConv2dNHWC,
  type DepthwiseOptions,
  depthwiseShape,
  depthwiseTuning,
  DepthwiseWeight,
  uploadDepthwiseWeight,
} from "./src/ops/depthwise.ts";
export { grn } from "./src/ops/grn.ts";
export { channelScale } from "./src/ops/channel_scale.ts";
export {
  meanTokens,
  patchifyNCHWtoNHWC,
  patchWeightToKhKwC,
  spaceToDepthNHWC,
} from "./src/ops/nhwc.ts";

// Weights: safetensors, npy, dtypes, the layout toolkit.
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

// Data: decoding, PIL-exact preprocessing, datasets, labels, loader, files.
export {
  decodeImage,
  headerSize,
  ImageDecodeError,
  type ImageFormat,
  MAX_IMAGE_PIXELS,
  readImage,
  sniffFormat,
} from "./src/data/decode.ts";
export {
  type AxisCoefficients,
  axisCoefficients,
  type ConvolutionFilter,
  type Interpolation,
  resize,
  resizeCrop,
  type RgbImage,
  type Window,
} from "./src/data/resize.ts";
export {
  applyOverrides,
  cropOffsets,
  describePipeline,
  IMAGENET_MEAN,
  IMAGENET_STD,
  normalizationTable,
  type PipelineAssumption,
  pipelineOutputSize,
  type PipelineSetting,
  preprocess,
  type PreprocessConfig,
  preprocessConfigFromHfProcessor,
  preprocessConfigFromModelDir,
  type PreprocessOverrides,
  resizeAndCrop,
  resizedSize,
} from "./src/data/preprocess.ts";
export {
  CIFAR100_COARSE_CLASSES,
  CIFAR100_FINE_CLASSES,
  CIFAR10_CLASSES,
  type CifarRecord,
  cifarToRgb,
  type Dataset,
  type DatasetItem,
  expandGlob,
  type FileSlice,
  finishDataset,
  globToRegExp,
  IMAGE_EXTENSIONS,
  isRecordItem,
  type LabelKind,
  naturalCompare,
  openDataset,
  type OpenDatasetOptions,
  readCifarRecord,
  type SkippedEntry,
} from "./src/data/datasets.ts";
export { loadDataset, type LoadDatasetOptions } from "./src/data/open.ts";
export { parseRecordName, type RecordName, recordName } from "./src/data/record_name.ts";
export {
  folderHoldsParquet,
  isParquetPath,
  openParquetDataset,
  type ParquetDatasetOptions,
  parquetFiles,
  parquetSplit,
} from "./src/data/parquet.ts";
export {
  imageCell,
  type ParquetImageCell,
  ParquetRowReader,
  type ParquetRowRef,
} from "./src/data/parquet_rows.ts";
export {
  expandBraces,
  isTarPath,
  openWebDataset,
  sampleKey,
  tarFiles,
  WEBDATASET_IMAGE_EXTENSIONS,
  type WebDatasetOptions,
} from "./src/data/webdataset.ts";
export { listTar, readTarMember, type TarMember } from "./src/data/tar.ts";
export {
  type GroundTruthFormat,
  groundTruthFormat,
  type GroundTruthOptions,
  openGroundTruth,
  readSynsets,
} from "./src/data/ground_truth.ts";
export {
  DEVKIT_GROUND_TRUTH,
  devkitFiles,
  type DevkitOptions,
  metaMatBeside,
  metaMatSynsets,
  withDevkit,
} from "./src/data/devkit.ts";
export {
  type MatChar,
  type MatNumeric,
  type MatStruct,
  type MatValue,
  parseMatVariable,
  readMatVariable,
} from "./src/data/mat5.ts";
export {
  attachParquetBytes,
  parquetItemBytes,
  readFileSlice,
  readItemImage,
} from "./src/data/item_image.ts";
export {
  applyLabelMapping,
  type LabelMapping,
  mapLabels,
  type MapLabelsOptions,
  type ModelClasses,
  modelClassesFromConfig,
  modelClassesFromNames,
  normalizeClassName,
  readModelClasses,
} from "./src/data/labels.ts";
export {
  type BatchRequest,
  type FailedItem,
  prepareBatch,
  type PreparedBatch,
} from "./src/data/prepare.ts";
export {
  type Batch,
  defaultWorkerCount,
  loadBatches,
  type LoaderOptions,
  LoaderPool,
  type LoaderProgress,
} from "./src/data/loader.ts";
export { pipelineKey, SharedBatches } from "./src/data/shared_batches.ts";
export {
  cropAt,
  type CropPosition,
  describeTta,
  parseTta,
  prepareGroupCrops,
  type TtaGroup,
  type TtaPlan,
  ttaPlan,
  type TtaSpec,
  type TtaView,
} from "./src/data/tta.ts";
export { ProgressDisplay, type ProgressOptions } from "./src/data/progress.ts";

// Metrics: GPU state, classification, ranking, calibration, bootstrap, state files, merge.
export {
  MetricState,
  type MetricStateOptions,
  snapshotFromArrays,
  type UpdateOptions,
} from "./src/metrics/state.ts";
export {
  accumulateArrays,
  type AccumulateOptions,
  calibrationBin,
  emptySnapshot,
  type MergeOptions,
  mergeSnapshots,
  type MetricInputKind,
  type MetricSnapshot,
  type SampleRecords,
  scoreBin,
  type SnapshotShape,
  validateSnapshot,
} from "./src/metrics/snapshot.ts";
export { type StateAnalyses, type StateProvenance } from "./src/metrics/provenance.ts";
export {
  type MergedAnalyses,
  mergedAnalyses,
  type NotMerged,
} from "./src/metrics/merge_analyses.ts";
export {
  computeMetrics,
  computeMetricsFromArrays,
  type ComputeOptions,
  type MetricsReport,
} from "./src/metrics/report.ts";
export { type Averaged, type ClassificationMetrics } from "./src/metrics/classification.ts";
export { type RankingMetric, rankingScoresFromLogits } from "./src/metrics/ranking.ts";
export {
  fitTemperature,
  type ReliabilityBin,
  TEMPERATURE_RANGE,
  temperatureAtBound,
  type TemperatureScaling,
} from "./src/metrics/calibration.ts";
export {
  CALIBRATION_METHODS,
  type CalibrationMethod,
  type Calibrator,
  CALIBRATOR_FORMAT,
  CALIBRATOR_VERSION,
  type CalibratorFile,
  calibratorFromJson,
  type CalibratorSettings,
  calibratorToJson,
  checkCalibratorClasses,
  fitCalibrator,
  type FitData,
  parseMethods,
  readCalibrator,
} from "./src/metrics/calibrators/index.ts";
export {
  type CalibratedReport,
  calibratedReport,
  type CalibrationReports,
  calibrationReports,
  type CalibrationRow,
  calibrationRow,
  type CalibrationSplitOptions,
  type CalibrationSplitReport,
  calibrationSplitReport,
  stratifiedSplit,
} from "./src/metrics/calibration_split.ts";
export { type BootstrapIntervals, type Interval } from "./src/metrics/bootstrap.ts";
export { binomialTestHalf, mcnemar, type McNemarTest } from "./src/metrics/mcnemar.ts";
export {
  type ClassDelta,
  COMPARED_METRICS,
  type ComparedMetric,
  compareModels,
  type CompareOptions,
  type Comparison,
  comparisonSummary,
  HIGHER_IS_BETTER,
  type ModelRecords,
  type ModelSummary,
  type PairComparison,
  type ValueWithInterval,
} from "./src/metrics/compare.ts";
export { decodeSnapshot, loadSnapshot, saveSnapshot } from "./src/metrics/state_file.ts";
export {
  readRealLabels,
  realLabelAccuracy,
  type RealLabelsResult,
  validationIndex,
} from "./src/metrics/real_labels.ts";
export {
  type Predictions,
  readLabels,
  readPredictions,
  type ReadPredictionsOptions,
} from "./src/metrics/io.ts";

// Explanations: Grad-CAM, attention rollout, embeddings and projections.
export {
  argmaxRows,
  gradCam,
  type GradCamOptions,
  type GradCamResult,
} from "./src/explain/gradcam.ts";
export {
  colorize,
  type ColormapName,
  denormalize,
  type HeatMap,
  heatmapPng,
  normalizeMap,
  overlayMap,
  type OverlayOptions,
  overlayPng,
  type Region,
  resizeBilinear,
} from "./src/explain/overlay.ts";
export {
  defaultMethod,
  explainImages,
  type ExplainImagesOptions,
  type ExplainMethod,
  type ExplainOptions,
  explainPixels,
  type ExplainSource,
  type Explanation,
  explanationExample,
  inputRegion,
} from "./src/explain/explain.ts";
export {
  collectFeatures,
  type CollectOptions,
  embeddingInput,
  FeatureCollector,
  type FeatureSet,
  projectEmbeddings,
  type ProjectEmbeddingsOptions,
  type Projection,
  type ProjectionMethod,
} from "./src/explain/embeddings.ts";
export {
  covarianceGpu,
  jacobiEigen,
  pca,
  type PcaOptions,
  type PcaResult,
  topEigenpairs,
} from "./src/explain/pca.ts";
export { tsne, type TsneOptions, type TsneResult } from "./src/explain/tsne.ts";
export { umap, type UmapOptions } from "./src/explain/umap.ts";
export { exactKnn, type Knn } from "./src/explain/knn.ts";
export {
  attentionRollout,
  rolloutBatch,
  type RolloutMap,
  type RolloutOptions,
} from "./src/explain/rollout.ts";

// Reports: HTML report, plots, PNG, JSON / CSV writers.
export {
  type AveragedScore,
  type BootstrapLike,
  type CalibrationInput,
  type CalibrationRowLike,
  type CalibrationSide,
  type CalibrationTableLike,
  type ClassCurves,
  type ConfidenceHistograms,
  type EmbeddingInput,
  type EmbeddingPoint,
  type ExplanationExample,
  type FailedImage,
  type IntervalLike,
  type MaybeNumber,
  type MetricsLike,
  type MistakeExample,
  type PrPoint,
  type RasterImage,
  type ReliabilityBin as ReportReliabilityBin,
  type ReportInput,
  type RocPoint,
  type TemperatureScalingLike,
} from "./src/report/types.ts";
export { renderHtmlReport, writeHtmlReport } from "./src/report/html.ts";
export {
  type ComparisonReportInput,
  type DisagreementExample,
  reliabilityOverlaySvg,
  renderComparisonHtml,
  writeComparisonHtml,
} from "./src/report/compare_html.ts";
export {
  orderFlips,
  type TtaFlipExample,
  type TtaLike,
  ttaSectionHtml,
} from "./src/report/tta_section.ts";
export { formatJson, writeJson, writeMetricsJson } from "./src/report/json.ts";
export {
  type CsvOptions,
  embeddingCsv,
  parseCsv,
  type PredictionRow,
  predictionsCsv,
  writeEmbeddingCsv,
  writePredictionsCsv,
} from "./src/report/csv.ts";
export { reliabilityDiagramSvg, type ReliabilityOptions } from "./src/report/reliability.ts";
export {
  type ConfusedPair,
  confusedPairsSvg,
  confusionHeatmapSvg,
  type ConfusionMatrix,
  type ConfusionOptions,
  mostConfusedPairs,
} from "./src/report/confusion.ts";
export {
  type CurvePlotOptions,
  type CurvePoints,
  curvesFromHistograms,
  curvesFromScores,
  prCurvesSvg,
  rocCurvesSvg,
} from "./src/report/curves.ts";
export { confidenceDistributionSvg, type DistributionOptions } from "./src/report/distributions.ts";
export { embeddingScatterSvg, type ScatterOptions } from "./src/report/scatter.ts";
export { type Colormap, COLORMAPS, type Rgb, turbo, viridis } from "./src/report/colormap.ts";
export { encodePng, imageDataUri } from "./src/report/png.ts";
export {
  confidenceHistogramsFromSnapshot,
  type MistakeRecord,
  mostConfidentMistakes,
  worstClassCurves,
} from "./src/report/from_snapshot.ts";
