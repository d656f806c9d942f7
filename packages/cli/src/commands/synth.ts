// expertmesh synth: a random checkpoint of a given geometry in the real Hugging Face format, for benchmarks,
// capacity planning and load tests without downloadable weights.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  InvalidInputError,
  SYNTH_DTYPES,
  SYNTH_FAMILIES,
  writeSynthCheckpoint,
  type SynthDType,
  type SynthGeometry,
  type SynthResult,
} from "@expertmesh/model";
import { fileFlagError, isNonNegativeInt, isPositiveInt, numberFlag, parseFlags, UsageError } from "../args.js";

export const SYNTH_USAGE = `usage: expertmesh synth (--config-like DIR | --hidden H --intermediate F --layers L --experts E --top-k K)
                       [--heads H] [--kv-heads K] [--head-dim Dh] [--vocab V] [--max-positions N]
                       [--dtype ${SYNTH_DTYPES.join("|")}] [--seed S] [--family ${SYNTH_FAMILIES.map((f) => f.name).join("|")}] --out DIR [--json]

Writes a random checkpoint in the real Hugging Face format: config.json, safetensors (sharded above 5 GB,
with model.safetensors.index.json), and the bundled model's tokenizer.json / tokenizer_config.json.
It loads wherever a real checkpoint does (generate, score, bench, up --model DIR).

  --config-like DIR  take every size from DIR/config.json (e.g. a real model's); the flags below override it
  --hidden H         hidden size D                 --intermediate F  expert hidden size
  --layers L         MoE layers (DeepSeek-V3: after its first_k_dense_replace dense ones)
  --experts E        experts per layer
  --top-k K          experts per token
  --heads H          attention heads (default: D / 128, or D / 64 below D = 1024)
  --kv-heads K       key/value heads (default: H / 4 when 4 divides H, else H)
  --head-dim Dh      head size (default: D / H)
  --vocab V          vocabulary (default: the tokenizer's 4096; at least that)
  --max-positions N  context length (default 4096)
  --dtype            f32 (default) or bf16 (rounded to nearest even)
  --seed S           random seed (default 0); the same seed and geometry give the same bytes
  --family F         model family (default: the --config-like architecture's, else mixtral)
  --out DIR          output directory (must not exist or be empty)
  --json             print the result as one JSON object`;

const FLAGS = {
  "config-like": { type: "string" },
  hidden: { type: "string" },
  intermediate: { type: "string" },
  layers: { type: "string" },
  experts: { type: "string" },
  "top-k": { type: "string" },
  heads: { type: "string" },
  "kv-heads": { type: "string" },
  "head-dim": { type: "string" },
  vocab: { type: "string" },
  "max-positions": { type: "string" },
  dtype: { type: "string" },
  seed: { type: "string" },
  family: { type: "string" },
  out: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

const SIZES: [keyof typeof FLAGS, keyof SynthGeometry][] = [
  ["hidden", "hidden"],
  ["intermediate", "intermediate"],
  ["layers", "layers"],
  ["experts", "experts"],
  ["top-k", "topK"],
  ["heads", "heads"],
  ["kv-heads", "kvHeads"],
  ["head-dim", "headDim"],
  ["vocab", "vocab"],
  ["max-positions", "maxPositions"],
];

export async function synthCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, FLAGS);
  if (v.help) {
    console.log(SYNTH_USAGE);
    return;
  }
  if (v.out === undefined) throw new UsageError("--out DIR is required (see expertmesh synth --help)");
  const geometry: SynthGeometry = {};
  for (const [flag, key] of SIZES) {
    const raw = v[flag] as string | undefined;
    if (raw !== undefined) geometry[key] = numberFlag(flag, raw, 0, isPositiveInt, "a positive integer");
  }
  let base: Record<string, unknown> | undefined;
  if (v["config-like"] !== undefined) {
    const file = join(v["config-like"], "config.json");
    try {
      base = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      if (e instanceof SyntaxError) throw new UsageError(`--config-like ${file}: not valid JSON: ${e.message}`);
      throw fileFlagError("--config-like", file, e);
    }
  } else {
    const missing = SIZES.slice(0, 5)
      .filter(([flag]) => v[flag] === undefined)
      .map(([flag]) => `--${flag}`);
    if (missing.length) throw new UsageError(`${missing.join(", ")} required without --config-like DIR (see expertmesh synth --help)`);
  }
  const dtype = (v.dtype ?? "f32") as SynthDType;
  if (!SYNTH_DTYPES.includes(dtype)) throw new UsageError(`--dtype must be ${SYNTH_DTYPES.join(" or ")}, got ${JSON.stringify(v.dtype)}`);
  const seed = numberFlag("seed", v.seed, 0, isNonNegativeInt, "a non-negative integer");

  const t0 = performance.now();
  let r: SynthResult;
  try {
    r = writeSynthCheckpoint(v.out, { geometry, base, family: v.family, dtype, seed });
  } catch (e) {
    // The geometry's errors name the flag (InvalidInputError.field is the flag's name without "--").
    if (e instanceof InvalidInputError) throw new UsageError(`--${e.message}`);
    throw e;
  }
  const seconds = (performance.now() - t0) / 1000;
  const c = r.config;
  const summary = {
    out: r.dir,
    family: r.family,
    dtype,
    seed,
    parameters: r.parameters,
    bytes: r.bytes,
    files: r.files,
    hidden: c.hiddenSize,
    intermediate: c.intermediateSize,
    layers: c.numLayers,
    experts: c.numExperts,
    top_k: c.topK,
    heads: c.numHeads,
    kv_heads: c.numKvHeads,
    head_dim: c.headDim,
    vocab: c.vocabSize,
    max_positions: c.maxPositions,
    seconds: Math.round(seconds * 100) / 100,
  };
  if (v.json) {
    console.log(JSON.stringify(summary));
    return;
  }
  console.log(
    `${r.dir}: ${r.family} D=${c.hiddenSize} F=${c.intermediateSize} L=${c.numLayers} E=${c.numExperts} k=${c.topK} ` +
      `H=${c.numHeads} K=${c.numKvHeads} Dh=${c.headDim} V=${c.vocabSize}, ${(r.parameters / 1e6).toFixed(1)} M parameters, ` +
      `${(r.bytes / 2 ** 20).toFixed(1)} MiB ${dtype} in ${r.files.filter((f) => f.endsWith(".safetensors")).length} file(s), ${summary.seconds} s`,
  );
}
