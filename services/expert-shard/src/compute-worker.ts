// A compute worker: "the device" of an expert shard on CPU. It holds the weight tensors of the
// experts resident on it and runs one SwiGLU expert graph (onnxruntime-node) on them, off the main
// thread's event loop. Messages (see compute-pool.ts):
//   ready                                  resolves once the session exists (start-up errors surface here)
//   load  {key, payload}                   the weights become resident (buffers transferred): f32
//                                          w1 [F,D], w3 [F,D], w2 [D,F] for the shared session, or a
//                                          quantised expert, which gets its own MatMulNBits session
//   drop  {key}                            the expert leaves (notification)
//   run   {key, x [T,D], rows}             → y [T,D] (buffer transferred back)

import { workerData } from "node:worker_threads";
import {
  buildExpertGraph, buildNbitsExpertGraph, createSession, DEFAULT_NBITS_ACCURACY, floatTensor, isNbitsExpert, type ExecutionProvider, type ExpertPayload,
  type InferenceSession,
} from "@expertmesh/model";
import { ownBuffer, serveWorker } from "./worker-rpc.js";

export interface ComputeWorkerData {
  readonly hiddenSize: number; // D
  readonly intermediateSize: number; // F
  readonly threads: number;
  readonly provider: ExecutionProvider;
}

type Tensor = ReturnType<typeof floatTensor>;

const { hiddenSize: D, intermediateSize: F, threads, provider } = workerData as ComputeWorkerData;
const session = createSession(buildExpertGraph(D, F), { threads, executionProvider: provider });
session.catch(() => {}); // reported to the first request (ready)
const resident = new Map<number, { w1: Tensor; w3: Tensor; w2: Tensor } | { own: InferenceSession }>();

serveWorker({
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
  run: async (m: { key: number; x: Float32Array; rows: number }) => {
    const weights = resident.get(m.key);
    if (weights === undefined) throw new Error(`expert key ${m.key} is not resident on this worker`);
    const x = floatTensor(m.x, [m.rows, D]);
    const out = "own" in weights ? await weights.own.run({ x }) : await (await session).run({ x, ...weights });
    const y = ownBuffer(out.y!.data as Float32Array); // [T, D]
    return { value: y, transfer: [y.buffer] };
  },
});
