// @expertmesh/predictor/model: kept for compatibility; the predictor model format lives in
// @expertmesh/model (packages/model/src/predictor).
export {
  buildFrequencyPriorModel, FREQUENCY_PRIOR_KIND, buildMlpPredictorModel, MLP_KIND, describePredictor, PREDICTOR_INPUTS,
  PREDICTOR_OUTPUT, PredictorModelError, predictorMetadata, readPredictorInfo, readOnnxMetadata, type PredictorInfo,
} from "@expertmesh/model";
