// Request/response over a worker thread, both ends. The main thread's WorkerClient numbers each request
// and settles it from the worker's reply; serveWorker (in the worker) runs one handler per message type
// and replies with the value (transferring the buffers it names) or the error's message.
// A worker is ref'd only while requests are pending, so an idle worker never keeps the process alive;
// an unexpected exit rejects every pending request.

import { parentPort, Worker, type TransferListItem } from "node:worker_threads";

interface Request {
  readonly id?: number; // absent: a notification, no reply
  readonly type: string;
  readonly [field: string]: unknown;
}

type Reply =
  | { readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly id: number; readonly ok: false; readonly error: string };

/** A request failed because the worker is gone (it died, or was terminated while the request was pending). */
export class WorkerGoneError extends Error {
  override readonly name = "WorkerGoneError";
}

/**
 * `a` if it owns its whole (non-shared) buffer, else a compact copy: what can be transferred alone.
 * (Transferring a view would move, or clone, the whole buffer under it, e.g. a received gRPC message.)
 */
export function ownBuffer(a: Float32Array): Float32Array<ArrayBuffer> {
  return a.buffer instanceof ArrayBuffer && a.byteOffset === 0 && a.byteLength === a.buffer.byteLength
    ? (a as Float32Array<ArrayBuffer>)
    : new Float32Array(a);
}

/** What a worker handler returns: a value and the buffers to transfer with it. */
export interface HandlerResult {
  readonly value?: unknown;
  readonly transfer?: readonly TransferListItem[];
}

// biome-ignore lint/suspicious/noExplicitAny: each handler declares its own message type, which any accepts
// biome-ignore lint/suspicious/noConfusingVoidType: a handler that answers nothing is a void function
export type WorkerHandlers = Readonly<Record<string, (message: any) => Promise<HandlerResult | void> | HandlerResult | void>>;

/** Worker side: answers requests from the parent thread with `handlers`. */
export function serveWorker(handlers: WorkerHandlers): void {
  const port = parentPort;
  if (port === null) throw new Error("serveWorker must run in a worker thread");
  port.on("message", (message: Request) => {
    const handler = handlers[message.type];
    void (async () => {
      try {
        if (handler === undefined) throw new Error(`unknown message type ${JSON.stringify(message.type)}`);
        const result = (await handler(message)) ?? {};
        if (message.id === undefined) return;
        port.postMessage({ id: message.id, ok: true, value: result.value } satisfies Reply, result.transfer ?? []);
      } catch (error) {
        if (message.id === undefined) return;
        port.postMessage({ id: message.id, ok: false, error: (error as Error)?.message ?? String(error) } satisfies Reply);
      }
    })();
  });
}

/** Main side: one worker thread and the requests pending on it. */
export class WorkerClient {
  readonly #worker: Worker;
  readonly #pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  #nextId = 1;
  #exit: Error | undefined;
  #terminating = false;
  /** Resolves with the exit code once the worker has stopped. */
  readonly exited: Promise<number>;

  constructor(
    url: URL,
    workerData: unknown,
    readonly name: string,
    /** Called when the worker dies without terminate() having been asked. */
    onCrash: (error: Error) => void = () => {},
  ) {
    this.#worker = new Worker(url, { workerData, name });
    this.#worker.unref();
    this.#worker.on("message", (reply: Reply) => {
      const pending = this.#pending.get(reply.id);
      if (pending === undefined) return;
      this.#settled(reply.id);
      if (reply.ok) pending.resolve(reply.value);
      else pending.reject(new Error(`${this.name}: ${reply.error}`));
    });
    let crash: Error | undefined;
    this.#worker.on("error", (error) => (crash = error));
    this.exited = new Promise((resolve) => {
      this.#worker.on("exit", (code) => {
        this.#exit = new WorkerGoneError(`${this.name} exited (code ${code})${crash === undefined ? "" : `: ${crash.message}`}`, {
          cause: crash,
        });
        for (const [id, pending] of this.#pending) {
          this.#pending.delete(id);
          pending.reject(this.#exit);
        }
        if (!this.#terminating) onCrash(this.#exit);
        resolve(code);
      });
    });
  }

  /** Requests pending now. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Sends a request and resolves with the worker's answer (rejects with its error, or if it dies). */
  request<T>(type: string, fields: Readonly<Record<string, unknown>> = {}, transfer: readonly TransferListItem[] = []): Promise<T> {
    if (this.#exit !== undefined) return Promise.reject(this.#exit);
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.#pending.size === 0) this.#worker.ref();
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      this.#worker.postMessage({ ...fields, type, id }, [...transfer]);
    });
  }

  /** Sends a message that gets no answer. */
  notify(type: string, fields: Readonly<Record<string, unknown>> = {}): void {
    if (this.#exit === undefined) this.#worker.postMessage({ ...fields, type });
  }

  /** Stops the worker (pending requests reject); resolves once it has exited. */
  async terminate(): Promise<void> {
    this.#terminating = true;
    if (this.#exit !== undefined) return;
    // Keep the process alive until the worker has stopped: a worker's own ref does not always do it
    // while it terminates (seen on Node 20 under load: the event loop emptied before 'exit').
    const keepAlive = setInterval(() => {}, 1_000);
    try {
      await this.#worker.terminate();
      await this.exited;
    } finally {
      clearInterval(keepAlive);
    }
  }

  #settled(id: number): void {
    this.#pending.delete(id);
    if (this.#pending.size === 0) this.#worker.unref();
  }
}
