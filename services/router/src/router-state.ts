// What the router's handlers share: configuration, the model's shape, the tokenizer and the engine.
import type { MoeConfig, TextTokenizer } from "@expertmesh/model";
import type { RouterConfig } from "./config.js";
import type { EngineClient } from "./engine/engine-client.js";
import type { RequestMetrics } from "./request-metrics.js";

export interface RouterState {
  readonly config: RouterConfig;
  readonly modelName: string;
  readonly model: MoeConfig;
  readonly tokenizer: TextTokenizer;
  readonly engine: EngineClient;
  readonly predictorDescription: string;
  /** vLLM-style per-request metrics (request-metrics.ts). */
  readonly metrics: RequestMetrics;
}
