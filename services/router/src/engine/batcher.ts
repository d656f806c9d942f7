// Continuous batching: requests join between steps. Each iteration prefills the requests admitted since
// the last one (one batched step) and then decodes every running sequence once: in one step, or with a
// step batch in several, chosen by arrival order or route-aware regrouping (decode-schedule.ts); finished,
// cancelled and failed sequences leave at once. Every sequence owns its KV cache, so the batch can be
// recomposed at any step without touching another sequence's state. Deadlines are per request, even
// inside a step: a request whose deadline passes mid-step ends at once with DEADLINE_EXCEEDED and the
// step goes on for the others (its result for that request is dropped); a step whose every request has
// ended is aborted, which cancels its calls to the shards.
import { sampleToken, seededRandom, type LayerRouting, type MoeRuntime, type Sequence } from "@expertmesh/model";
import { DeadlineExceededError, UnavailableError } from "@expertmesh/runtime";
import { DecodeSchedule, type DecodeScheduleOptions } from "./decode-schedule.js";
import type { EngineErrorCode, EngineTimings, FromEngine, SamplingParams } from "./protocol.js";

export interface BatchRequest {
  id: number;
  prompt: number[];
  sampling: SamplingParams;
  deadline: number;
  arrived: number;
  /** W3C traceparent of the request's server span, for the step's span. */
  traceparent?: string;
}

interface Running extends BatchRequest {
  sequence: Sequence;
  random: () => number;
  generated: number;
  last: number;
  cancelled: boolean;
  timings: EngineTimings;
}

/** What the engine hooks into each step: deadlines, tracing, predictions and corrections. */
export interface StepHooks {
  /** Called before a step with the requests in it. */
  beginStep?(requests: readonly BatchRequest[]): void;
  /** Wraps the step (the engine puts it in a trace span and starts the route prediction). */
  wrapStep?<T>(requests: readonly BatchRequest[], step: StepTokens, run: () => Promise<T>): Promise<T>;
  /** Each layer's gate decisions for the step's tokens. */
  onRouting?(routing: LayerRouting): void;
  /**
   * Before an iteration's decode steps: predicted routes [L * E] of the tokens the running sequences
   * decode next (the engine asks the predictor and publishes hints), or undefined.
   */
  predictNext?(tokens: number[], positions: number[]): Promise<Float32Array[] | undefined>;
}

/** The tokens a step runs: per request, its new tokens and the position of the first. */
export interface StepTokens {
  prefill: boolean;
  tokens: number[][];
  starts: number[];
}

export class Batcher {
  private waiting: Running[] = [];
  private running: Running[] = [];
  private byId = new Map<number, Running>();
  private loop: Promise<void> | null = null;
  private stepAbort: AbortController | null = null;
  private stepMembers: Running[] = [];
  private readonly schedule: DecodeSchedule;

  constructor(
    private readonly rt: MoeRuntime,
    private readonly maxBatch: number,
    private readonly emit: (m: FromEngine) => void,
    private readonly hooks: StepHooks = {},
    /** How the running sequences are cut into decode steps (decode-schedule.ts); default: one step. */
    schedule: DecodeScheduleOptions = { mode: "arrival", stepBatch: 0 },
  ) {
    this.schedule = new DecodeSchedule(schedule, rt.config);
  }

  get size(): number {
    return this.waiting.length + this.running.length;
  }

  submit(r: BatchRequest): void {
    const entry: Running = {
      ...r,
      sequence: this.rt.newSequence(),
      random: seededRandom(r.sampling.seed),
      generated: 0,
      last: -1,
      cancelled: false,
      timings: { queueMs: 0, prefillMs: 0, decodeMs: 0 },
    };
    this.byId.set(r.id, entry);
    this.waiting.push(entry);
    this.kick();
  }

  cancel(id: number): void {
    const r = this.byId.get(id);
    if (!r) return;
    r.cancelled = true;
    const w = this.waiting.indexOf(r);
    if (w >= 0) {
      this.waiting.splice(w, 1);
      this.finish(r, "cancelled");
    }
    this.abortStepIfEmpty();
  }

  /** A step whose every member is cancelled or has ended is aborted, which cancels its calls to the shards. */
  private abortStepIfEmpty(): void {
    if (this.stepAbort && this.stepMembers.length && this.stepMembers.every((m) => m.cancelled || !this.byId.has(m.id))) {
      this.stepAbort.abort(new Error("cancelled"));
    }
  }

  /** Resolves when no request is left. */
  idle(): Promise<void> {
    return this.loop ?? Promise.resolve();
  }

  private kick(): void {
    if (this.loop) return;
    this.loop = (async () => {
      try {
        while (this.waiting.length || this.running.length) await this.iterate();
      } finally {
        this.loop = null;
      }
    })();
  }

