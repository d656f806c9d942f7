// The request loop. Open loop: requests start on an arrival schedule (arrivals.ts) whatever the server
// does, at most `maxInFlight` at a time (beyond it they wait in the client, and that wait counts, since
// latency is taken from the scheduled start). Closed loop: `concurrency` workers, each sending its next
// request when the previous one ends. Both are bounded: by the request count, by the duration, and by
// a hard end (warm-up + duration + request timeout) at which whatever still runs is cancelled.
import { ExpertMeshError, type ExpertMeshClient, type SamplingParams } from "@expertmesh/client";
import { status } from "@grpc/grpc-js";
import { setMaxListeners } from "node:events";
import { arrivalSchedule } from "./arrivals.js";
import { asBackend, type GenerationBackend } from "./backend.js";
import type { Prompt } from "./prompts.js";
import { seededRandom } from "./random.js";
import type { RequestRecord } from "./request-record.js";

export type LoadModel = { kind: "open"; rate: number; burstiness: number; maxInFlight: number } | { kind: "closed"; concurrency: number };

export interface RunOptions {
  readonly load: LoadModel;
  readonly prompts: readonly Prompt[];
  readonly sampling: SamplingParams;
  /** Seconds of warm-up, sent but not counted. */
  readonly warmupS: number;
  /** Seconds of the measured phase (after the warm-up). */
  readonly durationS: number;
  /** Measured requests at most. */
  readonly maxRequests: number;
  /** Deadline of each request. */
  readonly requestTimeoutMs: number;
  readonly seed: number;
  /** Called once, when the warm-up ends (the harness reads the shards' cache statistics then). */
  readonly onWarmupEnd?: () => void;
  /** Stops the run early (requests running are cancelled and recorded as CANCELLED). */
  readonly signal?: AbortSignal;
  /** Called as each request ends (warm-up ones too), its record complete: for progress reports. */
  readonly onRequestEnd?: (r: RequestRecord) => void;
}

export interface RunResult {
  readonly records: RequestRecord[];
  /** Wall-clock time of the run's start (epoch ms), for the report. */
  readonly startedAt: number;
  /** ms since the start: the measured phase begins at warmupMs and its schedule ends at endMs. */
  readonly warmupMs: number;
  readonly endMs: number;
  /** ms since the start when the last request ended. */
  readonly finishedMs: number;
}

