// Configuration of an expert shard: every key settable by flag (--device-budget) and environment
// variable (EXPERTMESH_SHARD_DEVICE_BUDGET), defaults beside each key, validated at start-up with an
// error naming the key. Budgets given as a share ("25%") are resolved against the bytes of the experts
// this shard owns once the model is open (shard.ts), and fail there, naming the key, if they hold no expert.

import { hostname } from "node:os";
import { ConfigError, defineConfig, NATS_CONFIG_KEYS, SERVER_CONFIG_KEYS, type ConfigValues } from "@expertmesh/runtime";
import { BUNDLED_MODEL_DIR } from "@expertmesh/model";
import { CACHE_POLICIES, CACHE_POLICY_NAMES } from "@expertmesh/moe";
import { parseBudget } from "./budget.js";

const budget = (value: string): string | undefined => {
  const parsed = parseBudget(value);
  return parsed.ok ? undefined : `expected ${parsed.expected}`;
};

export const shardConfig = defineConfig(
  { envPrefix: "EXPERTMESH_SHARD_" },
  {
    model: { type: "string", default: BUNDLED_MODEL_DIR, description: "model directory (Hugging Face layout: config.json + safetensors)" },
    shardId: {
      type: "int",
      default: 0,
      min: 0,
      env: "EXPERTMESH_SHARD_ID",
      description: "this shard's index in the placement, in [0, shards)",
    },
    shards: { type: "int", default: 1, min: 1, description: "number of shards in the placement" },
    replicas: { type: "int", default: 1, min: 1, description: "shards that own each expert (at most shards)" },
    deviceBudget: {
      type: "string",
      default: "25%",
      validate: budget,
      description: 'device tier: a share of the owned experts ("25%") or a size ("6MiB", bytes when bare); must hold one expert',
    },
    hostBudget: {
      type: "string",
      default: "100%",
      validate: budget,
      description: "host tier (decoded weights in RAM): a share of the owned experts or a size; must hold one expert",
    },
    linkGbps: {
      type: "number",
      validate: (v) => (v > 0 && Number.isFinite(v) ? undefined : "expected a bandwidth in GB/s > 0"),
      description:
        "simulate a host→device link of this many gigabytes (10^9 bytes, not gigabits) per second: every device-tier load waits linkExpertBytes / bandwidth (PCIe 4.0 x16: about 25); unset: no simulation",
    },
    linkExpertBytes: {
      type: "bytes",
      min: 1,
      description:
        "bytes one expert moves over the simulated link (default: the model's real expert size; Mixtral-8x7B: 352321536 = 3·4096·14336 bf16 values); needs --link-gbps",
    },
    host: { type: "string", default: "127.0.0.1", description: 'interface to listen on ("0.0.0.0" in a container)' },
    port: { type: "int", default: 50061, min: 0, max: 65535, description: "gRPC port (0: any free port)" },
    threads: { type: "int", default: 1, min: 1, max: 256, description: "onnxruntime intra-op threads per compute worker" },
    provider: { type: "enum", values: ["cpu", "cuda"], default: "cpu", description: "onnxruntime execution provider" },
    policy: {
      type: "enum",
      values: CACHE_POLICY_NAMES,
      default: "lru",
      description: `device-tier policy: ${CACHE_POLICY_NAMES.map((n) => `${n} (${CACHE_POLICIES[n].what}; at least ${CACHE_POLICIES[n].minSlots} device slot${CACHE_POLICIES[n].minSlots > 1 ? "s" : ""})`).join(", ")}`,
    },
    maxTokensPerCall: {
      type: "int",
      default: 8192,
      min: 1,
      max: 1 << 20,
      description: "most tokens (summed over experts) in one RunExperts call",
    },
    maxConcurrentCalls: { type: "int", default: 64, min: 1, description: "RunExperts calls served at once; more get RESOURCE_EXHAUSTED" },
    compute: {
      type: "enum",
      values: ["inline", "worker"],
      default: "inline",
      description:
        "where experts compute: inline on the thread that serves the calls (default: no thread hop; its event loop waits for each onnxruntime run, which is short for the experts of one decode call), or in --compute-workers worker threads (one hop per call and worker; the event loop stays free while a large call computes). Measured with bench e2e (resident vs resident-worker)",
    },
    computeWorkers: {
      type: "int",
      default: 1,
      min: 1,
      max: 64,
      description: "worker threads that compute experts (each resident expert lives in one of them)",
    },
    maxHintBytes: { type: "bytes", default: 16 * 1024, min: 1, description: "NATS prefetch hints larger than this are dropped undecoded" },
    hintRate: {
      type: "number",
      // A router sends about 2 hints per layer-step; a link-bound mesh makes tens of steps a second.
      default: 1_000,
      min: 1,
      description: "prefetch hints per second acted on (bursts up to one second's worth); more are dropped and counted",
    },
    hintExpertRate: {
      type: "number",
      // Several times what a link can load in a second; 16,000 let a flood take most of a core (the
      // reliability suite's hint-flood row: shards' CPU per generation 0.3 -> 4 s).
      default: 4_000,
      min: 1,
      description: "experts per second that hints may pass to prefetch: bounds the link and CPU a hint flood can take",
    },
    prefetchQueue: { type: "int", default: 64, min: 0, description: "low-priority prefetches waiting to load; more are dropped" },
    drainTimeout: { type: "duration", default: 30_000, min: 0, description: "how long a drain waits for running calls" },
    metricsPort: {
      type: "int",
      min: 0,
      max: 65535,
      description: "port of the plaintext /metrics and /healthz endpoint (0: any free port; unset: none)",
    },
    nats: { type: "string", description: "NATS URL for heartbeats and prefetch hints (optional: without it the shard serves on demand)" },
    heartbeatInterval: { type: "duration", default: 1_000, min: 50, description: "how often a heartbeat is published on NATS" },
    shardIdFromHostname: {
      type: "boolean",
      default: false,
      env: "EXPERTMESH_SHARD_ID_FROM_HOSTNAME",
      description:
        "take the shard id from the trailing -N of $HOSTNAME (a StatefulSet pod's ordinal: expert-shard-2 is shard 2); overrides --shard-id",
    },
    advertise: {
      type: "string",
      description: "address (host:port) published in heartbeats for routers to dial; default: the listening address",
    },
    ...SERVER_CONFIG_KEYS,
    ...NATS_CONFIG_KEYS,
  },
);

