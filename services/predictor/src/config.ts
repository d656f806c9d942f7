// The predictor's configuration: every key settable by flag (--kebab-case) or environment
// (EXPERTMESH_PREDICTOR_UPPER_SNAKE), validated at start-up. L and E are not configured: they are read
// from the predictor model's metadata (predictor-info.ts).
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig, SERVER_CONFIG_KEYS } from "@expertmesh/runtime";

/**
 * The bundled model's trained predictor (an MLP over the token embedding and position, with a per-token
 * correction); its held-out batch coverage is above the frequency prior's (predictor-prior.onnx, kept beside
 * it as the baseline) and the other baselines: models/sotu-moe/PREDICTOR.md says how both are made.
 */
export const BUNDLED_PREDICTOR = resolve(join(dirname(fileURLToPath(import.meta.url)), "../../../models/sotu-moe/predictor.onnx"));

/** The token limit when maxTokens is 0 and the response fits the message limit. */
export const DEFAULT_MAX_TOKENS = 8192;

export const predictorConfig = defineConfig(
  { envPrefix: "EXPERTMESH_PREDICTOR_" },
  {
    predictor: { type: "string", default: BUNDLED_PREDICTOR, description: "predictor model (.onnx with ExpertMesh predictor metadata)" },
    host: { type: "string", default: "127.0.0.1", description: 'interface to listen on ("0.0.0.0" in a container)' },
    port: { type: "int", default: 50071, min: 0, max: 65535, description: "gRPC port (0: any free port)" },
    threads: { type: "int", default: 1, min: 1, max: 256, description: "onnxruntime intra-op threads of the inference worker" },
    provider: { type: "enum", values: ["cpu", "cuda"], default: "cpu", description: "onnxruntime execution provider" },
    maxTokens: {
      type: "int",
      default: 0,
      min: 0,
      max: 1 << 20,
      description: `most tokens in one PredictRoutes request (0: ${DEFAULT_MAX_TOKENS}, or fewer when the model's L x E probabilities per token would not fit the message limit)`,
    },
    maxQueue: {
      type: "int",
      default: 64,
      min: 0,
      max: 100_000,
      description: "requests waiting while one runs; more get RESOURCE_EXHAUSTED",
    },
    metricsPort: {
      type: "int",
      min: 0,
      max: 65535,
      description: "port of the plaintext /metrics and /healthz endpoint (0: any free port; unset: none)",
    },
    drainTimeout: { type: "duration", default: 30_000, min: 0, description: "how long SIGTERM waits for running requests" },
    ...SERVER_CONFIG_KEYS,
  },
);

export type PredictorConfig = ReturnType<typeof predictorConfig.parse>;
