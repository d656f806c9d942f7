// Reads experts from the checkpoint in a worker thread, so that reading and decoding (bf16/fp16 → fp32
// for real checkpoints, hundreds of MB an expert) never blocks the main thread's event loop.
//   read {layer, expert} → {w1 [F,D], w3 [F,D], w2 [D,F]} (buffers transferred)

import { workerData } from "node:worker_threads";
import { Checkpoint } from "@expertmesh/model";
import { ownBuffer, serveWorker } from "./worker-rpc.js";

const checkpoint = Checkpoint.open((workerData as { modelDir: string }).modelDir);

serveWorker({
  read: (m: { layer: number; expert: number }) => {
    const weights = checkpoint.expert(m.layer, m.expert);
    const [w1, w3, w2] = [ownBuffer(weights.w1), ownBuffer(weights.w3), ownBuffer(weights.w2)];
    return { value: { w1, w3, w2 }, transfer: [w1!.buffer, w3!.buffer, w2!.buffer] };
  },
});
