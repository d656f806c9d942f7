import type { ModelInfoRequest, ModelInfoResponse } from "@expertmesh/proto";
import { checkModel } from "./request-validation.js";
import type { RouterState } from "./router-state.js";

/** InferenceService.ModelInfo: the served model's shape and the predictor in use. */
export function modelInfoHandler(state: RouterState) {
  return function modelInfo(req: ModelInfoRequest): ModelInfoResponse {
    checkModel(req.model, state.modelName);
    const m = state.model;
    return {
      name: state.modelName,
      architecture: m.architecture,
      numLayers: m.numLayers,
      numExperts: m.numExperts,
      topK: m.topK,
      vocabSize: m.vocabSize,
      contextLength: m.maxPositions,
      hiddenSize: m.hiddenSize,
      predictor: state.predictorDescription,
    };
  };
}
