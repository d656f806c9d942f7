// One long-lived DispatchExperts stream from the router to one shard: each expert call is one message
// with its own id, step id, layer and deadline, answered by id. Calls in flight on the stream are
// bounded (more wait for a slot, in order: backpressure instead of unbounded buffering, and writes wait
// while the transport's buffer is full). A call's cancel (its signal) and its deadline send a cancel
// message, so the shard stops its work. The stream opens on first use; when it breaks (the shard died,
// the connection dropped, the shard drained) every call on it fails with UnavailableError, which the
// shard pool treats like a failed unary call (failover to a replica), and the next call reopens it.
import type {
  DispatchExpertsRequest,
  DispatchExpertsResponse,
  ExpertInput,
  ExpertOutput,
  ExpertShardServiceClient,
} from "@expertmesh/proto";
import {
  currentTraceparent,
  DeadlineExceededError,
  errorFromRpcStatus,
  openBidi,
  UnavailableError,
  type BidiStream,
  type ExpertMeshError,
} from "@expertmesh/runtime";

/** How long after its deadline a call that the shard has not answered is given up locally. */
const DEADLINE_GRACE_MS = 50;

interface PendingCall {
  readonly resolve: (outputs: ExpertOutput[]) => void;
  readonly reject: (error: unknown) => void;
  readonly stream: BidiStream<DispatchExpertsRequest>;
  cleanup(): void;
}

export interface StreamCall {
  readonly layer: number;
  readonly stepId: number;
  readonly inputs: ExpertInput[];
  /** Epoch ms. */
  readonly deadline: number;
  readonly signal?: AbortSignal;
}

export class ShardStream {
  #stream: BidiStream<DispatchExpertsRequest> | undefined;
  readonly #pending = new Map<number, PendingCall>();
  readonly #waiting: (() => void)[] = [];
  #nextId = 1;
  /** Calls holding a slot: from the moment they pass the in-flight bound until they settle. */
  #active = 0;
  #closed = false;
  readonly counters = { opened: 0 };

  constructor(
    private readonly client: ExpertShardServiceClient,
    readonly name: string,
    private readonly maxInFlight: number,
  ) {}

  get inFlight(): number {
    return this.#active;
  }

  /** Runs one call on the stream; resolves with its outputs, rejects with the call's typed error. */
  async call(c: StreamCall): Promise<ExpertOutput[]> {
    while (this.#active >= this.maxInFlight && !this.#closed) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#active++;
    let sent = false;
    try {
      c.signal?.throwIfAborted();
      if (this.#closed) throw new UnavailableError(`${this.name}: dispatch stream closed`);
      const stream = this.#open();
      await stream.drained();
      const timeoutMs = Math.ceil(c.deadline - Date.now());
      if (timeoutMs < 1) throw new DeadlineExceededError(`${this.name}: the step's deadline passed before dispatch`);
      sent = true;
      return await this.#send(stream, c, timeoutMs);
    } finally {
      if (!sent) this.#release();
    }
  }

  #release(): void {
    this.#active--;
    this.#waiting.shift()?.();
  }

  #send(stream: BidiStream<DispatchExpertsRequest>, c: StreamCall, timeoutMs: number): Promise<ExpertOutput[]> {
    const callId = this.#nextId++;
    return new Promise<ExpertOutput[]>((resolve, reject) => {
      const cancel = (): void =>
        void stream.write({ callId, stepId: 0, layer: 0, inputs: [], timeoutMs: 0, cancel: true, traceparent: "" });
      const onAbort = (): void => {
        cancel();
        this.#settle(callId)?.reject(c.signal!.reason);
      };
      const timer = setTimeout(() => {
        cancel();
        this.#settle(callId)?.reject(
          new DeadlineExceededError(`${this.name}: no answer to call ${callId} by its deadline (${timeoutMs} ms)`),
        );
      }, timeoutMs + DEADLINE_GRACE_MS);
      c.signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(callId, {
        resolve,
        reject,
        stream,
        cleanup: () => {
          clearTimeout(timer);
          c.signal?.removeEventListener("abort", onAbort);
        },
      });
      stream.write({
        callId,
        stepId: c.stepId,
        layer: c.layer,
        inputs: c.inputs,
        timeoutMs,
        cancel: false,
        traceparent: currentTraceparent() ?? "",
      });
    });
  }

  /** Ends the stream (calls in flight fail with UnavailableError); the next call opens a new one. */
  reset(reason: string): void {
    const stream = this.#stream;
    if (stream === undefined) return;
    this.#stream = undefined;
    this.#failAll(stream, new UnavailableError(`${this.name}: dispatch stream reset: ${reason}`));
    stream.cancel();
  }

  close(): void {
    this.#closed = true;
    this.reset("closed");
    for (const wake of this.#waiting.splice(0)) wake();
  }

  #open(): BidiStream<DispatchExpertsRequest> {
    if (this.#stream !== undefined && !this.#stream.ended) return this.#stream;
    this.counters.opened++;
    const stream: BidiStream<DispatchExpertsRequest> = openBidi(this.client, "dispatchExperts", {
      onMessage: (m: DispatchExpertsResponse) => {
        const p = this.#settle(m.callId);
        if (p === undefined) return; // given up already (cancelled, or past its deadline)
        if (m.error !== undefined) p.reject(errorFromRpcStatus(m.error));
        else p.resolve(m.outputs);
      },
      onEnd: (error: ExpertMeshError | undefined) => {
        if (this.#stream === stream) this.#stream = undefined;
        const why = error === undefined ? "the shard ended the stream" : `${error.name}: ${error.message}`;
        this.#failAll(stream, new UnavailableError(`${this.name}: dispatch stream broke (${why})`, { cause: error }));
      },
    });
    this.#stream = stream;
    return stream;
  }

  #failAll(stream: BidiStream<DispatchExpertsRequest>, error: Error): void {
    for (const [id, p] of this.#pending) {
      if (p.stream !== stream) continue;
      this.#settle(id);
      p.reject(error);
    }
  }

  #settle(callId: number): PendingCall | undefined {
    const p = this.#pending.get(callId);
    if (p === undefined) return undefined;
    this.#pending.delete(callId);
    p.cleanup();
    this.#release();
    return p;
  }
}
