// What "the device" of an expert shard on CPU does: holds the weight tensors of the experts resident on
// it and runs one SwiGLU expert graph (onnxruntime-node) on them. It runs in a compute worker thread
// (compute-worker.ts), or inline on the shard's main thread (--compute inline; compute-pool.ts).
// Messages (see compute-pool.ts):
//   ready                                  resolves once the session exists (start-up errors surface here)
//   load  {key, payload}                   the weights become resident (buffers transferred): f32
//                                          w1 [F,D], w3 [F,D], w2 [D,F] for the shared session, or a
//                                          quantised expert, which gets its own MatMulNBits session
//   drop  {key}                            the expert leaves (notification)
//   run   {job, keys, xs [T_i,D], rows}    → {ys [T_i,D]}, one per key (buffers transferred both ways):
//                                          all of one call's experts on this worker, one message; fewer
//                                          ys when the pool asked to stop the job (its seq in `stop`)

import {
  buildExpertGraph,
  buildNbitsExpertGraph,
  createSession,
  DEFAULT_NBITS_ACCURACY,
  floatTensor,
  isNbitsExpert,
  type ExecutionProvider,
  type ExpertPayload,
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

/** The compute handlers over one session and the experts resident with it. */
export function computeHandlers(data: ComputeWorkerData): WorkerHandlers {
  const { hiddenSize: D, intermediateSize: F, threads, provider } = data;
  const stop = new Int32Array(data.stop);
  const session = createSession(buildExpertGraph(D, F), { threads, executionProvider: provider });
  session.catch(() => {}); // reported to the first request (ready)
  const resident = new Map<number, { w1: Tensor; w3: Tensor; w2: Tensor } | { own: InferenceSession }>();

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
        resident.set(m.key, { w1: floatTensor(p.w1, [F, D]), w3: floatTensor(p.w3, [F, D]), w2: floatTensor(p.w2, [D, F]) });
      }
    },
    drop: (m: { key: number }) => {
      const r = resident.get(m.key);
      resident.delete(m.key);
      if (r !== undefined && "own" in r) void r.own.release();
    },
    run: async (m: { job: number; keys: number[]; xs: Float32Array[]; rows: number[] }) => {
      const shared = await session;
      const ys: Float32Array<ArrayBuffer>[] = [];
      for (let i = 0; i < m.keys.length; i++) {
        if (Atomics.load(stop, 0) === m.job) break;
        const weights = resident.get(m.keys[i]!);
        if (weights === undefined) throw new Error(`expert key ${m.keys[i]} is not resident on this worker`);
        const x = floatTensor(m.xs[i]!, [m.rows[i]!, D]);
        const out = "own" in weights ? await weights.own.run({ x }) : await shared.run({ x, ...weights });
        ys.push(ownBuffer(out.y!.data as Float32Array)); // [T_i, D]
      }
      return { value: { ys } satisfies RunReply, transfer: ys.map((y) => y.buffer) };
    },
  };
}
