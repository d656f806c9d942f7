// The shard's compute workers (compute-worker.ts), seen from the main thread. Each resident expert
// lives in exactly one worker (the one holding fewest experts when it was loaded); runs for it go to
// that worker, one job at a time per worker, from a queue kept here so that a cancelled call's jobs that
// have not started are dropped (and a job already handed to its worker stops before its next expert). A job is all of one call's experts that live on that worker: one
// message (one thread hop) each way per call and worker, however many experts the call names.

import { transferablePayload, type ExpertPayload } from "@expertmesh/model";
import type { TransferListItem } from "node:worker_threads";
import { computeHandlers, type ComputeWorkerData, type RunReply } from "./compute-handlers.js";
import { ownBuffer, WorkerClient, WorkerGoneError, type WorkerHandlers } from "./worker-rpc.js";

/** An expert resident on the device: which worker holds it. */
export interface DeviceExpert {
  readonly key: number;
  readonly worker: number;
}

export interface ComputePoolOptions extends Omit<ComputeWorkerData, "stop"> {
  readonly workers: number;
  /**
   * "inline": one lane that computes on this thread (no thread hop; the event loop is blocked for each
   * onnxruntime run, tens of microseconds for a small expert); "worker" (default): `workers` threads.
   */
  readonly compute?: "worker" | "inline";
  /** Called when a worker dies on its own (its experts are lost: the shard is no longer healthy). */
  readonly onCrash?: (error: Error) => void;
}

/** One expert's share of a job: x [rows, D] (transferred to the worker). */
export interface ExpertRun {
  readonly expert: DeviceExpert;
  readonly x: Float32Array;
  readonly rows: number;
}

interface Job {
  /** Numbers the lane's jobs: what the lane's stop flag names to stop this one (see computeHandlers). */
  readonly seq: number;
  readonly runs: readonly ExpertRun[];
  readonly signal: AbortSignal | undefined;
  readonly resolve: (ys: Float32Array[]) => void;
  readonly reject: (error: unknown) => void;
  readonly onAbort: () => void;
}

/** What a lane needs of its compute: a worker thread (WorkerClient) or the handlers called inline. */
interface LaneClient {
  request<T>(type: string, fields?: Readonly<Record<string, unknown>>, transfer?: readonly TransferListItem[]): Promise<T>;
  notify(type: string, fields?: Readonly<Record<string, unknown>>): void;
  terminate(): Promise<void>;
}

/** The compute handlers on the calling thread, behind the same interface as a worker. */
class InlineClient implements LaneClient {
  readonly #handlers: WorkerHandlers;
  #closed = false;
  constructor(data: ComputeWorkerData) {
    this.#handlers = computeHandlers(data);
  }
  async request<T>(type: string, fields: Readonly<Record<string, unknown>> = {}): Promise<T> {
    // As a terminated worker: nothing computes after close (a replica can serve it).
    if (this.#closed) throw new WorkerGoneError("inline compute closed");
    const handler = this.#handlers[type];
    if (handler === undefined) throw new Error(`unknown message type ${JSON.stringify(type)}`);
    const result = await handler(fields);
    return result?.value as T;
  }
  notify(type: string, fields: Readonly<Record<string, unknown>> = {}): void {
    void this.request(type, fields).catch(() => {});
  }
  async terminate(): Promise<void> {
    this.#closed = true;
  }
}

interface Lane {
  readonly client: LaneClient;
  readonly queue: Job[];
  /** Shared with the lane's compute: the seq of a running job to stop between two of its experts. */
  readonly stop: Int32Array;
  /** Computes on this thread (InlineClient): nothing is transferred. */
  readonly inline: boolean;
  running: boolean;
  experts: number;
  jobs: number;
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
    const data: Omit<ComputeWorkerData, "stop"> = {
      hiddenSize: options.hiddenSize,
      intermediateSize: options.intermediateSize,
      threads: options.threads,
      provider: options.provider,
    };
    const url = new URL("./compute-worker.js", import.meta.url);
    const inline = options.compute === "inline";
    const lanes = Array.from({ length: inline ? 1 : options.workers }, (_, i): Lane => {
      const stop = new SharedArrayBuffer(4);
      const laneData: ComputeWorkerData = { ...data, stop };
      return {
        client: inline ? new InlineClient(laneData) : new WorkerClient(url, laneData, `compute-worker-${i}`, options.onCrash),
        queue: [],
        stop: new Int32Array(stop),
        inline,
        running: false,
        experts: 0,
        jobs: 0,
      };
    });
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

