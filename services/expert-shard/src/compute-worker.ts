// A compute worker: "the device" of an expert shard on CPU. It holds the weight tensors of the
// experts resident on it and runs one SwiGLU expert graph (onnxruntime-node) on them, off the main
// thread's event loop. Messages (see compute-pool.ts):
//   ready                                  resolves once the session exists (start-up errors surface here)
//   load  {key, w1 [F,D], w3 [F,D], w2 [D,F]}   the weights become resident (buffers transferred)
//   drop  {key}                            the expert leaves (notification)
//   run   {key, x [T,D], rows}             → y [T,D] (buffer transferred back)

import { workerData } from "node:worker_threads";
import { buildExpertGraph, createSession, floatTensor, type ExecutionProvider } from "@expertmesh/model";
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
const resident = new Map<number, { w1: Tensor; w3: Tensor; w2: Tensor }>();

serveWorker({
  ready: async () => {
    await session;
  },
  load: (m: { key: number; w1: Float32Array; w3: Float32Array; w2: Float32Array }) => {
    resident.set(m.key, { w1: floatTensor(m.w1, [F, D]), w3: floatTensor(m.w3, [F, D]), w2: floatTensor(m.w2, [D, F]) });
  },
  drop: (m: { key: number }) => {
    resident.delete(m.key);
  },
  run: async (m: { key: number; x: Float32Array; rows: number }) => {
    const weights = resident.get(m.key);
    if (weights === undefined) throw new Error(`expert key ${m.key} is not resident on this worker`);
    const out = await (await session).run({ x: floatTensor(m.x, [m.rows, D]), ...weights });
    const y = ownBuffer(out.y!.data as Float32Array); // [T, D]
    return { value: y, transfer: [y.buffer] };
  },
});
