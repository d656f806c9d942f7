// @expertmesh/predictor/model: the predictor model format without the service (no gRPC): the
// metadata every predictor carries and the frequency-prior baseline. The CLI builds and evaluates
// predictors through it.
export { buildFrequencyPriorModel, FREQUENCY_PRIOR_KIND } from "./prior-model.js";
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
