// The router's configuration: every key settable by flag (--kebab-case) or environment
// (EXPERTMESH_ROUTER_UPPER_SNAKE), validated at start-up.
import { defineConfig, NATS_CONFIG_KEYS, SERVER_CONFIG_KEYS } from "@expertmesh/runtime";

export const routerConfig = defineConfig(
  { envPrefix: "EXPERTMESH_ROUTER_" },
  {
    model: { type: "string", description: "model directory (Hugging Face format); default: the bundled model" },
    modelName: { type: "string", description: "name clients use in requests; default: the model directory's name" },
    host: { type: "string", default: "127.0.0.1", description: "interface to listen on" },
    port: { type: "int", default: 50051, min: 0, max: 65535, description: "gRPC port (0: any free port)" },
    shards: { type: "list", required: true, description: "expert-shard addresses host:port, in shard-id order" },
    allowedShardAddresses: {
      type: "list",
      default: [],
      description:
        'addresses a shard heartbeat may name besides --shards, as host:port or patterns with * within a DNS label or the port (e.g. "expert-shard-*.expert-shard.expertmesh.svc.cluster.local:50061"); heartbeats naming others are refused',
    },
    replicas: { type: "int", default: 1, min: 1, description: "replicas per expert (as the shards were started with)" },
    predictor: { type: "string", description: "predictor service address host:port (optional)" },
    nats: {
      type: "string",
      description: "NATS URL for hints and shard heartbeats (optional: without it, static placement and on-demand loads)",
    },
    maxBatch: {
      type: "int",
      default: 16,
      min: 1,
      max: 1024,
      description: "sequences running at once (decoding in one step unless --step-batch)",
    },
    stepBatch: {
      type: "int",
      default: 0,
      min: 0,
      max: 1024,
      description: "sequences per decode step: more running sequences decode in several steps per iteration (0: all in one step)",
    },
    hintsBeforeStep: {
      type: "boolean",
      default: false,
      description:
        "a decode step waits for its tokens' prediction (one predictor call, at most its 50 ms deadline) so that its hints reach the shards before its first layer: behind a slow host-device link the shards' first evictions then see this step's prediction, not the last step's",
    },
    schedule: {
      type: "enum",
      values: ["arrival", "regroup"],
      default: "arrival",
      description:
        "how running sequences are cut into decode steps: admission order, or regrouped so that each step activates fewer experts",
    },
    maxQueue: {
      type: "int",
      default: 64,
      min: 0,
      max: 100000,
      description: "requests waiting beyond the running batch; more get RESOURCE_EXHAUSTED",
    },
    defaultMaxTokens: { type: "int", default: 64, min: 1, description: "max_tokens when a request leaves it 0" },
    maxStopStrings: { type: "int", default: 8, min: 0, description: "stop strings per request" },
    maxPromptBytes: { type: "bytes", default: 256 * 1024, min: 1, description: "prompt size limit before tokenisation" },
    dispatch: {
      type: "enum",
      values: ["stream", "unary"],
      default: "stream",
      description:
        "how expert calls reach the shards: one long-lived DispatchExperts stream per shard, or one unary RunExperts call each (for A/B)",
    },
    shardTimeout: { type: "duration", default: 10_000, min: 1, description: "deadline of one RunExperts call" },
    threads: { type: "int", default: 1, min: 1, description: "onnxruntime threads per operator for the dense part" },
    provider: { type: "enum", values: ["cpu", "cuda"], default: "cpu", description: "onnxruntime execution provider" },
    metricsPort: {
      type: "int",
      min: 0,
      max: 65535,
      description: "port of the plaintext /metrics and /healthz endpoint (0: any free port; unset: none)",
    },
    httpPort: {
      type: "int",
      min: 0,
      max: 65535,
      description:
        "port of the OpenAI-compatible HTTP API (/v1/completions, /v1/chat/completions, /v1/models, /health); 0: any free port; unset: none",
    },
    httpTimeout: {
      type: "duration",
      default: 300_000,
      min: 1,
      description: "deadline of one HTTP API request (a stream: until its last chunk); past it 504",
    },
    httpMaxBody: { type: "bytes", default: 1024 * 1024, min: 1, description: "largest HTTP API request body; larger gets 413" },
    drainTimeout: { type: "duration", default: 60_000, min: 0, description: "how long SIGTERM waits for running generations" },
    ...SERVER_CONFIG_KEYS,
    ...NATS_CONFIG_KEYS,
  },
);

export type RouterConfig = ReturnType<typeof routerConfig.parse>;