export type ShardConfig = ConfigValues<typeof shardConfig.specs>;

/** Parses argv and env, then checks the rules that join several keys; throws ConfigError. */
export function parseShardConfig(argv: readonly string[], env: Readonly<Record<string, string | undefined>>): ShardConfig {
  let config = shardConfig.parse(argv, env);
  if (config.shardIdFromHostname) config = Object.freeze({ ...config, shardId: ordinalFromHostname(env.HOSTNAME ?? hostname()) });
  if (config.shardId >= config.shards) {
    const from = config.shardIdFromHostname ? ` (the ordinal of hostname ${JSON.stringify(env.HOSTNAME ?? hostname())})` : "";
    const message = `config shardId: ${config.shardId}${from} is not below shards (${config.shards})`;
    throw new ConfigError(
      "shardId",
      config.shardIdFromHostname ? "EXPERTMESH_SHARD_ID_FROM_HOSTNAME" : "--shard-id",
      String(config.shardId),
      message,
    );
  }
  if (config.linkExpertBytes !== undefined && config.linkGbps === undefined) {
    const message = `config linkExpertBytes: ${config.linkExpertBytes} given without linkGbps (--link-gbps): no link is simulated`;
    throw new ConfigError("linkExpertBytes", "--link-expert-bytes", String(config.linkExpertBytes), message);
  }
  if (config.replicas > config.shards) {
    const message = `config replicas: ${config.replicas} exceeds shards (${config.shards})`;
    throw new ConfigError("replicas", "--replicas", String(config.replicas), message);
  }
  return config;
}

/** The ordinal of a StatefulSet pod from its hostname: "expert-shard-2" → 2. */
export function ordinalFromHostname(host: string): number {
  const match = /-(\d+)$/.exec(host.trim());
  if (match === null) {
    const message = `config shardIdFromHostname: hostname ${JSON.stringify(host)} does not end in -<ordinal> (a StatefulSet pod name such as expert-shard-2); set --shard-id instead`;
    throw new ConfigError("shardIdFromHostname", "EXPERTMESH_SHARD_ID_FROM_HOSTNAME", host, message);
  }
  return Number(match[1]);
}
