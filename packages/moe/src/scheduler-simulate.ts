// Decode windows replayed from a routing trace, to measure the token scheduler: W sequences are in flight;
// at every step each of them decodes its next token, the scheduler (given each sequence's route source:
// the truth, the previous token's route, a predictor) cuts the window into M batches of T, and the batches
// are charged the experts the tokens truly use. A finished sequence leaves and the next one (admission
// order) takes its place at the end of the window, as in a continuous batcher. Only full windows count.
//
// Letters (glossary: docs/ARCHITECTURE.md): N trace tokens, W = M·T sequences in flight, T tokens per decode
// step (at most T sequences), M batches per window, L MoE layers, E experts per layer, k experts per token (k'
// of a route source), S_i^l the true experts of sequence i's current token at layer l.
//
//   distinct experts per batch per layer (a schedule's figure):  Σ_windows Σ_m |∪_{i ∈ B_m} S_i^l| / (windows · M),
//                                                                averaged over l in `mean`
//   lower bound (the window union spread over its M batches):    Σ_windows |∪_{i < W} S_i^l| / (windows · M);
//                                                                no partition does better (each window expert
//                                                                runs in at least one batch)
// Each sequence's first token is its prompt: decoding starts at its second token, so that "the previous
// token's route" exists for every decoded token.
import type { ExpertChoices } from "./predictor-metrics.js";
import { optimalTwoBatches, EXACT_MAX_WINDOW } from "./scheduler-exact.js";
import { arrivalBatches, hammingBatches, regroup, type Batches } from "./scheduler-regroup.js";
import { addExperts, emptyRouteSets, unionPerLayer, type RouteSets } from "./scheduler-routes.js";

/** Where the scheduler's routes come from: the route of token t is `experts` [N, L, k'] at t - lag. */
export interface RouteSource {
  readonly name: string;
  readonly experts: Uint16Array; // [N, L, k']
  readonly topK: number; // k'
  /** 0: the token's own (true or predicted) route; 1: the previous token's. */
  readonly lag: number;
}

export type ScheduleMethod = "hamming" | "regroup";

export interface SimulationOptions {
  readonly batchSize: number; // T
  readonly windowBatches: number; // M
  /** The sequences, in admission order: token ranges of the trace. */
  readonly sequences: readonly { readonly start: number; readonly length: number }[];
  readonly sources: readonly RouteSource[];
  readonly methods: readonly ScheduleMethod[];
  /** Stop after this many full windows (default: all). */
  readonly maxWindows?: number;
  /** Also compute the exact optimum on the true routes of every n-th window (M = 2, W <= 24 only; 0: never). */
  readonly exactEvery?: number;
}

export interface ExpertsPerBatch {
  /** [L], distinct experts per batch at each layer. */
  readonly perLayer: number[];
  readonly mean: number;
}

export interface ScheduleResult extends ExpertsPerBatch {
  readonly source: string;
  readonly method: ScheduleMethod;
  /** mean / arrival's mean. */
  readonly ratio: number;
  /**
   * Scheduling time per window (ms): wall clock mean, median, 99th percentile and max (these include
   * preemption by other processes on a shared machine), and the mean CPU time of this process (does not).
   */
  readonly ms: { readonly mean: number; readonly p50: number; readonly p99: number; readonly max: number; readonly cpuMean: number };
}

export interface SimulationResult {
  readonly batchSize: number; // T
  readonly window: number; // W
  readonly windowBatches: number; // M
  readonly windows: number;
  readonly arrival: ExpertsPerBatch;
  readonly lowerBound: ExpertsPerBatch & { readonly ratio: number };
  readonly schedules: ScheduleResult[];
  /** On the windows where the exact optimum was computed: the three figures there (means over layers). */
  readonly exact?: { readonly windows: number; readonly arrival: number; readonly optimum: number; readonly regroupOracle: number | null };
}

