// Runs a predictor model in a worker thread (inference-thread.ts), so that the service's event loop
// (health checks, deadlines, keepalive) stays responsive while onnxruntime computes. Requests wait in a
// bounded FIFO here, not in the thread's message queue, so that a request cancelled while it waits is
// dropped before it costs anything, and a full queue is refused at once with RESOURCE_EXHAUSTED.
//
// Letters (glossary: docs/ARCHITECTURE.md): T tokens, L MoE layers, E experts per layer.
import { once } from "node:events";
import { Worker } from "node:worker_threads";
import type { SessionConfig } from "@expertmesh/model";
import { InternalError, ResourceExhaustedError, UnavailableError } from "@expertmesh/runtime";

/** What the thread starts with (workerData). */
export interface ThreadData {
  readonly model: Uint8Array;
  readonly session: SessionConfig;
  readonly numLayers: number; // L
  readonly numExperts: number; // E
}

/** A request to the thread: one model run. */
export interface ThreadRequest {
  readonly type: "run";
  readonly id: number;
  readonly tokenIds: BigInt64Array; // [T]
  readonly positions: BigInt64Array; // [T]
}

/** Messages to the thread, handled one at a time in order: "close" waits for the run before it. */
export type ThreadMessage = ThreadRequest | { readonly type: "close" };

export type ThreadReply =
  | { readonly type: "ready" }
  | { readonly type: "fatal"; readonly message: string }
  | { readonly type: "result"; readonly id: number; readonly probabilities: Float32Array } // [T, L, E]
  | { readonly type: "error"; readonly id: number; readonly message: string };

export interface InferenceWorkerOptions extends ThreadData {
  /** Requests that may wait while one runs; more are refused with RESOURCE_EXHAUSTED. */
  readonly maxQueue: number;
  /** Called once if the thread dies; every later predict() fails with UNAVAILABLE. */
  readonly onFailure?: (error: Error) => void;
}

interface Job extends Omit<ThreadRequest, "type"> {
  readonly resolve: (probabilities: Float32Array) => void;
  readonly reject: (error: unknown) => void;
  readonly signal: AbortSignal | undefined;
  readonly onAbort: () => void;
  settled: boolean;
}

export class InferenceWorker {
  readonly #worker: Worker;
  readonly #maxQueue: number;
  readonly #onFailure: ((error: Error) => void) | undefined;
  readonly #queue: Job[] = [];
  #running: Job | undefined;
  #nextId = 0;
  #failure: Error | undefined;
  #closing = false;

