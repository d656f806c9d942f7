// Quantised experts computed in this process: one onnxruntime session per expert whose low-bit weights
// are initializers (graphs/expert-nbits-graph.ts), so the kernel keeps them packed (never f32 at load).
// Low-rank plus sparse experts run the same way (quant/lowrank-expert-graph.ts, fromGraphs).
import type { Checkpoint } from "./checkpoint.js";
import type { ExpertRunner, ExpertWork } from "./expert-runner.js";
import { buildNbitsExpertGraph, type NbitsAccuracy } from "./graphs/expert-nbits-graph.js";
import { createSession, floatTensor, type InferenceSession, type SessionConfig } from "./ort-session.js";

/** What the runtime uses for MatMulNBits unless told otherwise (measured by `bench compress`). */
export const DEFAULT_NBITS_ACCURACY: NbitsAccuracy = 4;

export class NbitsExpertRunner implements ExpertRunner {
  private constructor(
    private readonly sessions: (InferenceSession | undefined)[][], // [L][E], undefined for slots without a stored expert
    private readonly D: number,
  ) {}

  static create(ckpt: Checkpoint, session: SessionConfig, accuracy: NbitsAccuracy = DEFAULT_NBITS_ACCURACY): Promise<NbitsExpertRunner> {
    const { hiddenSize: D, intermediateSize: F } = ckpt.config;
    return NbitsExpertRunner.fromGraphs(ckpt, session, (l, e) => buildNbitsExpertGraph(D, F, ckpt.nbitsExpert(l, e), accuracy));
  }

  /** One session per stored expert of the graph `graphOf` builds (weights as initializers: low-bit, low-rank). */
  static async fromGraphs(
    ckpt: Checkpoint,
    session: SessionConfig,
    graphOf: (layer: number, expert: number) => Uint8Array,
  ): Promise<NbitsExpertRunner> {
    const { hiddenSize: D, numLayers: L, numExperts: E } = ckpt.config;
    const sessions: (InferenceSession | undefined)[][] = [];
    for (let l = 0; l < L; l++) {
      sessions.push([]);
      for (let e = 0; e < E; e++) sessions[l].push(ckpt.isStored(l, e) ? await createSession(graphOf(l, e), session) : undefined);
    }
    return new NbitsExpertRunner(sessions, D);
  }

  async run(layer: number, work: ExpertWork[], signal?: AbortSignal): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const w of work) {
      signal?.throwIfAborted();
      const s = this.sessions[layer][w.expert];
      if (s === undefined) throw new RangeError(`expert (${layer}, ${w.expert}) is not stored in this checkpoint (merged or pruned slot)`);
      const r = await s.run({ x: floatTensor(w.x, [w.rows, this.D]) });
      out.push(r.y.data as Float32Array);
    }
    return out;
  }

  async release(): Promise<void> {
    for (const row of this.sessions) for (const s of row) await s?.release();
  }
}