export function simulateScheduling(truth: ExpertChoices, options: SimulationOptions): SimulationResult {
  const { numLayers: L, numExperts: E, topK: k } = truth;
  const { batchSize: T, windowBatches: M, sources, methods } = options;
  if (!Number.isInteger(T) || T < 1) throw new RangeError(`simulateScheduling: batch size T=${T} must be a positive integer`);
  if (!Number.isInteger(M) || M < 2) throw new RangeError(`simulateScheduling: windowBatches M=${M} must be an integer of at least 2`);
  for (const s of sources) {
    if (s.experts.length !== truth.tokens * L * s.topK)
      throw new RangeError(
        `simulateScheduling: source ${s.name} has ${s.experts.length} experts, expected N*L*k' = ${truth.tokens}*${L}*${s.topK}`,
      );
    if (s.lag !== 0 && s.lag !== 1) throw new RangeError(`simulateScheduling: source ${s.name} has lag ${s.lag} (0 or 1)`);
  }
  const W = M * T;
  const maxWindows = options.maxWindows ?? Infinity;
  const exactEvery = M === 2 && W <= EXACT_MAX_WINDOW ? (options.exactEvery ?? 0) : 0;
  const oracle = sources.find((s) => s.lag === 0 && s.experts === truth.experts);

  const arrival = new Float64Array(L);
  const lower = new Float64Array(L);
  const runs = sources.flatMap((source) =>
    methods.map((method) => ({ source, method, sums: new Float64Array(L), ms: [] as number[], cpuMs: 0 })),
  );
  const exact = { windows: 0, arrival: 0, optimum: 0, regroupOracle: 0 };

  const flight: { cursor: number; end: number }[] = [];
  let next = 0;
  const admit = () => {
    while (flight.length < W && next < options.sequences.length) {
      const s = options.sequences[next++];
      if (s.start < 0 || s.start + s.length > truth.tokens)
        throw new RangeError(
          `simulateScheduling: sequence ${next - 1} [${s.start}, ${s.start + s.length}) is outside the trace (N=${truth.tokens})`,
        );
      if (s.length >= 2) flight.push({ cursor: s.start + 1, end: s.start + s.length });
    }
  };
  const setsOf = (experts: Uint16Array, kk: number, lag: number): RouteSets => {
    const sets = emptyRouteSets(W, L, E);
    flight.forEach(({ cursor }, i) => {
      const t = cursor - lag;
      for (let l = 0; l < L; l++) addExperts(sets, i, l, experts.subarray((t * L + l) * kk, (t * L + l + 1) * kk));
    });
    return sets;
  };
  const charge = (trueSets: RouteSets, batches: Batches, into: Float64Array) => {
    for (const b of batches)
      unionPerLayer(trueSets, b).forEach((u, l) => {
        into[l] += u;
      });
  };

  let windows = 0;
  admit();
  while (flight.length === W && windows < maxWindows) {
    const trueSets = setsOf(truth.experts, k, 0);
    charge(trueSets, arrivalBatches(W, T), arrival);
    unionPerLayer(
      trueSets,
      Array.from({ length: W }, (_, i) => i),
    ).forEach((u, l) => {
      lower[l] += u;
    });
    let regroupOracleA = 0;
    for (const run of runs) {
      const sets = run.source === oracle ? trueSets : setsOf(run.source.experts, run.source.topK, run.source.lag);
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      const batches = run.method === "hamming" ? hammingBatches(sets, T) : regroup(sets, T);
      run.ms.push(performance.now() - t0);
      const cpu = process.cpuUsage(cpu0);
      run.cpuMs += (cpu.user + cpu.system) / 1000;
      charge(trueSets, batches, run.sums);
      if (run.source === oracle && run.method === "regroup") regroupOracleA = sum(unionsOf(trueSets, batches));
    }
    if (exactEvery > 0 && windows % exactEvery === 0) {
      exact.windows++;
      exact.arrival += sum(unionsOf(trueSets, arrivalBatches(W, T)));
      exact.optimum += optimalTwoBatches(trueSets, T).activated;
      exact.regroupOracle += regroupOracleA;
    }
    windows++;
    for (let i = flight.length - 1; i >= 0; i--) if (++flight[i].cursor === flight[i].end) flight.splice(i, 1);
    admit();
  }

  const per = (s: Float64Array): ExpertsPerBatch => {
    const perLayer = Array.from(s, (x) => x / (windows * M));
    return { perLayer, mean: perLayer.reduce((a, b) => a + b, 0) / L };
  };
  const arrivalFigures = per(arrival);
  const lowerFigures = per(lower);
  const perBatchLayer = M * L;
  return {
    batchSize: T,
    window: W,
    windowBatches: M,
    windows,
    arrival: arrivalFigures,
    lowerBound: { ...lowerFigures, ratio: lowerFigures.mean / arrivalFigures.mean },
    schedules: runs.map(({ source, method, sums, ms, cpuMs }) => {
      const figures = per(sums);
      const sorted = [...ms].sort((a, b) => a - b);
      return {
        source: source.name,
        method,
        ...figures,
        ratio: figures.mean / arrivalFigures.mean,
        ms: {
          mean: sum(ms) / Math.max(1, ms.length),
          p50: quantile(sorted, 0.5),
          p99: quantile(sorted, 0.99),
          max: sorted[sorted.length - 1] ?? NaN,
          cpuMean: cpuMs / Math.max(1, ms.length),
        },
      };
    }),
    exact:
      exactEvery > 0 && exact.windows > 0
        ? {
            windows: exact.windows,
            arrival: exact.arrival / (exact.windows * perBatchLayer),
            optimum: exact.optimum / (exact.windows * perBatchLayer),
            regroupOracle: oracle && methods.includes("regroup") ? exact.regroupOracle / (exact.windows * perBatchLayer) : null,
          }
        : undefined,
  };
}

function unionsOf(sets: RouteSets, batches: Batches): number[] {
  return batches.flatMap((b) => unionPerLayer(sets, b));
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? NaN;
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}
