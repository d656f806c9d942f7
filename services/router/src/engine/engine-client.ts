// The main thread's handle on the engine worker: admission (a bounded number of requests in the engine;
// beyond it RESOURCE_EXHAUSTED at once), per-request event streams, cancellation, and shutdown.
import { Worker } from "node:worker_threads";
import { currentTraceparent, InternalError, ResourceExhaustedError, UnavailableError, DeadlineExceededError } from "@expertmesh/runtime";
import type { EngineSettings, EngineTimings, FromEngine, SamplingParams, ToEngine } from "./protocol.js";

export type EngineEvent =
  | { type: "token"; token: number }
  | { type: "done"; finish: "eos" | "length" | "cancelled"; timings: EngineTimings };

interface Pending {
  push(e: EngineEvent | Error): void;
}

export class EngineClient {
  private nextId = 1;
  private pending = new Map<number, Pending>();
  /** Requests in the running batch (the rest of `pending` waits for a slot). */
  private scheduled = new Set<number>();
  private dead: Error | null = null;

  private constructor(
    private readonly worker: Worker,
    private readonly capacity: number,
  ) {
    worker.on("message", (batch: FromEngine[]) => {
      for (const m of batch) this.onMessage(m);
    });
    worker.on("error", (e) => this.die(new InternalError(`engine worker failed: ${e.message}`, { cause: e })));
    worker.on("exit", (code) => this.die(new UnavailableError(`engine worker exited (code ${code})`)));
  }

  /** Starts the worker and waits until the model is loaded. `capacity` bounds running + queued requests. */
  static async start(settings: EngineSettings, capacity: number): Promise<EngineClient> {
    const worker = new Worker(new URL("./engine-worker.js", import.meta.url), { workerData: settings });
    let onMessage!: (batch: FromEngine[]) => void;
    let onError!: (e: Error) => void;
    let onExit!: (code: number) => void;
    try {
      await new Promise<void>((resolve, reject) => {
        onMessage = (batch) => {
          for (const m of batch) {
            if (m.type === "ready") resolve();
            else if (m.type === "fatal") reject(new Error(`engine failed to start: ${m.message}`));
          }
        };
        onError = reject;
        onExit = (code) => reject(new Error(`engine exited during start (code ${code})`));
        worker.on("message", onMessage).on("error", onError).on("exit", onExit);
      });
    } catch (e) {
      await worker.terminate();
      throw e;
    } finally {
      worker.off("message", onMessage).off("error", onError).off("exit", onExit);
    }
    return new EngineClient(worker, capacity);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** Requests in the running batch now. */
  get running(): number {
    return this.scheduled.size;
  }

  /** Requests admitted and waiting for a batch slot. */
  get waiting(): number {
    return this.pending.size - this.scheduled.size;
  }

  /**
   * Submits a request; yields its tokens, then one `done` event. Throws ResourceExhaustedError at once
   * when the engine holds `capacity` requests. Aborting `signal` cancels the request in the engine.
   */
  async *submit(prompt: number[], sampling: SamplingParams, deadline: number, signal: AbortSignal): AsyncGenerator<EngineEvent> {
    if (this.dead) throw this.dead;
    if (this.pending.size >= this.capacity) {
      throw new ResourceExhaustedError("queue", `the router holds ${this.pending.size} requests, its limit (max_batch + max_queue)`, {
        limit: this.capacity,
        value: this.pending.size + 1,
        retryAfterMs: 500,
      });
    }
    const id = this.nextId++;
    const queue: (EngineEvent | Error)[] = [];
    let wake: (() => void) | null = null;
    this.pending.set(id, {
      push: (e) => {
        queue.push(e);
        wake?.();
      },
    });
    const onAbort = () => this.post({ type: "cancel", id });
    signal.addEventListener("abort", onAbort, { once: true });
    this.post({ type: "submit", id, prompt, sampling, deadline, traceparent: currentTraceparent() });
    try {
      for (;;) {
        while (queue.length === 0) await new Promise<void>((r) => (wake = r));
        wake = null;
        const e = queue.shift()!;
        if (e instanceof Error) throw e;
        yield e;
        if (e.type === "done") return;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.scheduled.delete(id);
      if (this.pending.delete(id)) this.post({ type: "cancel", id }); // the consumer stopped early
    }
  }

  /** Lets running requests finish, then stops the worker. */
  async close(): Promise<void> {
    if (this.dead) return;
    const exited = new Promise<void>((r) => this.worker.once("exit", () => r()));
    this.post({ type: "shutdown" });
    await exited;
  }

  private post(m: ToEngine): void {
    if (!this.dead) this.worker.postMessage(m);
  }

  private onMessage(m: FromEngine): void {
    if (m.type === "scheduled") {
      if (this.pending.has(m.id)) this.scheduled.add(m.id);
    } else if (m.type === "token") this.pending.get(m.id)?.push({ type: "token", token: m.token });
    else if (m.type === "done") {
      this.pending.get(m.id)?.push({ type: "done", finish: m.finish, timings: m.timings });
      this.pending.delete(m.id);
      this.scheduled.delete(m.id);
    } else if (m.type === "error") {
      const err =
        m.code === "UNAVAILABLE"
          ? new UnavailableError(m.message, { retryAfterMs: 1000 })
          : m.code === "DEADLINE_EXCEEDED"
            ? new DeadlineExceededError(m.message)
            : new InternalError(m.message);
      this.pending.get(m.id)?.push(err);
      this.pending.delete(m.id);
      this.scheduled.delete(m.id);
    } else if (m.type === "fatal") this.die(new InternalError(`engine: ${m.message}`));
  }

  private die(e: Error): void {
    if (this.dead) return;
    this.dead = e;
    for (const p of this.pending.values()) p.push(e);
    this.pending.clear();
    this.scheduled.clear();
  }
}
