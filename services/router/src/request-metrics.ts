// Per-request metrics with vLLM V1's names and semantics, prefixed `expertmesh:` instead of `vllm:`, so
// that the dashboards and alerts people keep for vLLM read the router as they are (rename the prefix).
// Every series has the label model_name. Times are seconds from the request's arrival at the router:
//   time_to_first_token_seconds   arrival -> first output token
//   inter_token_latency_seconds   between consecutive output tokens (one observation per gap)
//   e2e_request_latency_seconds   arrival -> last token (finished requests, whatever the reason)
//   request_queue_time_seconds    waiting for a batch slot (admission -> scheduled into the batch)
//   request_prefill_time_seconds / request_decode_time_seconds   the engine's prefill and decode phases
//   num_requests_running / num_requests_waiting   in the batch now / admitted and waiting for a slot
//   prompt_tokens_total / generation_tokens_total / request_success_total{finished_reason}
// Both APIs (gRPC InferenceService and the OpenAI-compatible HTTP front) go through runGeneration, which
// records them; RPC-level metrics (expertmesh_rpc_*) stay per gRPC method.
import { Counter, Gauge, Histogram, type Registry } from "prom-client";

// vLLM's buckets, with finer ones below 10 ms where a small model on CPU decodes.
const TTFT_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640, 2560];
const ITL_BUCKETS = [
  0.001, 0.0025, 0.005, 0.0075, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80,
];
const REQUEST_BUCKETS = [0.01, 0.05, 0.1, 0.3, 0.5, 0.8, 1, 1.5, 2, 2.5, 5, 10, 15, 20, 30, 40, 50, 60, 120, 240, 480, 960, 1920, 7680];

type Label = "model_name";

export interface EngineOccupancy {
  readonly running: number;
  readonly waiting: number;
}

export class RequestMetrics {
  private readonly labels: Record<Label, string>;
  readonly ttft: Histogram<Label>;
  readonly itl: Histogram<Label>;
  readonly e2e: Histogram<Label>;
  readonly queue: Histogram<Label>;
  readonly prefill: Histogram<Label>;
  readonly decode: Histogram<Label>;
  readonly promptTokens: Counter<Label>;
  readonly generationTokens: Counter<Label>;
  readonly success: Counter<Label | "finished_reason">;

  constructor(registry: Registry, modelName: string, occupancy: EngineOccupancy) {
    const labels = (this.labels = { model_name: modelName });
    const registers = [registry];
    const histogram = (name: string, help: string, buckets: number[]) =>
      new Histogram<Label>({ name: `expertmesh:${name}`, help, labelNames: ["model_name"], buckets, registers });
    this.ttft = histogram(
      "time_to_first_token_seconds",
      "Histogram of time to first token in seconds (from arrival at the router).",
      TTFT_BUCKETS,
    );
    this.itl = histogram("inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", ITL_BUCKETS);
    this.e2e = histogram("e2e_request_latency_seconds", "Histogram of end-to-end request latency in seconds.", REQUEST_BUCKETS);
    this.queue = histogram("request_queue_time_seconds", "Histogram of time spent waiting for a batch slot in seconds.", REQUEST_BUCKETS);
    this.prefill = histogram("request_prefill_time_seconds", "Histogram of time spent in prefill in seconds.", REQUEST_BUCKETS);
    this.decode = histogram("request_decode_time_seconds", "Histogram of time spent in decode in seconds.", REQUEST_BUCKETS);
    const gauge = (name: string, help: string, read: () => number) =>
      new Gauge<Label>({
        name: `expertmesh:${name}`,
        help,
        labelNames: ["model_name"],
        registers,
        collect() {
          this.set(labels, read());
        },
      });
    gauge("num_requests_running", "Number of requests in the running batch.", () => occupancy.running);
    gauge("num_requests_waiting", "Number of requests waiting for a batch slot.", () => occupancy.waiting);
    this.promptTokens = new Counter<Label>({
      name: "expertmesh:prompt_tokens_total",
      help: "Number of prefill tokens processed.",
      labelNames: ["model_name"],
      registers,
    });
    this.generationTokens = new Counter<Label>({
      name: "expertmesh:generation_tokens_total",
      help: "Number of generation tokens processed.",
      labelNames: ["model_name"],
      registers,
    });
    this.success = new Counter<Label | "finished_reason">({
      name: "expertmesh:request_success_total",
      help: "Count of finished requests, by finish reason (stop, length, abort).",
      labelNames: ["model_name", "finished_reason"],
      registers,
    });
    // Series exist from the start (at 0), as vLLM's do, so that rate() works before the first request.
    for (const c of [this.promptTokens, this.generationTokens]) c.inc(labels, 0);
  }

  /** Starts the clock of one request at its arrival. */
  request(): RequestClock {
    return new RequestClock(this);
  }

  labelsOf(): Record<Label, string> {
    return this.labels;
  }
}

export class RequestClock {
  private readonly arrived = performance.now();
  private last: number | undefined;

  constructor(private readonly m: RequestMetrics) {}

  prompt(tokens: number): void {
    this.m.promptTokens.inc(this.m.labelsOf(), tokens);
  }

  token(): void {
    const now = performance.now();
    const labels = this.m.labelsOf();
    if (this.last === undefined) this.m.ttft.observe(labels, (now - this.arrived) / 1000);
    else this.m.itl.observe(labels, (now - this.last) / 1000);
    this.last = now;
    this.m.generationTokens.inc(labels);
  }

  /** A request ended by its client (cancelled, deadline): counted as vLLM counts aborts, no latency observed. */
  abort(): void {
    this.m.success.inc({ ...this.m.labelsOf(), finished_reason: "abort" });
  }

  /** A request that finished (not one that failed): its reason ("stop", "length", "abort") and engine timings in ms. */
  finish(reason: string, timings: { queueMs: number; prefillMs: number; decodeMs: number }): void {
    const labels = this.m.labelsOf();
    this.m.e2e.observe(labels, (performance.now() - this.arrived) / 1000);
    this.m.queue.observe(labels, timings.queueMs / 1000);
    this.m.prefill.observe(labels, timings.prefillMs / 1000);
    this.m.decode.observe(labels, timings.decodeMs / 1000);
    this.m.success.inc({ ...labels, finished_reason: reason });
  }
}
