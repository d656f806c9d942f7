// The client SDK: InferenceService with a deadline on every call, cancellation through AbortSignal
// (which cancels the server's work), retries of unary calls on UNAVAILABLE (retry.ts), plaintext / TLS /
// mTLS (channelCredentials in @expertmesh/runtime, the one place credentials are built), and errors mapped to typed classes in one place (errorFromStatus).
import { Metadata, type ChannelCredentials, type ChannelOptions, type ServiceError } from "@grpc/grpc-js";
import {
  InferenceServiceClient,
  type CompleteResponse,
  type GenerateResponse,
  type ModelInfoResponse,
  type TokenizeResponse,
} from "@expertmesh/proto";
import {
  channelCredentials,
  errorFromStatus,
  plainChannelOptions,
  type ExpertMeshError,
  type TlsOptions,
} from "@expertmesh/runtime/public";
import { finishReasonName, usageFromWire, type FinishReasonName, type GenerationEnd, type GenerationUsage } from "./generation-end.js";
import { retryPolicy, withRetries, type RetryEvent, type RetryPolicy } from "./retry.js";

export interface KeepaliveOptions {
  /** Interval of keepalive pings; default 30 s. A dead server is noticed within time + timeout. */
  readonly timeMs?: number;
  /** How long a ping may go unanswered; default 10 s. */
  readonly timeoutMs?: number;
  /** Ping while no call is open; default true. */
  readonly permitWithoutCalls?: boolean;
}

export interface ClientOptions {
  /** TLS: true (system roots) or {ca, cert, key, serverName}; cert + key make it mTLS. Default: plaintext. */
  tls?: TlsOptions | boolean;
  /** Ready-made credentials (overrides `tls`, except its serverName). */
  credentials?: ChannelCredentials;
  /** Deadline of each call when the call gives none; default 60 s. */
  timeoutMs?: number;
  /** Model name sent with each request; default "" (the server's model). */
  model?: string;
  /** Retries of unary calls on UNAVAILABLE (never of Generate); false: none. Default DEFAULT_RETRY_POLICY. */
  retry?: Partial<RetryPolicy> | false;
  /** Called before each retry's wait (for logs and metrics). */
  onRetry?: (event: RetryEvent) => void;
  keepalive?: KeepaliveOptions;
  /** Largest response accepted; default 32 MiB. */
  maxReceiveMessageBytes?: number;
  /** Further grpc-js channel options; they win over the ones set here. */
  channelOptions?: ChannelOptions;
}

/** Per call: a deadline (relative) and a signal whose abort cancels the call and the server's work. */
export interface CallOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface SamplingParams {
  /** Tokens to generate at most; 0 or unset: the server's default. */
  maxTokens?: number;
  /** 0: greedy. Unset: 0 (greedy), as everywhere in ExpertMesh (proto, router, HTTP API, CLI). */
  temperature?: number;
  /** Nucleus sampling in (0, 1]; unset: 1. */
  topP?: number;
  /** Seed of the sampler; the same seed gives the same text. Unset: 0. */
  seed?: number;
  /** Generation stops when the text ends with one of these (not returned). */
  stop?: string[];
}

export type GenerateOptions = SamplingParams & CallOptions;

/** One chunk of a generation. The last one has `finishReason` and `usage` (and may have no tokens). */
export interface TokenChunk {
  text: string;
  tokenIds: number[];
  finishReason?: FinishReasonName;
  usage?: GenerationUsage;
}

export interface Completion extends GenerationEnd {
  text: string;
  tokenIds: number[];
}

export class ExpertMeshClient {
  private readonly client: InferenceServiceClient;
  private readonly timeoutMs: number;
  private readonly model: string;
  private readonly retry: RetryPolicy;
  private readonly onRetry: ((event: RetryEvent) => void) | undefined;