  /** Resident experts with a session of their own, per worker (quantised ones, and f32 ones run often enough). */
  ownSessionsPerWorker(): Promise<number[]> {
    return Promise.all(this.#lanes.map((lane) => lane.client.request<number>("ownSessions")));
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
   * A run still queued when `signal` aborts is dropped and rejects with the signal's reason; so are the
   * runs of a job already handed to its worker that have not started there (the worker checks between runs).
   */
  async run(expert: DeviceExpert, x: Float32Array, rows: number, signal?: AbortSignal): Promise<Float32Array> {
    return (await this.runMany([{ expert, x, rows }], signal))[0]!;
  }

  /**
   * Computes several resident experts (one call's): one job per worker that holds some of them, so one
   * message each way per worker. Outputs in the order of `runs`; the x buffers are transferred.
   */
  async runMany(runs: readonly ExpertRun[], signal?: AbortSignal): Promise<Float32Array[]> {
    if (signal?.aborted) throw signal.reason;
    const first = runs[0]?.expert.worker;
    if (first !== undefined && runs.every((r) => r.expert.worker === first)) return this.#enqueue(this.#lanes[first]!, runs, signal);
    const byLane = new Map<number, number[]>();
    runs.forEach((r, i) => {
      const list = byLane.get(r.expert.worker);
      if (list === undefined) byLane.set(r.expert.worker, [i]);
      else list.push(i);
    });
    const out: Float32Array[] = new Array(runs.length);
    await Promise.all(
      [...byLane].map(async ([worker, indices]) => {
        const ys = await this.#enqueue(
          this.#lanes[worker]!,
          indices.map((i) => runs[i]!),
          signal,
        );
        indices.forEach((i, j) => {
          out[i] = ys[j]!;
        });
      }),
    );
    return out;
  }

  #enqueue(lane: Lane, runs: readonly ExpertRun[], signal: AbortSignal | undefined): Promise<Float32Array[]> {
    return new Promise<Float32Array[]>((resolve, reject) => {
      const job: Job = {
        seq: ++lane.jobs,
        runs,
        signal,
        resolve,
        reject,
        onAbort: () => {
          const at = lane.queue.indexOf(job);
          // Already running: its worker stops before its next expert (the reply says how many ran).
          if (at === -1) return void Atomics.store(lane.stop, 0, job.seq);
          lane.queue.splice(at, 1);
          this.runsDropped += runs.length;
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
    lane.running = true;
    this.runsStarted += job.runs.length;
    // To a worker the inputs are transferred (each must own its buffer); inline they are read where they are.
    const xs = lane.inline ? job.runs.map((r) => r.x) : job.runs.map((r) => ownBuffer(r.x));
    const transfer = lane.inline ? [] : (xs as Float32Array<ArrayBuffer>[]).map((x) => x.buffer);
    lane.client
      .request<RunReply>("run", { job: job.seq, keys: job.runs.map((r) => r.expert.key), xs, rows: job.runs.map((r) => r.rows) }, transfer)
      .then(({ ys }) => {
        if (ys.length === job.runs.length) return job.resolve(ys);
        this.runsDropped += job.runs.length - ys.length; // stopped on the worker: the call was cancelled
        job.reject(job.signal?.reason ?? new Error("compute job stopped without a cancel"));
      }, job.reject)
      .finally(() => {
        job.signal?.removeEventListener("abort", job.onAbort);
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
