// Writes a compressed checkpoint directory: the source's config.json with edits, its other files
// (tokenizer, predictor models ...) copied, and one model.safetensors holding the given tensors.
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { EXPERT_WEIGHTS, writeSafetensors, type Checkpoint, type TensorToWrite } from "@expertmesh/model";

export class CompressError extends Error {
  override name = "CompressError";
}

export function writeCompressedCheckpoint(
  src: Checkpoint,
  outDir: string,
  tensors: Record<string, TensorToWrite>,
  configEdits: Record<string, unknown>,
): void {
  if (resolve(outDir) === resolve(src.dir)) throw new CompressError(`--out ${outDir} is the source model directory; choose another`);
  mkdirSync(outDir, { recursive: true });
  for (const name of readdirSync(src.dir)) {
    const from = join(src.dir, name);
    if (name === "config.json" || name.endsWith(".safetensors") || name === "model.safetensors.index.json" || !statSync(from).isFile())
      continue;
    copyFileSync(from, join(outDir, name));
  }
  const config = JSON.parse(readFileSync(join(src.dir, "config.json"), "utf8")) as Record<string, unknown>;
  writeFileSync(join(outDir, "config.json"), JSON.stringify({ ...config, ...configEdits }, null, 2) + "\n");
  const stale = join(outDir, "model.safetensors.index.json");
  if (existsSync(stale))
    throw new CompressError(`${outDir} holds a model.safetensors.index.json from an earlier checkpoint; use an empty --out`);
  writeSafetensors(join(outDir, "model.safetensors"), tensors, { format: "pt" });
}

/** The source's tensors that `keep` accepts, as f32 tensors to write. */
export function copiedTensors(src: Checkpoint, keep: (name: string) => boolean): Record<string, TensorToWrite> {
  const out: Record<string, TensorToWrite> = {};
  for (const name of src.tensorNames()) {
    if (!keep(name)) continue;
    const { info, data } = src.rawTensor(name);
    if (!(data instanceof Float32Array)) throw new CompressError(`tensor ${name}: dtype ${info.dtype}, expected a float tensor`);
    out[name] = { data, shape: info.shape };
  }
  return out;
}

/** Every tensor of the source but its experts' weights: what a checkpoint that rewrites the experts keeps. */
export function nonExpertTensors(src: Checkpoint): Record<string, TensorToWrite> {
  const { numLayers: L, numExperts: E } = src.config;
  const expertNames = new Set<string>();
  for (let l = 0; l < L; l++)
    for (let e = 0; e < E; e++) for (const w of EXPERT_WEIGHTS) expertNames.add(src.adapter.expert(src.decoderLayer(l), e, w));
  return copiedTensors(src, (name) => !expertNames.has(name));
}
