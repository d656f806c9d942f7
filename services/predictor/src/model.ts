// @expertmesh/predictor/model: the predictor model format without the service (no gRPC): the
// metadata every predictor carries, the frequency-prior baseline and the trained MLP predictor. The CLI
// builds and evaluates predictors through it.
export { buildFrequencyPriorModel, FREQUENCY_PRIOR_KIND } from "./prior-model.js";
export { buildMlpPredictorModel, MLP_KIND } from "./mlp-model.js";
export {
  describePredictor,
  PREDICTOR_INPUTS,
  PREDICTOR_OUTPUT,
  PredictorModelError,
  predictorMetadata,
  readPredictorInfo,
  type PredictorInfo,
} from "./predictor-info.js";
export { readOnnxMetadata } from "./onnx-metadata.js";