export async function runLoad(target: ExpertMeshClient | GenerationBackend, o: RunOptions): Promise<RunResult> {
  const client = asBackend(target);
  if (!o.prompts.length) throw new RangeError("no prompts");
  if (!(o.durationS > 0)) throw new RangeError(`duration must be > 0 s, got ${o.durationS}`);
  if (!(o.warmupS >= 0)) throw new RangeError(`warm-up must be >= 0 s, got ${o.warmupS}`);
  if (!(Number.isInteger(o.maxRequests) && o.maxRequests >= 1))
    throw new RangeError(`max requests must be an integer >= 1, got ${o.maxRequests}`);
  const rand = seededRandom(o.seed);
  const records: RequestRecord[] = [];
  const warmupMs = o.warmupS * 1000;
  const endMs = warmupMs + o.durationS * 1000;
  const hardEnd = new AbortController();
  const stop = AbortSignal.any([hardEnd.signal, ...(o.signal ? [o.signal] : [])]);
  // Every running request listens on `stop`: as many listeners as requests in flight.
  setMaxListeners(0, stop);
  const t0 = performance.now() + 20;
  const startedAt = Date.now() + 20;
  const now = () => performance.now() - t0;
  const hardTimer = setTimeout(() => hardEnd.abort(new Error("hard end of the run")), endMs + o.requestTimeoutMs + 5_000 + 20);
  const warmupTimer = setTimeout(() => o.onWarmupEnd?.(), warmupMs + 20);
  const running = new Set<Promise<void>>();
  let promptIndex = Math.floor(rand() * o.prompts.length);

  const one = (r: RequestRecord): Promise<void> => {
    const prompt = o.prompts[promptIndex++ % o.prompts.length];
    const p = request(client, prompt, o, r, now, stop);
    running.add(p);
    return p.finally(() => {
      running.delete(p);
      o.onRequestEnd?.(r);
    });
  };

  try {
    if (o.load.kind === "open") {
      const { rate, burstiness, maxInFlight } = o.load;
      const warm = o.warmupS > 0 ? arrivalSchedule({ rate, burstiness, durationS: o.warmupS, maxRequests: o.maxRequests }, rand) : [];
      const measured = arrivalSchedule({ rate, burstiness, durationS: o.durationS, maxRequests: o.maxRequests }, rand).map(
        (t) => t + warmupMs,
      );
      const stopped = abortPromise(stop);
      const schedule = [...warm.map((t) => ({ t, warmup: true })), ...measured.map((t) => ({ t, warmup: false }))];
      for (const [index, s] of schedule.entries()) {
        const r: RequestRecord = { index, warmup: s.warmup, scheduledMs: s.t, outputTokens: 0, gapsMs: [] };
        records.push(r);
        if (stop.aborted) continue;
        const wait = s.t - now();
        if (wait > 0) await sleepUnless(wait, stop);
        while (running.size >= maxInFlight && !stop.aborted) await Promise.race([...running, stopped]);
        if (!stop.aborted) void one(r);
      }
    } else {
      await sleepUnless(Math.max(0, -now()), stop);
      let index = 0;
      let measured = 0;
      const worker = async () => {
        for (;;) {
          const t = now();
          if (stop.aborted || t >= endMs) return;
          const warmup = warmupMs > 0 && t < warmupMs;
          if (!warmup && measured >= o.maxRequests) return;
          if (!warmup) measured++;
          const r: RequestRecord = { index: index++, warmup, scheduledMs: t, outputTokens: 0, gapsMs: [] };
          records.push(r);
          await one(r);
        }
      };
      await Promise.all(Array.from({ length: o.load.concurrency }, worker));
    }
    await Promise.all([...running]);
  } finally {
    clearTimeout(hardTimer);
    clearTimeout(warmupTimer);
  }
  for (const r of records) if (r.sentMs === undefined) r.code ??= "NOT_SENT";
  const finishedMs = records.reduce((m, r) => Math.max(m, r.endMs ?? 0), endMs);
  return { records, startedAt, warmupMs, endMs, finishedMs };
}

/** One streamed generation, its times written into `r` as they happen. */
async function request(
  client: GenerationBackend,
  prompt: Prompt,
  o: RunOptions,
  r: RequestRecord,
  now: () => number,
  stop: AbortSignal,
): Promise<void> {
  r.sentMs = now();
  let last: number | undefined;
  try {
    for await (const chunk of client.generate(prompt.text, o.sampling, { timeoutMs: o.requestTimeoutMs, signal: stop })) {
      if (chunk.tokens) {
        const t = now();
        if (last === undefined) r.firstTokenMs = t;
        else r.gapsMs.push(t - last);
        last = t;
        r.lastTokenMs = t;
        r.outputTokens += chunk.tokens;
      }
      if (chunk.finishReason) r.finishReason = chunk.finishReason;
      if (chunk.promptTokens !== undefined) r.promptTokens = chunk.promptTokens;
      if (chunk.completionTokens !== undefined) r.outputTokens = chunk.completionTokens;
    }
    r.code = "OK";
  } catch (e) {
    if (e instanceof ExpertMeshError) {
      r.code = status[e.code] ?? String(e.code);
      r.reason = e.reason;
      r.message = e.message;
    } else if (stop.aborted) {
      r.code = "CANCELLED";
      r.reason = "RUN_ENDED";
      r.message = String((stop.reason as Error)?.message ?? stop.reason);
    } else {
      r.code = "CLIENT_ERROR";
      r.message = (e as Error)?.message ?? String(e);
    }
  } finally {
    r.endMs = now();
  }
}

function sleepUnless(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => (signal.aborted ? resolve() : signal.addEventListener("abort", () => resolve(), { once: true })));
}
