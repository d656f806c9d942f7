// The time-honest simulator (packages/moe cache-sim-time.ts) on a `bench e2e --links on` run's own
// requests: the same access stream as the link-bound limit (bench-e2e-limit.ts: the in-process routing of
// the measured requests in the mesh's order, prefills as one step), the same shards (keys g mod shards),
// slots, link and expert size, and the policy objects the shards run. What the live rows are to be
// compared with: where live expertflow over LRU falls short of the simulated ratio, the mesh (hint
// timing, queueing, CPU) loses it, not the policy.
//
// Rows: LRU; expertflow on the predictor's per-step demand (each step's tokens through the predictor
// model, 1 - Π_tokens (1 - p), as the hints carry it, with no next-step prediction and no pre-gate, as
// live today); the same with the hints reaching the shards only at layer 1 (the previous step's before, as
// the router publishes them without --hints-before-step: `hints at layer 1`); expertflow on a flat demand
// (no prediction). τ, the compute of one layer-step, is the
// all-resident mesh's time per layer-step where measured, else 0 (link only).
//
// Letters (glossary: docs/ARCHITECTURE.md): S decode steps, L MoE layers, E experts per layer, C slots
// per shard, x transfer time of one expert, τ compute time of one layer-step, p predicted demand.
import { ExpertflowTimePolicy, LruPolicy, simulateTimed, type CachePolicy } from "@expertmesh/moe";
import type { MeshStream } from "./bench-e2e-limit.js";

export interface SimulatedRow {
  policy: string;
  loads: number;
  seconds: number;
  tokens_per_s: number;
  over_lru: number;
}

export interface SimulatedRun {
  layer_ms: number;
  capacity_per_shard: number;
  rows: SimulatedRow[];
}

/** [S, L, E] per-step demand from per-token predictions [N, L, E] of the stream's trace. */
export function stepDemand(stream: MeshStream, perToken: Float32Array): Float32Array {
  const { numLayers: L, numExperts: E, steps: S } = stream;
  const K = L * E;
  const out = new Float32Array(S * K);
  const unused = new Float64Array(K);
  for (let s = 0; s < S; s++) {
    unused.fill(1);
    for (const n of stream.stepTokens[s]) for (let i = 0; i < K; i++) unused[i] *= 1 - Math.min(1, Math.max(0, perToken[n * K + i]));
    for (let i = 0; i < K; i++) out[s * K + i] = 1 - unused[i];
  }
  return out;
}

export function simulateRun(
  stream: MeshStream,
  o: {
    shards: number;
    budgetPercent: number;
    expertBytes: number;
    linkGbps: number;
    outputTokens: number;
    residentSeconds: number | undefined;
    predictions: Float32Array | undefined;
  },
): SimulatedRun {
  const { numLayers: L, numExperts: E, steps: S } = stream;
  // Every shard owns L*E / shards experts (± 1); the fewest slots of any shard, as bench-e2e-limit.ts.
  const owned = Math.floor((L * E) / o.shards);
  const capacity = Math.max(1, Math.floor((owned * o.budgetPercent) / 100));
  const layerMs = o.residentSeconds === undefined || S === 0 ? 0 : (o.residentSeconds * 1000) / (S * L);
  const opts = { capacity, expertBytes: o.expertBytes, linkGbps: o.linkGbps, layerMs, shards: o.shards };
  const shape = { numLayers: L, numExperts: E, capacity };
  const run = (policy: string, make: () => CachePolicy, demand?: Float32Array, demandFromLayer = 0) => {
    const r = simulateTimed(stream, make, { ...opts, demand, demandFromLayer: Math.min(demandFromLayer, L) });
    return { policy, loads: r.loads, seconds: r.timeMs / 1000 };
  };
  const raw = [run("lru", () => new LruPolicy())];
  if (o.predictions !== undefined) {
    const demand = stepDemand(stream, o.predictions);
    raw.push(run("expertflow[predictor]", () => new ExpertflowTimePolicy(shape), demand));
    raw.push(run("expertflow[predictor, hints at layer 1]", () => new ExpertflowTimePolicy(shape), demand, 1));
  }
  // k/E for every token (no prediction), as bench cache's flat-demand ablation.
  const flat = new Float32Array(stream.trace.tokens * L * E).fill(stream.trace.topK / E);
  raw.push(run("expertflow[flat]", () => new ExpertflowTimePolicy(shape), stepDemand(stream, flat)));
  const lru = raw[0];
  return {
    layer_ms: layerMs,
    capacity_per_shard: capacity,
    rows: raw.map((r) => ({
      ...r,
      tokens_per_s: o.outputTokens / r.seconds,
      over_lru: lru.seconds / r.seconds,
    })),
  };
}