  private async iterate(): Promise<void> {
    this.sweep();
    const fresh = this.waiting.splice(0, Math.max(0, this.maxBatch - this.running.length));
    const decoding = this.running;
    if (fresh.length) {
      const now = performance.now();
      for (const r of fresh) {
        r.timings.queueMs = now - r.arrived;
        this.emit({ type: "scheduled", id: r.id });
      }
      await this.step(fresh, true);
    }
    // One decode step, or with a step batch several, each sequence in exactly one (decode-schedule.ts).
    const live = decoding.filter((r) => !r.cancelled && this.byId.has(r.id));
    if (this.hooks.predictNext && live.length) {
      const predicted = await this.hooks.predictNext(
        live.map((r) => r.last),
        live.map((r) => r.sequence.length),
      );
      if (predicted)
        live.forEach((r, i) => {
          this.schedule.predict(r, predicted[i]);
        });
    }
    for (const batch of this.schedule.plan(live)) {
      await this.step(
        batch.filter((r) => !r.cancelled && this.byId.has(r.id)),
        false,
      );
    }
    this.running = [...decoding, ...fresh].filter((r) => this.byId.has(r.id));
  }

  /** Removes cancelled and expired requests. */
  private sweep(): void {
    const now = Date.now();
    for (const r of [...this.running, ...this.waiting]) {
      if (r.cancelled) this.finish(r, "cancelled");
      else if (now >= r.deadline) this.fail(r, "DEADLINE_EXCEEDED", "deadline exceeded while generating");
    }
    this.running = this.running.filter((r) => this.byId.has(r.id));
    this.waiting = this.waiting.filter((r) => this.byId.has(r.id));
  }

  private async step(members: Running[], prefill: boolean): Promise<void> {
    if (!members.length) return;
    const t0 = performance.now();
    this.stepAbort = new AbortController();
    this.stepMembers = members;
    this.hooks.beginStep?.(members);
    const step: StepTokens = {
      prefill,
      tokens: members.map((r) => (prefill ? r.prompt : [r.last])),
      starts: members.map((r) => r.sequence.length),
    };
    let logits: Float32Array[];
    // A member whose deadline passes during the step ends alone, now; the step goes on for the others.
    const timers = members.map((r) =>
      setTimeout(
        () => {
          this.fail(r, "DEADLINE_EXCEEDED", "deadline exceeded while generating");
          this.abortStepIfEmpty();
        },
        Math.max(0, r.deadline - Date.now()),
      ),
    );
    try {
      const signal = this.stepAbort.signal;
      const record = this.schedule.recorder(
        members,
        step.tokens.map((t) => t.length),
      );
      const onRouting = record
        ? (r: LayerRouting) => {
            record(r);
            this.hooks.onRouting?.(r);
          }
        : this.hooks.onRouting;
      const run = () =>
        this.rt.step(
          members.map((r, i) => ({ sequence: r.sequence, tokens: step.tokens[i] })),
          { signal, onRouting },
        );
      logits = await (this.hooks.wrapStep ? this.hooks.wrapStep(members, step, run) : run());
    } catch (e) {
      const message = (e as Error)?.message ?? String(e);
      for (const r of members) {
        if (r.cancelled) this.finish(r, "cancelled");
        else if (e instanceof UnavailableError) this.fail(r, "UNAVAILABLE", message);
        else if (e instanceof DeadlineExceededError) this.fail(r, Date.now() >= r.deadline ? "DEADLINE_EXCEEDED" : "UNAVAILABLE", message);
        else this.fail(r, "INTERNAL", message);
      }
      return;
    } finally {
      for (const t of timers) clearTimeout(t);
      this.stepAbort = null;
      this.stepMembers = [];
    }
    const ms = performance.now() - t0;
    const eos = new Set(this.rt.config.eosTokenIds);
    members.forEach((r, i) => {
      if (prefill) r.timings.prefillMs += ms;
      else r.timings.decodeMs += ms;
      if (!this.byId.has(r.id)) return; // ended during the step (its deadline passed)
      if (r.cancelled) {
        this.finish(r, "cancelled");
        return;
      }
      const token = sampleToken(logits[i], { temperature: r.sampling.temperature, topP: r.sampling.topP }, r.random);
      r.last = token;
      r.generated++;
      this.emit({ type: "token", id: r.id, token });
      if (eos.has(token)) this.finish(r, "eos");
      else if (r.generated >= r.sampling.maxTokens) this.finish(r, "length");
    });
  }

  private finish(r: Running, finish: "eos" | "length" | "cancelled"): void {
    if (!this.byId.delete(r.id)) return;
    this.emit({ type: "done", id: r.id, finish, timings: r.timings });
  }

  private fail(r: Running, code: EngineErrorCode, message: string): void {
    if (!this.byId.delete(r.id)) return;
    this.emit({ type: "error", id: r.id, code, message });
  }
}
