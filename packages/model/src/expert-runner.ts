// Experts as separate units. The runtime hands an ExpertRunner the tokens each expert must compute for one
// layer; the in-process runner below computes them with one ONNX session, and the mesh's router
// implements the same interface by sending the work to expert shards.
import type { Checkpoint } from "./checkpoint.js";
import { buildExpertGraph } from "./graphs/expert-graph.js";
import { createSession, floatTensor, type InferenceSession, type SessionConfig, type Tensor } from "./ort-session.js";

export interface ExpertWork {
  expert: number;
  /** Hidden states [rows, D] of the tokens routed to this expert. */
  x: Float32Array;
  rows: number;
}

export interface ExpertRunner {
  /**
   * Computes each work item's expert on its rows; returns [rows, D] per item, in order. `signal` aborts
   * the work (remote runners cancel their calls); the promise then rejects with the signal's reason.
   */
  run(layer: number, work: ExpertWork[], signal?: AbortSignal): Promise<Float32Array[]>;
}

type ExpertTensors = { w1: Tensor; w3: Tensor; w2: Tensor } | undefined; // undefined: a slot without a stored expert

/** Computes experts in this process from weights held in memory (all of them, loaded at start). */
export class LocalExpertRunner implements ExpertRunner {
  private constructor(
    private readonly session: InferenceSession,
    private readonly weights: ExpertTensors[][],
    private readonly D: number,
  ) {}

  static async create(ckpt: Checkpoint, session: SessionConfig): Promise<LocalExpertRunner> {
    const { hiddenSize: D, intermediateSize: F, numLayers: L, numExperts: E } = ckpt.config;
    const weights: ExpertTensors[][] = [];
    for (let l = 0; l < L; l++) {
      weights.push([]);
      for (let e = 0; e < E; e++) {
        if (!ckpt.isStored(l, e)) {
          weights[l].push(undefined);
          continue;
        }
        const w = ckpt.expert(l, e);
        weights[l].push({ w1: floatTensor(w.w1, [F, D]), w3: floatTensor(w.w3, [F, D]), w2: floatTensor(w.w2, [D, F]) });
      }
    }
    return new LocalExpertRunner(await createSession(buildExpertGraph(D, F), session), weights, D);
  }

  async run(layer: number, work: ExpertWork[], signal?: AbortSignal): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const w of work) {
      signal?.throwIfAborted();
      const t = this.weights[layer][w.expert];
      if (t === undefined) throw new RangeError(`expert (${layer}, ${w.expert}) is not stored in this checkpoint (merged or pruned slot)`);
      const r = await this.session.run({ x: floatTensor(w.x, [w.rows, this.D]), w1: t.w1, w3: t.w3, w2: t.w2 });
      out.push(r.y.data as Float32Array);
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
