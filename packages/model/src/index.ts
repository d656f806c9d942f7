export { expertParts, fusedUnsupported } from "./forward-fused.js";
export {
  MoeRuntime,
  Sequence,
  FORWARD_PATHS,
  type ForwardPathName,
  type StepInput,
  type StepOptions,
  type LayerRouting,
  type MoeInput,
  type RuntimeOptions,
} from "./runtime.js";
export { Checkpoint, type ExpertWeights } from "./checkpoint.js";
export { readConfig, parseConfig, SUPPORTED_ARCHITECTURES, type MoeConfig } from "./config.js";
export { SafetensorsFile, type TensorInfo, type SafetensorsDType } from "./safetensors.js";
export { TextTokenizer } from "./tokenizer.js";
export { LocalExpertRunner, type ExpertRunner, type ExpertWork } from "./expert-runner.js";
export { generate, MAX_TOKENS_LIMIT, type GenerateOptions, type GenerateResult, type FinishReason } from "./generate.js";
export { score, type ScoreResult } from "./score.js";
export { sampleToken, seededRandom, argmax, type SamplingOptions } from "./sampling.js";
export { DEFAULT_SESSION_CONFIG, type SessionConfig, type ExecutionProvider } from "./ort-session.js";
export { CheckpointError, TensorError, ConfigError, LimitError, InvalidInputError, isModelError, type ModelError } from "./errors.js";
export { writeSafetensors, type TensorToWrite } from "./safetensors-write.js";
export { recordTrace } from "./trace-record.js";
export { buildExpertGraph, buildOwnExpertGraph } from "./graphs/expert-graph.js";
export { GraphBuilder, type ElemType, type Dim } from "./onnx/graph-builder.js";
export { createSession, floatTensor, int64Tensor, type InferenceSession } from "./ort-session.js";
export { BUNDLED_MODEL_DIR } from "./bundled.js";
export { applyGate, preGatePredictions } from "./pre-gate.js";
// Routing-path predictor models (ONNX): the shared signature and metadata, the frequency prior, the MLP.
export { buildFrequencyPriorModel, FREQUENCY_PRIOR_KIND } from "./predictor/prior-model.js";
export { buildMlpPredictorModel, MLP_KIND } from "./predictor/mlp-model.js";
export { buildNextStepModel, NEXT_STEP_KIND, PREDICTS_KEY, PREDICTS_NEXT_STEP } from "./predictor/next-step-model.js";
export {
  describePredictor,
  PREDICTOR_INPUTS,
  PREDICTOR_OUTPUT,
  PredictorModelError,
  predictorMetadata,
  readPredictorInfo,
  type PredictorInfo,
} from "./predictor/predictor-info.js";
export { readOnnxMetadata } from "./predictor/onnx-metadata.js";
export { writeSynthCheckpoint, type SynthOptions, type SynthResult } from "./synth/synth-write.js";
export { SYNTH_FAMILIES, synthFamily } from "./synth/synth-families.js";
export {
  SYNTH_DTYPES,
  type SynthFamily,
  type SynthGeometry,
  type SynthDType,
  type SynthTensor,
  type SynthInit,
} from "./synth/synth-family.js";
// Low-bit experts (compress quantize writes them; the runtime and shards compute them with MatMulNBits).
export {
  KERNEL_BITS,
  nbitsShape,
  nbitsBytes,
  dequantizeNbits,
  packCodes,
  type NbitsShape,
  type NbitsWeight,
} from "./quant/nbits-layout.js";
export { quantizeNbits, groupGrid } from "./quant/nbits-quantize.js";
export { NBITS_METHOD, readExpertQuantization, nbitsTensorNames, type ExpertQuantization } from "./quant/expert-quantization.js";
export { EXPERT_WEIGHTS, expertWeightShape, expertNbitsBytes, type NbitsExpert } from "./quant/nbits-expert.js";
export { buildNbitsExpertGraph, type NbitsAccuracy } from "./graphs/expert-nbits-graph.js";
export { NbitsExpertRunner, DEFAULT_NBITS_ACCURACY } from "./expert-runner-nbits.js";
export {
  LOW_RANK_METHOD,
  LOW_RANK_KEY,
  lowRankTensorNames,
  lowRankWeightBytes,
  lowRankExpertBytes,
  reconstructLowRank,
  reconstructLowRankExpert,
  type LowRankConfig,
  type LowRankWeight,
  type LowRankExpert,
} from "./quant/lowrank-layout.js";
export { buildLowRankExpertGraph } from "./quant/lowrank-expert-graph.js";
export { isNbitsExpert, readExpertPayload, transferablePayload, type ExpertPayload } from "./quant/expert-payload.js";
