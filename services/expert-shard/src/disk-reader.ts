// Disk → host: expert weights read from the checkpoint by disk-worker.ts, off the event loop.

import type { ExpertPayload } from "@expertmesh/model";
import { WorkerClient } from "./worker-rpc.js";

export class DiskReader {
  readonly #client: WorkerClient;

  constructor(modelDir: string, onCrash?: (error: Error) => void) {
    this.#client = new WorkerClient(new URL("./disk-worker.js", import.meta.url), { modelDir }, "disk-worker", onCrash);
  }

  /** The weights of expert (layer, expert): decoded to fp32, or low-bit as stored. */
  read(layer: number, expert: number): Promise<ExpertPayload> {
    return this.#client.request<ExpertPayload>("read", { layer, expert });
  }

  close(): Promise<void> {
    return this.#client.terminate();
  }
}
