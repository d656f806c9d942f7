// @expertmesh/predictor: the predictor service (startPredictor, its config) and the predictor model
// format (also importable alone, without gRPC, as "@expertmesh/predictor/model").
export { startPredictor, type Predictor } from "./server.js";
export { BUNDLED_PREDICTOR, predictorConfig, type PredictorConfig } from "./config.js";
export * from "./model.js";
