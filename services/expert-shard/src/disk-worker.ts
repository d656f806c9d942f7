// Reads experts from the checkpoint in a worker thread, so that reading and decoding (bf16/fp16 → fp32
// for real checkpoints, hundreds of MB an expert) never blocks the main thread's event loop.
//   read {layer, expert} → {w1 [F,D], w3 [F,D], w2 [D,F]}, or a quantised expert's low-bit weights as
//   stored (ExpertPayload; buffers transferred)

import { workerData } from "node:worker_threads";
import { Checkpoint, readExpertPayload, transferablePayload } from "@expertmesh/model";
import { serveWorker } from "./worker-rpc.js";

const checkpoint = Checkpoint.open((workerData as { modelDir: string }).modelDir);

serveWorker({
  read: (m: { layer: number; expert: number }) => {
    const { payload, buffers } = transferablePayload(readExpertPayload(checkpoint, m.layer, m.expert));
    return { value: payload, transfer: buffers };
  },
});
