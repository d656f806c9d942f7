// What "the device" of an expert shard on CPU does: holds the weight tensors of the experts resident on
// it and runs one SwiGLU expert graph (onnxruntime-node) on them. It runs in a compute worker thread
// (compute-worker.ts), or inline on the shard's main thread (--compute inline; compute-pool.ts).
// Messages (see compute-pool.ts):
//   ready                                  resolves once the session exists (start-up errors surface here)
//   load  {key, payload}                   the weights become resident (buffers transferred): f32
//                                          w1 [F,D], w3 [F,D], w2 [D,F] for the shared session, or a
//                                          quantised expert, which gets its own MatMulNBits session.
//                                          An f32 expert that has run OWN_SESSION_AFTER_RUNS times gets
//                                          its own session too (weights as initializers, prepacked:
//                                          graphs/expert-graph.ts), built after the run that reached it
//   drop  {key}                            the expert leaves (notification)
//   ownSessions                            → how many resident experts have their own session
//   run   {job, keys, xs [T_i,D], rows}    → {ys [T_i,D]}, one per key (buffers transferred both ways):
//                                          all of one call's experts on this worker, one message, each
//                                          expert's rows in runs of at most RUN_MACS; fewer ys when the
//                                          pool asked to stop the job (its seq in `stop`)

import {
  buildExpertGraph,
  buildNbitsExpertGraph,
  buildOwnExpertGraph,
  createSession,
  DEFAULT_NBITS_ACCURACY,
  floatTensor,
  isNbitsExpert,
  type ExecutionProvider,
  type ExpertPayload,
  type ExpertWeights,
  type InferenceSession,
} from "@expertmesh/model";
import { ownBuffer, type WorkerHandlers } from "./worker-rpc.js";

export interface ComputeWorkerData {
  readonly hiddenSize: number; // D
  readonly intermediateSize: number; // F
  readonly threads: number;
  readonly provider: ExecutionProvider;
  /** Int32 [1]: the seq of the running job to stop before its next expert (set by the pool when its call is cancelled). */
  readonly stop: SharedArrayBuffer;
}

/** What a run answers: one output per expert that ran (all of them unless the job was stopped). */
export interface RunReply {
  readonly ys: Float32Array[];
}

type Tensor = ReturnType<typeof floatTensor>;

/**
 * Runs of an f32 expert on the shared session after which it gets a session of its own (about 1 ms to
 * build for D=128/F=256, then each run is 25-40 % cheaper); an expert evicted sooner never pays for one.
 */
export const OWN_SESSION_AFTER_RUNS = 64;

/**
 * Multiply-accumulates of one onnxruntime run at most (about a millisecond on one core): an expert's rows
 * beyond that run in several runs, so that a compute on the thread that serves calls (--compute inline)
 * holds its event loop (health, keepalive, heartbeats) for about that long at a time, and a cancel stops
 * a large expert part way. One row is the least a run computes. The bundled model (D=128, F=256) splits
 * at 170 rows: decode and short prefill calls run each expert once.
 */
export const RUN_MACS = 2 ** 24;

/** An f32 expert on the shared session (its weights handed to each run), until it has its own. */
interface SharedExpert {
  readonly weights: ExpertWeights;
  readonly tensors: { readonly w1: Tensor; readonly w3: Tensor; readonly w2: Tensor };
  runs: number;
}
type Resident = SharedExpert | { readonly own: InferenceSession };

/** The compute handlers over one session and the experts resident with it. */
export function computeHandlers(data: ComputeWorkerData): WorkerHandlers {
  const { hiddenSize: D, intermediateSize: F, threads, provider } = data;
  const stop = new Int32Array(data.stop);
  const rowsPerRun = Math.max(1, Math.floor(RUN_MACS / (3 * D * F)));
  const session = createSession(buildExpertGraph(D, F), { threads, executionProvider: provider });
  session.catch(() => {}); // reported to the first request (ready)
  const resident = new Map<number, Resident>();
  /** Builds the expert's own session; it replaces the shared one if the expert is still resident as it was. */
  const promote = (key: number, entry: SharedExpert): void => {
    createSession(buildOwnExpertGraph(D, F, entry.weights), { threads, executionProvider: provider }).then(
      (own) => {
        if (resident.get(key) === entry) resident.set(key, { own });
        else void own.release(); // dropped (or reloaded) meanwhile
      },
      () => {}, // it stays on the shared session
    );
  };

  return {
    ready: async () => {
      await session;
    },
    load: async (m: { key: number; payload: ExpertPayload }) => {
      const p = m.payload;
      if (isNbitsExpert(p)) {
        const own = await createSession(buildNbitsExpertGraph(D, F, p, DEFAULT_NBITS_ACCURACY), { threads, executionProvider: provider });
        resident.set(m.key, { own });
      } else {
        const tensors = { w1: floatTensor(p.w1, [F, D]), w3: floatTensor(p.w3, [F, D]), w2: floatTensor(p.w2, [D, F]) };
        resident.set(m.key, { weights: p, tensors, runs: 0 });
      }
    },
    /** How many resident experts have a session of their own (quantised, or promoted f32). */
    ownSessions: () => ({ value: [...resident.values()].filter((r) => "own" in r).length }),
    drop: (m: { key: number }) => {
      const r = resident.get(m.key);
      resident.delete(m.key);
      if (r !== undefined && "own" in r) void r.own.release();
    },
    run: async (m: { job: number; keys: number[]; xs: Float32Array[]; rows: number[] }) => {
      const shared = await session;
      const stopped = (): boolean => Atomics.load(stop, 0) === m.job;
      /** One onnxruntime run of expert `key` on x [rows, D]. */
      const runOnce = async (key: number, weights: Resident, x: Float32Array, rows: number): Promise<Float32Array> => {
        const feed = floatTensor(x, [rows, D]);
        if ("own" in weights) return (await weights.own.run({ x: feed })).y!.data as Float32Array;
        const out = await shared.run({ x: feed, ...weights.tensors });
        if (++weights.runs === OWN_SESSION_AFTER_RUNS) promote(key, weights);
        return out.y!.data as Float32Array;
      };
      const ys: Float32Array<ArrayBuffer>[] = [];
      for (let i = 0; i < m.keys.length && !stopped(); i++) {
        const key = m.keys[i]!;
        const weights = resident.get(key);
        if (weights === undefined) throw new Error(`expert key ${key} is not resident on this worker`);
        const x = m.xs[i]!;
        const rows = m.rows[i]!;
        if (rows <= rowsPerRun) {
          ys.push(ownBuffer(await runOnce(key, weights, x, rows))); // [T_i, D]
          continue;
        }
        // Rows in runs of at most rowsPerRun: the thread turns (and sees a stop) between two of them.
        const y = new Float32Array(rows * D);
        for (let r = 0; r < rows; r += rowsPerRun) {
          if (stopped()) break;
          const n = Math.min(rowsPerRun, rows - r);
          y.set(await runOnce(key, weights, x.subarray(r * D, (r + n) * D), n), r * D);
          if (r + n === rows) ys.push(y);
        }
      }
      return { value: { ys } satisfies RunReply, transfer: ys.map((y) => y.buffer) };
    },
  };
}
