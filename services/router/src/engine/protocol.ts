// Messages between the router's main thread (gRPC, admission, tokenizer) and its engine worker (the
// continuous batcher, the dense part of the model, and expert dispatch to the shards).
import type { ClientTlsFiles, NatsConfigValues } from "@expertmesh/runtime";

export interface EngineSettings {
  modelDir: string;
  shards: string[];
  replicas: number;
  maxBatch: number;
  /** Sequences per decode step (0: all running sequences in one step) and how they are chosen. */
  stepBatch: number;
  /** Decode steps wait for their prediction, so that hints reach the shards before the first layer. */
  hintsBeforeStep: boolean;
  schedule: "arrival" | "regroup";
  shardTimeoutMs: number;
  /** How expert calls reach the shards (shard-pool.ts). */
  dispatch: "stream" | "unary";
  threads: number;
  provider: "cpu" | "cuda";
  /** NATS URL for shard heartbeats (and hints); undefined: static placement only. */
  nats?: string;
  /** Addresses (or patterns, "*" within a label or port) that heartbeats may name besides `shards`. */
  allowedShardAddresses?: string[];
  /** NATS authentication and TLS (plain values: the worker builds the client options). */
  natsAuth?: NatsConfigValues;
  /** Predictor service address; undefined: no route prediction, no hints. */
  predictor?: string;
  /** TLS of the channels to shards and the predictor (the router's certificate, the CA bundle); undefined: plaintext. */
  tls?: ClientTlsFiles | undefined;
}

export interface SamplingParams {
  maxTokens: number;
  temperature: number;
  topP: number;
  seed: number;
}

export type ToEngine =
  | { type: "submit"; id: number; prompt: number[]; sampling: SamplingParams; deadline: number; traceparent?: string }
  | { type: "cancel"; id: number }
  | { type: "shutdown" };

export type EngineErrorCode = "UNAVAILABLE" | "DEADLINE_EXCEEDED" | "INTERNAL";

export interface EngineTimings {
  queueMs: number;
  prefillMs: number;
  decodeMs: number;
}

/** The worker posts arrays of these: the events of one step together. */
export type FromEngine =
  | { type: "ready" }
  /** The request left the waiting queue for the running batch (its prefill starts). */
  | { type: "scheduled"; id: number }
  | { type: "token"; id: number; token: number }
  | { type: "done"; id: number; finish: "eos" | "length" | "cancelled"; timings: EngineTimings }
  | { type: "error"; id: number; code: EngineErrorCode; message: string }
  | { type: "fatal"; message: string };
