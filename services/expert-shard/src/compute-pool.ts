// The shard's compute workers (compute-worker.ts), seen from the main thread. Each resident expert
// lives in exactly one worker (the one holding fewest experts when it was loaded); runs for it go to
// that worker, one at a time per worker, from a queue kept here so that a cancelled call's runs that
// have not started are dropped.

import { transferablePayload, type ExpertPayload } from "@expertmesh/model";
import type { ComputeWorkerData } from "./compute-worker.js";
import { ownBuffer, WorkerClient, WorkerGoneError } from "./worker-rpc.js";

/** An expert resident on the device: which worker holds it. */
export interface DeviceExpert {
  readonly key: number;
  readonly worker: number;
}

export interface ComputePoolOptions extends ComputeWorkerData {
  readonly workers: number;
  /** Called when a worker dies on its own (its experts are lost: the shard is no longer healthy). */
  readonly onCrash?: (error: Error) => void;
}

interface Job {
  readonly expert: DeviceExpert;
  readonly x: Float32Array;
  readonly rows: number;
  readonly signal: AbortSignal | undefined;
  readonly resolve: (y: Float32Array) => void;
  readonly reject: (error: unknown) => void;
  readonly onAbort: () => void;
}

interface Lane {
  readonly client: WorkerClient;
  readonly queue: Job[];
  running: boolean;
  experts: number;
}

export class ComputePool {
  readonly #lanes: Lane[];
  #closing: Promise<void> | undefined;
  /** Runs handed to a worker. */
  runsStarted = 0;
  /** Runs dropped before they started because their call was cancelled. */
  runsDropped = 0;

  private constructor(lanes: Lane[]) {
    this.#lanes = lanes;
  }

  /** Starts the workers and waits until each has its session (start-up errors, e.g. a missing provider, throw here). */
  static async start(options: ComputePoolOptions): Promise<ComputePool> {
    const data: ComputeWorkerData = {
      hiddenSize: options.hiddenSize,
      intermediateSize: options.intermediateSize,
      threads: options.threads,
      provider: options.provider,
    };
    const url = new URL("./compute-worker.js", import.meta.url);
    const lanes = Array.from({ length: options.workers }, (_, i) => ({
      client: new WorkerClient(url, data, `compute-worker-${i}`, options.onCrash),
      queue: [],
      running: false,
      experts: 0,
    }));
    const pool = new ComputePool(lanes);
    try {
      await Promise.all(lanes.map((lane) => lane.client.request("ready")));
    } catch (error) {
      await pool.close();
      throw error;
    }
    return pool;
  }

  get workers(): number {
    return this.#lanes.length;
  }

  /** Experts resident on each worker. */
  residentPerWorker(): number[] {
    return this.#lanes.map((lane) => lane.experts);
  }

  /** Runs queued or running now, over all workers. */
  get busy(): number {
    return this.#lanes.reduce((n, lane) => n + lane.queue.length + (lane.running ? 1 : 0), 0);
  }

  /** Host → device: posts a copy of the weights to the worker holding fewest experts. */
  async load(key: number, weights: ExpertPayload): Promise<DeviceExpert> {
    let worker = 0;
    for (let i = 1; i < this.#lanes.length; i++) if (this.#lanes[i]!.experts < this.#lanes[worker]!.experts) worker = i;
    const lane = this.#lanes[worker]!;
    const { payload, buffers } = transferablePayload(weights);
    lane.experts++;
    try {
      await lane.client.request("load", { key, payload }, buffers);
    } catch (error) {
      lane.experts--;
      throw error;
    }
    return { key, worker };
  }

  /** The expert leaves the device: its worker frees the weights. */
  drop(expert: DeviceExpert): void {
    const lane = this.#lanes[expert.worker]!;
    lane.experts--;
    lane.client.notify("drop", { key: expert.key });
  }

  /**
   * Computes a resident expert on x [rows, D] → [rows, D]. `x` is transferred (unusable afterwards).
   * A run still queued when `signal` aborts is dropped and rejects with the signal's reason.
   */
  run(expert: DeviceExpert, x: Float32Array, rows: number, signal?: AbortSignal): Promise<Float32Array> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const lane = this.#lanes[expert.worker]!;
    return new Promise<Float32Array>((resolve, reject) => {
      const job: Job = {
        expert, x, rows, signal, resolve, reject,
        onAbort: () => {
          const at = lane.queue.indexOf(job);
          if (at === -1) return; // already running: it finishes
          lane.queue.splice(at, 1);
          this.runsDropped++;
          reject(signal!.reason);
        },
      };
      signal?.addEventListener("abort", job.onAbort, { once: true });
      lane.queue.push(job);
      this.#pump(lane);
    });
  }

  #pump(lane: Lane): void {
    if (lane.running) return;
    const job = lane.queue.shift();
    if (job === undefined) return;
    job.signal?.removeEventListener("abort", job.onAbort);
    lane.running = true;
    this.runsStarted++;
    const x = ownBuffer(job.x);
    lane.client
      .request<Float32Array>("run", { key: job.expert.key, x, rows: job.rows }, [x.buffer])
      .then(job.resolve, job.reject)
      .finally(() => {
        lane.running = false;
        this.#pump(lane);
      });
  }

  /** Terminates the workers; queued runs reject. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const lane of this.#lanes) {
        for (const job of lane.queue.splice(0)) {
          job.signal?.removeEventListener("abort", job.onAbort);
          job.reject(new WorkerGoneError("compute pool closed"));
        }
      }
      await Promise.all(this.#lanes.map((lane) => lane.client.terminate()));
    })();
    return this.#closing;
  }
}