  constructor(
    readonly address: string,
    options: ClientOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 60_000;
    if (!(this.timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${this.timeoutMs}`);
    this.model = options.model ?? "";
    this.retry = retryPolicy(options.retry === false ? { maxAttempts: 1 } : options.retry);
    this.onRetry = options.onRetry;
    const ka = options.keepalive ?? {};
    const serverName = typeof options.tls === "object" ? options.tls.serverName : undefined;
    this.client = new InferenceServiceClient(address, options.credentials ?? channelCredentials(options.tls), {
      ...plainChannelOptions({
        keepaliveTimeMs: ka.timeMs,
        keepaliveTimeoutMs: ka.timeoutMs,
        keepalivePermitWithoutCalls: ka.permitWithoutCalls,
        maxReceiveMessageBytes: options.maxReceiveMessageBytes,
      }),
      // A restarted server is found again within about a quarter second, not grpc-js's 1 s first backoff.
      "grpc.initial_reconnect_backoff_ms": 250,
      "grpc.primary_user_agent": "expertmesh-client/0.1",
      ...(serverName === undefined ? {} : { "grpc.ssl_target_name_override": serverName, "grpc.default_authority": serverName }),
      ...options.channelOptions,
    });
  }

  /**
   * Streams a generation: yields chunks as tokens arrive; the last chunk carries the finish reason and
   * usage, which are also the generator's return value. Never retried (a retry would repeat tokens).
   * Aborting `signal` cancels the call and the server's work; the generator then throws the signal's
   * reason. Breaking out of a `for await` cancels it too.
   */
  async *generate(prompt: string, opts: GenerateOptions = {}): AsyncGenerator<TokenChunk, GenerationEnd> {
    opts.signal?.throwIfAborted();
    const call = this.client.generate({ model: this.model, prompt, sampling: sampling(opts) }, new Metadata(), {
      deadline: this.deadline(opts),
    });
    const onAbort = () => call.cancel();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    let end: GenerationEnd = { finishReason: "unspecified", usage: undefined };
    try {
      for await (const r of call as AsyncIterable<GenerateResponse>) {
        const chunk: TokenChunk = { text: r.text, tokenIds: r.tokenIds };
        if (r.finishReason) {
          end = { finishReason: finishReasonName(r.finishReason), usage: usageFromWire(r.usage) };
          chunk.finishReason = end.finishReason;
          if (end.usage) chunk.usage = end.usage;
        }
        if (chunk.tokenIds.length || chunk.text || chunk.finishReason) yield chunk;
      }
      return end;
    } catch (e) {
      opts.signal?.throwIfAborted();
      throw errorFromStatus(e as ServiceError);
    } finally {
      opts.signal?.removeEventListener("abort", onAbort);
      call.cancel();
    }
  }

  /** The whole completion in one response. Retried on UNAVAILABLE within the deadline. */
  complete(prompt: string, opts: GenerateOptions = {}): Promise<Completion> {
    const request = { model: this.model, prompt, sampling: sampling(opts) };
    return this.unary<CompleteResponse>(opts, (md, o, cb) => this.client.complete(request, md, o, cb)).then((r) => ({
      text: r.text,
      tokenIds: r.tokenIds,
      finishReason: finishReasonName(r.finishReason),
      usage: usageFromWire(r.usage),
    }));
  }

  /** Token ids (and their vocabulary strings) of `text` with the served model's tokenizer. */
  tokenize(text: string, opts: CallOptions & { addSpecialTokens?: boolean } = {}): Promise<TokenizeResponse> {
    const request = { model: this.model, text, addSpecialTokens: opts.addSpecialTokens ?? false };
    return this.unary<TokenizeResponse>(opts, (md, o, cb) => this.client.tokenize(request, md, o, cb));
  }

  /** Architecture, sizes and predictor of the served model. */
  modelInfo(opts: CallOptions = {}): Promise<ModelInfoResponse> {
    return this.unary<ModelInfoResponse>(opts, (md, o, cb) => this.client.modelInfo({ model: this.model }, md, o, cb));
  }

  close(): void {
    this.client.close();
  }

  private deadline(opts: CallOptions): number {
    const t = opts.timeoutMs ?? this.timeoutMs;
    if (!(t > 0)) throw new RangeError(`timeoutMs must be > 0, got ${t}`);
    return Date.now() + t;
  }

  /** One unary call with retries; every attempt shares the call's deadline. */
  private unary<T>(
    opts: CallOptions,
    invoke: (md: Metadata, o: { deadline: number }, cb: (err: ServiceError | null, res: T) => void) => { cancel(): void },
  ): Promise<T> {
    const deadline = this.deadline(opts);
    const once = () =>
      new Promise<T>((resolve, reject) => {
        opts.signal?.throwIfAborted();
        const onAbort = () => call.cancel();
        const call = invoke(new Metadata(), { deadline }, (err, res) => {
          opts.signal?.removeEventListener("abort", onAbort);
          if (!err) resolve(res);
          else if (opts.signal?.aborted) reject(opts.signal.reason);
          else reject(errorFromStatus(err) satisfies ExpertMeshError);
        });
        opts.signal?.addEventListener("abort", onAbort, { once: true });
      });
    return withRetries(this.retry, deadline, once, { signal: opts.signal, onRetry: this.onRetry });
  }
}

function sampling(o: SamplingParams) {
  return { maxTokens: o.maxTokens ?? 0, temperature: o.temperature, topP: o.topP, seed: o.seed, stop: o.stop ?? [] };
}
