// A Hugging Face checkpoint directory: config.json, model.safetensors or sharded
// model-0000x-of-0000y.safetensors with model.safetensors.index.json. Tensors are read on demand and
// checked against the shape the config implies, so a wrong checkpoint fails with the tensor's name.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { adapterFor, type ExpertWeight, type FamilyAdapter } from "./adapters/index.js";
import { readConfig, type MoeConfig } from "./config.js";
import { CheckpointError, TensorError } from "./errors.js";
import { SafetensorsFile } from "./safetensors.js";

export interface ExpertWeights {
  w1: Float32Array; // [F, D]
  w3: Float32Array; // [F, D]
  w2: Float32Array; // [D, F]
}

export class Checkpoint {
  private constructor(
    readonly dir: string,
    readonly config: MoeConfig,
    readonly adapter: FamilyAdapter,
    private readonly files: ReadonlyMap<string, SafetensorsFile>,
  ) {}

  static open(dir: string): Checkpoint {
    if (!existsSync(dir)) throw new CheckpointError(dir, "model directory not found");
    const config = readConfig(dir);
    const adapter = adapterFor(config.architecture, join(dir, "config.json"));
    return new Checkpoint(dir, config, adapter, openTensorFiles(dir));
  }

  /** Reads a float tensor and checks its shape. */
  tensor(name: string, shape: readonly number[]): Float32Array {
    const file = this.files.get(name);
    if (!file) throw new TensorError(name, this.dir, "missing from the checkpoint");
    const { info, data } = file.readFloat(name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new TensorError(name, file.path, `shape [${info.shape}] but the config implies [${shape}]`);
    }
    return data;
  }

  /** Total bytes of one expert's weights as fp32 (what a device tier holds). */
  expertBytes(): number {
    const { hiddenSize: D, intermediateSize: F } = this.config;
    return 3 * D * F * 4;
  }

  expert(layer: number, expert: number): ExpertWeights {
    const { hiddenSize: D, intermediateSize: F } = this.config;
    const name = (w: ExpertWeight) => this.adapter.expert(layer, expert, w);
    return { w1: this.tensor(name("w1"), [F, D]), w3: this.tensor(name("w3"), [F, D]), w2: this.tensor(name("w2"), [D, F]) };
  }
}

function openTensorFiles(dir: string): Map<string, SafetensorsFile> {
  const index = join(dir, "model.safetensors.index.json");
  const single = join(dir, "model.safetensors");
  const files = new Map<string, SafetensorsFile>();
  if (existsSync(index)) {
    let weightMap: Record<string, string>;
    try {
      weightMap = JSON.parse(readFileSync(index, "utf8")).weight_map;
    } catch (e) {
      throw new CheckpointError(index, `unreadable index: ${(e as Error).message}`, { cause: e });
    }
    if (typeof weightMap !== "object" || weightMap === null) throw new CheckpointError(index, "has no weight_map");
    const opened = new Map<string, SafetensorsFile>();
    for (const [name, shard] of Object.entries(weightMap)) {
      let f = opened.get(shard);
      if (!f) opened.set(shard, (f = SafetensorsFile.open(join(dir, shard))));
      if (!f.tensors.has(name)) throw new TensorError(name, f.path, "listed in the index but absent from the shard");
      files.set(name, f);
    }
  } else if (existsSync(single)) {
    const f = SafetensorsFile.open(single);
    for (const name of f.tensors.keys()) files.set(name, f);
  } else {
    throw new CheckpointError(dir, "no model.safetensors or model.safetensors.index.json");
  }
  return files;
}
