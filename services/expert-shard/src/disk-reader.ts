// Disk → host: expert weights read from the checkpoint by disk-worker.ts, off the event loop.

import type { ExpertWeights } from "@expertmesh/model";
import { WorkerClient } from "./worker-rpc.js";

export class DiskReader {
  readonly #client: WorkerClient;

  constructor(modelDir: string, onCrash?: (error: Error) => void) {
    this.#client = new WorkerClient(new URL("./disk-worker.js", import.meta.url), { modelDir }, "disk-worker", onCrash);
  }

  /** The decoded fp32 weights of expert (layer, expert). */
  read(layer: number, expert: number): Promise<ExpertWeights> {
    return this.#client.request<ExpertWeights>("read", { layer, expert });
  }

  close(): Promise<void> {
    return this.#client.terminate();
  }
}
