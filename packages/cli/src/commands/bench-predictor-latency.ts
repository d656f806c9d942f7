// The predictor's latency against the step it prepares, for `bench predictor`: per batch size B, the
// median time of one predictor run for B tokens (onnxruntime, in process, no gRPC) and of one decode step
// of B sequences of the routed model (MoeRuntime, all experts local) after a prefill of CONTEXT tokens each.
// The ratio predictor / step says how much of the step the prediction would take if it were not overlapped.
//
// Letters (glossary: docs/ARCHITECTURE.md): B sequences per batch (one token each: T = B).
import { createSession, int64Tensor, MoeRuntime, type ExecutionProvider, PREDICTOR_INPUTS } from "@expertmesh/model";

const CONTEXT = 32;
const PREDICTOR_RUNS = 50;
const STEP_RUNS = 5;

export interface Latency {
  readonly batch: number; // B
  readonly predictorMs: number;
  readonly stepMs: number;
  readonly ratio: number;
}

export async function measureLatency(
  predictor: Uint8Array,
  modelDir: string,
  batchSizes: readonly number[],
  session: { threads: number; executionProvider: ExecutionProvider },
): Promise<Latency[]> {
  const s = await createSession(predictor, session);
  const rt = await MoeRuntime.load(modelDir, { session });
  const V = rt.config.vocabSize;
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  try {
    const out: Latency[] = [];
    for (const B of batchSizes) {
      const ids = BigInt64Array.from({ length: B }, (_, i) => BigInt((100 + 37 * i) % V));
      const positions = BigInt64Array.from({ length: B }, () => BigInt(CONTEXT));
      const feeds = () => ({
        [PREDICTOR_INPUTS.tokenIds]: int64Tensor(ids, [B]),
        [PREDICTOR_INPUTS.positions]: int64Tensor(positions, [B]),
      });
      await s.run(feeds()); // warm-up
      const predictorMs: number[] = [];
      for (let r = 0; r < PREDICTOR_RUNS; r++) {
        const t0 = performance.now();
        await s.run(feeds());
        predictorMs.push(performance.now() - t0);
      }
      const sequences = Array.from({ length: B }, () => rt.newSequence());
      await rt.step(
        sequences.map((sequence, i) => ({ sequence, tokens: Array.from({ length: CONTEXT }, (_, j) => (50 + 13 * i + j) % V) })),
      );
      const stepMs: number[] = [];
      for (let r = 0; r < STEP_RUNS; r++) {
        const t0 = performance.now();
        await rt.step(sequences.map((sequence, i) => ({ sequence, tokens: [(7 + i + r) % V] })));
        stepMs.push(performance.now() - t0);
      }
      const p = median(predictorMs);
      const st = median(stepMs);
      out.push({ batch: B, predictorMs: p, stepMs: st, ratio: p / st });
    }
    return out;
  } finally {
    await s.release();
    await rt.release();
  }
}
