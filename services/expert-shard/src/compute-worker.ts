// A compute worker: the compute handlers (compute-handlers.ts) in a worker thread, off the main thread's
// event loop.
import { workerData } from "node:worker_threads";
import { computeHandlers, type ComputeWorkerData } from "./compute-handlers.js";
import { serveWorker } from "./worker-rpc.js";

export type { ComputeWorkerData };

serveWorker(computeHandlers(workerData as ComputeWorkerData));