  private constructor(worker: Worker, options: InferenceWorkerOptions) {
    this.#worker = worker;
    this.#maxQueue = options.maxQueue;
    this.#onFailure = options.onFailure;
    worker.on("message", (reply: ThreadReply) => this.#onReply(reply));
    worker.on("error", (error) => this.#fail(new UnavailableError(`predictor worker failed: ${error.message}`, { cause: error })));
    worker.on("exit", (code) => this.#fail(new UnavailableError(`predictor worker exited (code ${code})`)));
  }

  /** Starts the thread and resolves once its session is ready; rejects with the reason it could not start. */
  static start(options: InferenceWorkerOptions): Promise<InferenceWorker> {
    const data: ThreadData = {
      model: options.model,
      session: options.session,
      numLayers: options.numLayers,
      numExperts: options.numExperts,
    };
    const worker = new Worker(new URL("./inference-thread.js", import.meta.url), { workerData: data });
    return new Promise((resolve, reject) => {
      // Only this function's listeners are removed: Worker keeps its own listeners on itself.
      const detach = () => {
        worker.off("message", onMessage);
        worker.off("error", fail);
        worker.off("exit", onExit);
      };
      const fail = (error: Error) => {
        detach();
        void worker.terminate();
        reject(error);
      };
      const onMessage = (reply: ThreadReply) => {
        if (reply.type !== "ready")
          return fail(new Error(reply.type === "fatal" ? reply.message : `unexpected first message ${reply.type}`));
        detach();
        resolve(new InferenceWorker(worker, options));
      };
      const onExit = (code: number) => fail(new Error(`predictor worker exited (code ${code}) before it was ready`));
      worker.on("message", onMessage);
      worker.once("error", fail);
      worker.once("exit", onExit);
    });
  }

  /** Requests waiting (not counting the one running). */
  get queued(): number {
    return this.#queue.length;
  }

  /**
   * Probabilities [T, L, E] for tokens [T]; rejects with the signal's reason when it aborts first.
   * `tokenIds` and `positions` move to the thread: each must own its buffer, which is detached here.
   */
  predict(tokenIds: BigInt64Array, positions: BigInt64Array, signal?: AbortSignal): Promise<Float32Array> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#running !== undefined && this.#queue.length >= this.#maxQueue) {
      return Promise.reject(
        new ResourceExhaustedError("queue", `predictor queue is full: ${this.#queue.length} requests wait, limit ${this.#maxQueue}`, {
          limit: this.#maxQueue,
          value: this.#queue.length + 1,
          retryAfterMs: 50,
        }),
      );
    }
    return new Promise((resolve, reject) => {
      const job: Job = {
        id: this.#nextId++,
        tokenIds,
        positions,
        resolve,
        reject,
        signal,
        settled: false,
        onAbort: () => {
          const waiting = this.#queue.indexOf(job);
          if (waiting !== -1) this.#queue.splice(waiting, 1);
          this.#settle(job, () => reject(signal!.reason)); // a running job finishes in the thread; its result is dropped
        },
      };
      signal?.addEventListener("abort", job.onAbort, { once: true });
      this.#queue.push(job);
      this.#dispatch();
    });
  }

  /**
   * Stops the thread; waiting and running requests fail with UNAVAILABLE. The thread finishes the run
   * it is in (terminating a thread inside onnxruntime aborts the process) and exits; after `timeoutMs`
   * it is terminated all the same.
   */
  async close(timeoutMs = 10_000): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    this.#fail(new UnavailableError("predictor is shutting down", { reason: "SHUTTING_DOWN" }));
    const exited = once(this.#worker, "exit").then(() => true);
    this.#worker.postMessage({ type: "close" } satisfies ThreadMessage);
    const timer = new Promise<boolean>((resolve) => setTimeout(resolve, timeoutMs, false).unref());
    if (!(await Promise.race([exited, timer]))) await this.#worker.terminate();
  }

  #dispatch(): void {
    if (this.#running !== undefined || this.#failure !== undefined) return;
    const job = this.#queue.shift();
    if (job === undefined) return;
    this.#running = job;
    const request: ThreadRequest = { type: "run", id: job.id, tokenIds: job.tokenIds, positions: job.positions };
    this.#worker.postMessage(request, [job.tokenIds.buffer as ArrayBuffer, job.positions.buffer as ArrayBuffer]);
  }

  #onReply(reply: ThreadReply): void {
    const job = this.#running;
    if (job === undefined || (reply.type !== "result" && reply.type !== "error") || reply.id !== job.id) {
      this.#fail(new UnavailableError(`predictor worker protocol error: unexpected ${reply.type} reply`));
      return;
    }
    this.#running = undefined;
    if (reply.type === "result") this.#settle(job, () => job.resolve(reply.probabilities));
    else this.#settle(job, () => job.reject(new InternalError(`predictor model failed: ${reply.message}`)));
    this.#dispatch();
  }

  #settle(job: Job, settle: () => void): void {
    if (job.settled) return;
    job.settled = true;
    job.signal?.removeEventListener("abort", job.onAbort);
    settle();
  }

  #fail(error: Error): void {
    if (this.#failure !== undefined) return;
    this.#failure = error;
    const jobs = [...(this.#running === undefined ? [] : [this.#running]), ...this.#queue.splice(0)];
    this.#running = undefined;
    for (const job of jobs) this.#settle(job, () => job.reject(error));
    if (!this.#closing) this.#onFailure?.(error);
  }
}
