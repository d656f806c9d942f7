// Sizes for `expertmesh synth` families: a flag's value, else the --config-like config's key, else a
// default; errors name the flag. Attention shape defaults follow Mixtral's synth (head dim 128, 64 below
// D = 1024, kv heads H / 4) unless the base config gives them.
import { InvalidInputError } from "../errors.js";
import type { SynthGeometry } from "./synth-family.js";

export type SizeOf = (flag: string, key: string, value: number | undefined, fallback?: number) => number;

export function sizeReader(base: Readonly<Record<string, unknown>>): SizeOf {
  return (flag, key, value, fallback) => {
    const v = value ?? (base[key] as number | undefined) ?? fallback;
    if (v === undefined) throw new InvalidInputError(flag, `is required (or --config-like DIR with ${key} in its config.json)`);
    if (!Number.isInteger(v) || v <= 0) throw new InvalidInputError(flag, `must be a positive integer, got ${JSON.stringify(v)}`);
    return v;
  };
}

/** Heads, kv heads and head dim: from the geometry, else the base config (when D and H are unchanged), else defaults. */
export function attentionShape(base: Readonly<Record<string, unknown>>, g: SynthGeometry, D: number, size: SizeOf, headDimFree: boolean) {
  const baseHeads = g.hidden === undefined;
  const baseKv = baseHeads && g.heads === undefined;
  const guess = Math.min(D, D >= 1024 ? 128 : 64);
  const heads = size(
    "heads",
    "num_attention_heads",
    g.heads ?? (baseHeads ? (base.num_attention_heads as number | undefined) : undefined) ?? (D % guess === 0 ? D / guess : undefined),
  );
  const kvHeads = size(
    "kv-heads",
    "num_key_value_heads",
    g.kvHeads ?? (baseKv ? (base.num_key_value_heads as number | undefined) : undefined) ?? (heads % 4 === 0 ? heads / 4 : heads),
  );
  if (heads % kvHeads) throw new InvalidInputError("kv-heads", `${kvHeads} does not divide heads ${heads}`);
  const headDim = headDimFree ? (g.headDim ?? (baseKv ? (base.head_dim as number | undefined) : undefined) ?? D / heads) : D / heads;
  if (!headDimFree && g.headDim !== undefined && g.headDim !== D / heads)
    throw new InvalidInputError("head-dim", `this family's head size is hidden / heads = ${D / heads}, got ${g.headDim}`);
  if (!Number.isInteger(headDim)) throw new InvalidInputError("heads", `${heads} does not divide hidden ${D}`);
  return { heads, kvHeads, headDim };
}

/** The keys every family's config.json has, from the geometry. */
export function commonKeys(base: Readonly<Record<string, unknown>>, g: SynthGeometry, size: SizeOf, dtype: string) {
  return {
    torch_dtype: dtype === "bf16" ? "bfloat16" : "float32",
    vocab_size: size("vocab", "vocab_size", g.vocab),
    hidden_act: "silu",
    max_position_embeddings: size("max-positions", "max_position_embeddings", g.maxPositions, 4096),
    tie_word_embeddings: base.tie_word_embeddings ?? false,
    initializer_range: SYNTH_STD,
    bos_token_id: base.bos_token_id ?? 0,
    eos_token_id: base.eos_token_id ?? 0,
  };
}

/** transformers' initializer_range (0.02 for every supported family): weights are drawn with this std. */
export const SYNTH_STD = 0.02;
