// Writes a random checkpoint of a family and geometry in the real Hugging Face format: config.json,
// model.safetensors (or model-0000i-of-0000n.safetensors shards + model.safetensors.index.json when it
// exceeds the shard size), and the bundled model's tokenizer.json / tokenizer_config.json. Values are
// generated and written in chunks, so a checkpoint of many GB needs little memory.
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { seededRandom } from "@expertmesh/moe";
import { BUNDLED_MODEL_DIR } from "../bundled.js";
import { parseConfig, type MoeConfig } from "../config.js";
import { InvalidInputError } from "../errors.js";
import type { SynthDType, SynthFamily, SynthGeometry, SynthTensor } from "./synth-family.js";
import { synthFamily } from "./synth-families.js";

export interface SynthOptions {
  geometry: SynthGeometry;
  /** A config.json to take the sizes (and other keys) from; the geometry overrides it. */
  base?: Readonly<Record<string, unknown>>;
  /** Family name; defaults to the base config's architecture, else Mixtral. */
  family?: string;
  dtype?: SynthDType;
  seed?: number;
  /** Largest safetensors file before the checkpoint is split into shards (default 5 GB, as transformers). */
  maxShardBytes?: number;
  /** Where tokenizer.json and tokenizer_config.json come from (default: the bundled model); V defaults to its size. */
  tokenizerDir?: string;
}

export interface SynthResult {
  dir: string;
  family: string;
  config: MoeConfig;
  parameters: number;
  bytes: number;
  files: string[];
}

const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json"];
const CHUNK = 1 << 20;

export function writeSynthCheckpoint(dir: string, opts: SynthOptions): SynthResult {
  const base = opts.base ?? {};
  const archs = base.architectures;
  const family: SynthFamily = synthFamily(opts.family, Array.isArray(archs) && typeof archs[0] === "string" ? archs[0] : undefined);
  const dtype = opts.dtype ?? "f32";
  const tokenizerDir = opts.tokenizerDir ?? BUNDLED_MODEL_DIR;
  const tokenizerVocab = vocabularySize(join(tokenizerDir, "tokenizer.json"));
  // Without a vocabulary size, the tokenizer's: every id the model can emit then decodes to text.
  const geometry = { ...opts.geometry, vocab: opts.geometry.vocab ?? (base.vocab_size === undefined ? tokenizerVocab : undefined) };
  const rawConfig = family.config(base, geometry, dtype);
  const config = parseConfig(rawConfig, "the synthesised config.json");
  if (config.vocabSize < tokenizerVocab) {
    throw new InvalidInputError(
      "vocab",
      `${config.vocabSize} is below the tokenizer's ${tokenizerVocab} tokens (${join(tokenizerDir, "tokenizer.json")})`,
    );
  }
  if (existsSync(dir) && readdirSync(dir).length > 0) throw new InvalidInputError("out", `${dir} exists and is not empty`);
  mkdirSync(dir, { recursive: true });

  const tensors = family.tensors(config).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const bytesPer = dtype === "bf16" ? 2 : 4;
  const shards = splitIntoShards(tensors, bytesPer, opts.maxShardBytes ?? 5e9);
  const random = seededRandom(opts.seed ?? 0);
  const files: string[] = [];
  const weightMap: Record<string, string> = {};
  shards.forEach((part, i) => {
    const file = shards.length === 1 ? "model.safetensors" : `model-${pad(i + 1)}-of-${pad(shards.length)}.safetensors`;
    writeShard(join(dir, file), part, dtype, random);
    for (const t of part) weightMap[t.name] = file;
    files.push(file);
  });
  const parameters = tensors.reduce((a, t) => a + count(t), 0);
  if (shards.length > 1) {
    writeFileSync(
      join(dir, "model.safetensors.index.json"),
      JSON.stringify({ metadata: { total_size: parameters * bytesPer }, weight_map: weightMap }, null, 2),
    );
    files.push("model.safetensors.index.json");
  }
  writeFileSync(join(dir, "config.json"), JSON.stringify(rawConfig, null, 2) + "\n");
  files.push("config.json");
  for (const f of TOKENIZER_FILES) {
    if (!existsSync(join(tokenizerDir, f))) continue;
    copyFileSync(join(tokenizerDir, f), join(dir, f));
    files.push(f);
  }
  return { dir, family: family.name, config, parameters, bytes: parameters * bytesPer, files };
}

function count(t: SynthTensor): number {
  return t.shape.reduce((a, b) => a * b, 1);
}

const pad = (n: number) => String(n).padStart(5, "0");

/** Consecutive tensors per file, a new file when the next tensor would pass `max` bytes (a tensor is never split). */
function splitIntoShards(tensors: SynthTensor[], bytesPer: number, max: number): SynthTensor[][] {
  const shards: SynthTensor[][] = [[]];
  let size = 0;
  for (const t of tensors) {
    const b = count(t) * bytesPer;
    if (size > 0 && size + b > max) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(t);
    size += b;
  }
  return shards;
}

function writeShard(path: string, tensors: SynthTensor[], dtype: SynthDType, random: () => number): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  const bytesPer = dtype === "bf16" ? 2 : 4;
  for (const t of tensors) {
    const b = count(t) * bytesPer;
    header[t.name] = { dtype: dtype === "bf16" ? "BF16" : "F32", shape: t.shape, data_offsets: [offset, offset + b] };
    offset += b;
  }
  header.__metadata__ = { format: "pt" };
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const fd = openSync(path, "w");
  try {
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json));
    const f32 = new Float32Array(CHUNK);
    const bf16 = new Uint16Array(CHUNK);
    const bits = new Uint32Array(f32.buffer);
    for (const t of tensors) {
      const n = count(t);
      const scale = t.init.kind === "uniform" ? t.init.std * Math.sqrt(3) * 2 : 0;
      for (let start = 0; start < n; start += CHUNK) {
        const m = Math.min(CHUNK, n - start);
        if (t.init.kind === "ones") f32.fill(1, 0, m);
        else for (let i = 0; i < m; i++) f32[i] = (random() - 0.5) * scale;
        if (dtype === "f32") {
          writeSync(fd, new Uint8Array(f32.buffer, 0, m * 4));
        } else {
          for (let i = 0; i < m; i++) {
            const u = bits[i];
            bf16[i] = (u + 0x7fff + ((u >>> 16) & 1)) >>> 16; // round to nearest even
          }
          writeSync(fd, new Uint8Array(bf16.buffer, 0, m * 2));
        }
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Number of token ids a tokenizer.json can produce: its vocabulary and added tokens. */
function vocabularySize(file: string): number {
  const tok = JSON.parse(readFileSync(file, "utf8")) as { model?: { vocab?: Record<string, number> }; added_tokens?: { id: number }[] };
  let max = -1;
  for (const id of Object.values(tok.model?.vocab ?? {})) max = Math.max(max, id);
  for (const t of tok.added_tokens ?? []) max = Math.max(max, t.id);
  return max + 1;
}
