// A Hugging Face checkpoint directory: config.json, model.safetensors or sharded
// model-0000x-of-0000y.safetensors with model.safetensors.index.json. Tensors are read on demand and
// checked against the shape the config implies, so a wrong checkpoint fails with the tensor's name.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { adapterFor, type ExpertWeight, type FamilyAdapter } from "./adapters/index.js";
import { readConfig, type MoeConfig } from "./config.js";
import { CheckpointError, TensorError } from "./errors.js";
import { SafetensorsFile, type TensorInfo } from "./safetensors.js";
import { readExpertQuantization, type ExpertQuantization } from "./quant/expert-quantization.js";
import { readExpertSlotMap } from "./expert-slots.js";
import { expertNbitsBytes, readNbitsExpert, type NbitsExpert } from "./quant/nbits-expert.js";
import {
  lowRankExpertBytes,
  readLowRankConfig,
  readLowRankExpert,
  type LowRankConfig,
  type LowRankExpert,
} from "./quant/lowrank-layout.js";

export interface ExpertWeights {
  w1: Float32Array; // [F, D]
  w3: Float32Array; // [F, D]
  w2: Float32Array; // [D, F]
}

export class Checkpoint {
  #quantization: ExpertQuantization | null | undefined;
  #slotMap: number[][] | null | undefined;
  #lowRank: LowRankConfig | null | undefined;

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

  /** The names of all tensors in the checkpoint. */
  tensorNames(): string[] {
    return [...this.files.keys()];
  }

  /** Reads a tensor of any dtype as stored (for low-bit expert tensors). */
  rawTensor(name: string): { info: TensorInfo; data: Float32Array | Int32Array | BigInt64Array | Uint8Array; file: string } {
    const file = this.files.get(name);
    if (!file) throw new TensorError(name, this.dir, "missing from the checkpoint");
    return { ...file.read(name), file: file.path };
  }

  /** The low-bit layout of the experts (config.json quantization_config), or null when they are f32. */
  get quantization(): ExpertQuantization | null {
    if (this.#quantization === undefined)
      this.#quantization = readExpertQuantization(this.dir, this.config.numLayers, this.config.numExperts);
    return this.#quantization;
  }

  /** [L][E] gate slot -> stored expert slot (-1 pruned) of a merged or pruned checkpoint (expert-slots.ts), or null. */
  get slotMap(): number[][] | null {
    if (this.#slotMap === undefined) this.#slotMap = readExpertSlotMap(this.dir, this.config.numLayers, this.config.numExperts);
    return this.#slotMap;
  }

  /** Whether slot `expert` holds a stored expert (false for merged-away and pruned slots). */
  isStored(layer: number, expert: number): boolean {
    return (this.slotMap?.[layer][expert] ?? expert) === expert;
  }

  /** The slot whose stored expert computes slot `expert` (itself unless merged); throws for a pruned slot. */
  storedSlot(layer: number, expert: number): number {
    const m = this.slotMap?.[layer][expert] ?? expert;
    if (m < 0) throw new CheckpointError(this.dir, `expert (${layer}, ${expert}) was pruned (expert_slot_map)`);
    return m;
  }

  /**
   * Bytes of one expert's weights as stored and held on a device tier: 3·D·F·4 for f32, the low-bit
   * codes, scales and zero points for a quantised expert. Without arguments: the largest expert.
   */
  expertBytes(layer?: number, expert?: number): number {
    const { hiddenSize: D, intermediateSize: F } = this.config;
    if (this.lowRank !== null) {
      if (layer !== undefined && expert !== undefined) return lowRankExpertBytes(this.lowRankExpert(layer, expert));
      let most = 0;
      for (let l = 0; l < this.config.numLayers; l++)
        for (let e = 0; e < this.config.numExperts; e++)
          if (this.isStored(l, e)) most = Math.max(most, lowRankExpertBytes(this.lowRankExpert(l, e)));
      return most;
    }
    const q = this.quantization;
    if (q === null) return 3 * D * F * 4;
    if (layer === undefined || expert === undefined) return Math.max(...q.bits.flat().map((b) => expertNbitsBytes(D, F, b, q.groupSize)));
    return expertNbitsBytes(D, F, q.bits[layer][expert], q.groupSize);
  }

  /** The low-rank plus sparse layout of the experts (config.json low_rank_config), or null. */
  get lowRank(): LowRankConfig | null {
    if (this.#lowRank === undefined) this.#lowRank = readLowRankConfig(this.dir);
    return this.#lowRank;
  }

  /** A low-rank plus sparse expert's factors (quant/lowrank-layout.ts). */
  lowRankExpert(layer: number, expert: number): LowRankExpert {
    if (this.lowRank === null) throw new CheckpointError(this.dir, "the experts are not low-rank (no low_rank_config in config.json)");
    return readLowRankExpert(this, layer, this.storedSlot(layer, expert));
  }

  /** A quantised expert's three weights in the kernel's layout (quant/nbits-layout.ts). */
  nbitsExpert(layer: number, expert: number): NbitsExpert {
    const q = this.quantization;
    if (q === null) throw new CheckpointError(this.dir, "the experts are f32, not quantised (no quantization_config in config.json)");
    return readNbitsExpert(this, layer, this.storedSlot(layer, expert), q);
  }

  /** The decoder layer of MoE layer `layer` (they differ when the model has dense layers). */
  decoderLayer(layer: number): number {
    const d = this.config.moeLayers[layer];
    if (d === undefined) throw new RangeError(`MoE layer ${layer} is outside [0, ${this.config.numLayers})`);
    return d;
  }

  /** MoE layer `layer`'s gate weights [E, D]. */
  gateWeights(layer: number): Float32Array {
    return this.tensor(this.adapter.gate(this.decoderLayer(layer)), [this.config.numExperts, this.config.hiddenSize]);
  }

  /** MoE layer `layer`'s selection-only correction bias [E], when the family's gate has one. */
  gateBias(layer: number): Float32Array | undefined {
    if (!this.config.gate.selectionBias) return undefined;
    return this.tensor(this.adapter.gateBias!(this.decoderLayer(layer)), [this.config.numExperts]);
  }

  /** Routed expert `expert` of MoE layer `layer`. */
  expert(layer: number, expert: number): ExpertWeights {
    const { hiddenSize: D, intermediateSize: F } = this.config;
    if (this.quantization !== null) {
      throw new CheckpointError(
        this.dir,
        `expert (${layer}, ${expert}) is quantised (${this.quantization.bits[layer][expert]} bits), not f32: read it with nbitsExpert`,
      );
    }
    if (this.lowRank !== null)
      throw new CheckpointError(
        this.dir,
        `expert (${layer}, ${expert}) is stored low-rank plus sparse, not f32: read it with lowRankExpert`,
      );
    const decoder = this.decoderLayer(layer);
    const stored = this.storedSlot(layer, expert);
    const name = (w: ExpertWeight) => this.adapter.expert(decoder, stored, w);
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
