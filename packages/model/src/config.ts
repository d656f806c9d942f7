// The model configuration, normalised from a Hugging Face config.json. Letters used across the runtime:
// L layers, E experts per layer, k experts per token, D hidden size, F expert hidden size, H attention
// heads, K key/value heads, Dh head dimension, V vocabulary.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ConfigError, CheckpointError } from "./errors.js";

export interface MoeConfig {
  architecture: string;
  vocabSize: number; // V
  hiddenSize: number; // D
  intermediateSize: number; // F
  numLayers: number; // L
  numHeads: number; // H
  numKvHeads: number; // K
  headDim: number; // Dh
  numExperts: number; // E
  topK: number; // k
  maxPositions: number;
  rmsNormEps: number;
  ropeTheta: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
  tieWordEmbeddings: boolean;
}

/** Architectures with an adapter (see adapters/). */
export const SUPPORTED_ARCHITECTURES = ["MixtralForCausalLM"] as const;

export function readConfig(modelDir: string): MoeConfig {
  const file = join(modelDir, "config.json");
  let raw: Record<string, unknown>;
  try {
    raw = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new CheckpointError(file, (e as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : `unreadable: ${(e as Error).message}`, { cause: e });
  }
  return parseConfig(raw, file);
}

export function parseConfig(raw: Record<string, unknown>, file = "config.json"): MoeConfig {
  const archs = raw.architectures;
  const architecture = Array.isArray(archs) && typeof archs[0] === "string" ? archs[0] : String(raw.model_type ?? "");
  if (!(SUPPORTED_ARCHITECTURES as readonly string[]).includes(architecture)) {
    throw new ConfigError(file, "architectures", `unsupported architecture ${JSON.stringify(architecture)} (supported: ${SUPPORTED_ARCHITECTURES.join(", ")})`);
  }
  const int = (key: string, fallback?: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
      throw new ConfigError(file, key, `expected a positive integer, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const num = (key: string, fallback: number): number => {
    const v = raw[key] ?? fallback;
    if (typeof v !== "number" || !(v > 0)) throw new ConfigError(file, key, `expected a positive number, got ${JSON.stringify(v)}`);
    return v;
  };
  const hiddenSize = int("hidden_size");
  const numHeads = int("num_attention_heads");
  const numKvHeads = int("num_key_value_heads", numHeads);
  const headDim = raw.head_dim == null ? hiddenSize / numHeads : int("head_dim");
  if (!Number.isInteger(headDim)) throw new ConfigError(file, "head_dim", `hidden_size ${hiddenSize} is not divisible by num_attention_heads ${numHeads}`);
  if (headDim % 2) throw new ConfigError(file, "head_dim", `rotary embeddings need an even head dimension, got ${headDim}`);
  if (numHeads % numKvHeads) throw new ConfigError(file, "num_key_value_heads", `${numKvHeads} does not divide num_attention_heads ${numHeads}`);
  const numExperts = int("num_local_experts");
  const topK = int("num_experts_per_tok");
  if (topK > numExperts) throw new ConfigError(file, "num_experts_per_tok", `${topK} exceeds num_local_experts ${numExperts}`);
  if (raw.hidden_act != null && raw.hidden_act !== "silu") {
    throw new ConfigError(file, "hidden_act", `only "silu" is supported, got ${JSON.stringify(raw.hidden_act)}`);
  }
  const eos = raw.eos_token_id;
  const eosTokenIds = eos == null ? [] : Array.isArray(eos) ? eos.map(Number) : [Number(eos)];
  return Object.freeze({
    architecture,
    vocabSize: int("vocab_size"),
    hiddenSize,
    intermediateSize: int("intermediate_size"),
    numLayers: int("num_hidden_layers"),
    numHeads,
    numKvHeads,
    headDim,
    numExperts,
    topK,
    maxPositions: int("max_position_embeddings"),
    rmsNormEps: num("rms_norm_eps", 1e-5),
    ropeTheta: num("rope_theta", 10000),
    bosTokenId: typeof raw.bos_token_id === "number" ? raw.bos_token_id : null,
    eosTokenIds,
    tieWordEmbeddings: raw.tie_word_embeddings === true,
  });
}
