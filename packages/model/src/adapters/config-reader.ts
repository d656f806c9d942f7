// Reading a Hugging Face config.json: typed getters whose errors name the file and the key, and the keys
// every supported family shares (vocabulary, hidden size, heads, RoPE, norms, special tokens).
import { ConfigError } from "../errors.js";
import type { RopeSpec } from "../config.js";

export class ConfigReader {
  constructor(
    readonly raw: Readonly<Record<string, unknown>>,
    readonly file: string,
    readonly family: string,
  ) {}

  has(key: string): boolean {
    return this.raw[key] != null;
  }

  private value(key: string, fallback: unknown): unknown {
    const v = this.raw[key] ?? fallback;
    if (v === undefined) throw new ConfigError(this.file, key, `missing (${this.family} needs it)`);
    return v;
  }

  /** A positive integer. */
  int(key: string, fallback?: number): number {
    const v = this.value(key, fallback);
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
      throw new ConfigError(this.file, key, `expected a positive integer, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A non-negative integer. */
  count(key: string, fallback?: number): number {
    const v = this.value(key, fallback);
    if (typeof v !== "number" || !Number.isInteger(v) || v < 0)
      throw new ConfigError(this.file, key, `expected a non-negative integer, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A positive number. */
  num(key: string, fallback?: number): number {
    const v = this.value(key, fallback);
    if (typeof v !== "number" || !(v > 0)) throw new ConfigError(this.file, key, `expected a positive number, got ${JSON.stringify(v)}`);
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.value(key, fallback);
    if (typeof v !== "boolean") throw new ConfigError(this.file, key, `expected true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A positive integer, or null when the key is absent or null. */
  intOrNull(key: string): number | null {
    return this.has(key) ? this.int(key) : null;
  }

  intList(key: string): number[] {
    const v = this.value(key, []);
    if (!Array.isArray(v) || v.some((x) => typeof x !== "number" || !Number.isInteger(x) || x < 0)) {
      throw new ConfigError(this.file, key, `expected a list of layer indices, got ${JSON.stringify(v)}`);
    }
    return v as number[];
  }

  fail(key: string, detail: string): never {
    throw new ConfigError(this.file, key, detail);
  }
}

/** The keys all families share, read the way their HF config classes read them. */
export interface CommonConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numHeads: number;
  numKvHeads: number;
  maxPositions: number;
  rmsNormEps: number;
  bosTokenId: number | null;
  eosTokenIds: number[];
  tieWordEmbeddings: boolean;
}

export function readCommon(r: ConfigReader, defaults: { rmsNormEps: number }): CommonConfig {
  if (r.raw.hidden_act != null && r.raw.hidden_act !== "silu")
    r.fail("hidden_act", `only "silu" is supported, got ${JSON.stringify(r.raw.hidden_act)}`);
  const numHeads = r.int("num_attention_heads");
  const numKvHeads = r.int("num_key_value_heads", numHeads);
  if (numHeads % numKvHeads) r.fail("num_key_value_heads", `${numKvHeads} does not divide num_attention_heads ${numHeads}`);
  const eos = r.raw.eos_token_id;
  return {
    vocabSize: r.int("vocab_size"),
    hiddenSize: r.int("hidden_size"),
    numHiddenLayers: r.int("num_hidden_layers"),
    numHeads,
    numKvHeads,
    maxPositions: r.int("max_position_embeddings"),
    rmsNormEps: r.num("rms_norm_eps", defaults.rmsNormEps),
    bosTokenId: typeof r.raw.bos_token_id === "number" ? r.raw.bos_token_id : null,
    eosTokenIds: eos == null ? [] : Array.isArray(eos) ? eos.map(Number) : [Number(eos)],
    tieWordEmbeddings: r.bool("tie_word_embeddings", false),
  };
}

/**
 * RoPE over `dim` dimensions of each head. The base is `rope_theta` (older configs) or
 * `rope_parameters.rope_theta` (newer ones); `rope_scaling` / `rope_parameters.rope_type` may be absent,
 * "default" or "yarn" (every family's rotary embedding takes ROPE_INIT_FUNCTIONS[rope_type]).
 */
export function readRope(r: ConfigReader, dim: number, options: { interleave: boolean; thetaDefault: number }): RopeSpec {
  const params = (r.raw.rope_parameters ?? null) as Record<string, unknown> | null;
  const scaling = (r.raw.rope_scaling ?? params ?? null) as Record<string, unknown> | null;
  const thetaRaw = r.raw.rope_theta ?? params?.rope_theta ?? options.thetaDefault;
  if (typeof thetaRaw !== "number" || !(thetaRaw > 0)) r.fail("rope_theta", `expected a positive number, got ${JSON.stringify(thetaRaw)}`);
  if (dim % 2) r.fail("head_dim", `rotary embeddings need an even number of dimensions, got ${dim}`);
  const type = scaling ? String(scaling.rope_type ?? scaling.type ?? "default") : "default";
  const key = r.raw.rope_scaling != null ? "rope_scaling" : "rope_parameters";
  if (type === "default") return { theta: thetaRaw, dim, interleave: options.interleave, yarn: null };
  if (type !== "yarn") r.fail(`${key}.rope_type`, `${JSON.stringify(type)} is not supported (supported: default, yarn)`);
  const f = (name: string, fallback?: number): number => {
    const v = scaling![name] ?? fallback;
    if (typeof v !== "number" || !(v >= 0)) r.fail(`${key}.${name}`, `expected a number, got ${JSON.stringify(v)}`);
    return v;
  };
  const factor = f("factor");
  return {
    theta: thetaRaw,
    dim,
    interleave: options.interleave,
    yarn: {
      factor,
      originalMaxPositions: f("original_max_position_embeddings", r.int("max_position_embeddings")),
      betaFast: f("beta_fast", 32),
      betaSlow: f("beta_slow", 1),
      mscale: f("mscale", 0),
      mscaleAllDim: f("mscale_all_dim", 0),
      attentionFactor: scaling!.attention_factor == null ? null : f("attention_factor"),
      truncate: scaling!.truncate == null ? true : scaling!.truncate === true,
    },
  };
}
