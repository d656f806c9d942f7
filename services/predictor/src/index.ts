// @expertmesh/predictor: the predictor service (startPredictor, its config). The predictor model format
// lives in @expertmesh/model (packages/model/src/predictor).
export { startPredictor, type Predictor } from "./server.js";
export { BUNDLED_PREDICTOR, predictorConfig, type PredictorConfig } from "./config.js";
