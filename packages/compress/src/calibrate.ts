// Runs a model over calibration token sequences (each cut into windows of the context length, one
// prefill per window, as trace-record does) and collects, per layer: routing statistics, router logits
// (the gate applied to the MoE block's input), and a sample of each expert's input rows, which the
// quantiser measures its error on and the merger aligns with.
//
// Letters (glossary: docs/ARCHITECTURE.md): L layers, E experts, k experts per token, N tokens of a step, D
// hidden size, M sampled rows (this file's meaning).
import type { Checkpoint, MoeRuntime } from "@expertmesh/model";
import { seededRandom } from "@expertmesh/moe";
import { StatsAccumulator, type RoutingStats } from "./routing-stats.js";

export interface Calibration {
  stats: RoutingStats;
  /** [L][E] up to M input rows [m, D] of the tokens routed to each expert (a uniform reservoir sample). */
  inputs: Float32Array[][];
  /** [L][E] the number of rows in `inputs`. */
  rows: number[][];
  /** [L][E] the gate weights of the sampled rows (the same order as `inputs`). */
  rowWeights: Float32Array[][];
  /** [L] w2 / w1 of every calibration token (k >= 2): what ODP's thresholds are calibrated on. */
  secondOverFirst: Float32Array[];
}

export interface CalibrateOptions {
  /** Rows kept per expert (M); default 256. */
  samplesPerExpert?: number;
  seed?: number;
}

/** The gate's weight [E, D] of each layer, read from the checkpoint. */
export function gateWeights(ckpt: Checkpoint): Float32Array[] {
  return Array.from({ length: ckpt.config.numLayers }, (_, l) => ckpt.gateWeights(l));
}

/** logits [N, E] = x [N, D] · Wg [E, D]^T. */
export function routerLogits(x: Float32Array, gate: Float32Array, D: number, E: number): Float32Array {
  const N = x.length / D;
  const out = new Float32Array(N * E);
  for (let t = 0; t < N; t++) {
    for (let e = 0; e < E; e++) {
      let s = 0;
      for (let d = 0; d < D; d++) s += x[t * D + d] * gate[e * D + d];
      out[t * E + e] = s;
    }
  }
  return out;
}

export async function calibrate(
  rt: MoeRuntime,
  sequences: readonly (readonly number[])[],
  opts: CalibrateOptions = {},
): Promise<Calibration> {
  const { numLayers: L, numExperts: E, topK: k, hiddenSize: D, maxPositions } = rt.config;
  const M = opts.samplesPerExpert ?? 256;
  const random = seededRandom(opts.seed ?? 1);
  const gates = gateWeights(rt.checkpoint);
  const acc = new StatsAccumulator(L, E, k);
  const inputs = Array.from({ length: L }, () => Array.from({ length: E }, () => new Float32Array(M * D)));
  const rowWeights = Array.from({ length: L }, () => Array.from({ length: E }, () => new Float32Array(M)));
  const seen = Array.from({ length: L }, () => new Array<number>(E).fill(0));
  const ratios: number[][] = Array.from({ length: L }, () => []);
  let normed: Float32Array | null = null;
  for (const s of sequences) {
    for (let i = 0; i < s.length; i += maxPositions) {
      const window = s.slice(i, i + maxPositions);
      await rt.step([{ sequence: rt.newSequence(), tokens: window }], {
        onMoeInput: (m) => {
          normed = m.normed;
          acc.addLogits(m.layer, routerLogits(m.normed, gates[m.layer], D, E));
        },
        onRouting: (r) => {
          acc.addRouting(r.layer, r.experts, r.weights);
          const x = normed!;
          const N = r.experts.length / k;
          if (k >= 2) for (let t = 0; t < N; t++) ratios[r.layer].push(r.weights[t * k + 1] / r.weights[t * k]);
          for (let t = 0; t < N; t++) {
            for (let j = 0; j < k; j++) {
              const e = r.experts[t * k + j];
              const n = seen[r.layer][e]++;
              const slot = n < M ? n : Math.floor(random() * (n + 1));
              if (slot >= M) continue;
              inputs[r.layer][e].set(x.subarray(t * D, t * D + D), slot * D);
              rowWeights[r.layer][e][slot] = r.weights[t * k + j];
            }
          }
        },
      });
    }
  }
  const rows = seen.map((r) => r.map((n) => Math.min(n, M)));
  return {
    stats: acc.finish(),
    inputs: inputs.map((layer, l) => layer.map((x, e) => x.slice(0, rows[l][e] * D))),
    rows,
    rowWeights: rowWeights.map((layer, l) => layer.map((w, e) => w.slice(0, rows[l][e]))),
    secondOverFirst: ratios.map((r) => Float32Array.from(r)),
  };
}
