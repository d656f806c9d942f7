// Retries of unary calls: only on UNAVAILABLE (the server did not take the call: not listening,
// draining, no live shard), with exponential backoff and full jitter, honouring the server's
// google.rpc.RetryInfo, and never past the call's deadline. Streams are never retried here: once a
// token has reached the caller, a second attempt would repeat it.
import { status } from "@grpc/grpc-js";
import { ExpertMeshError, UnavailableError } from "@expertmesh/runtime/public";
import { setTimeout as sleep } from "node:timers/promises";

export interface RetryPolicy {
  /** Attempts in all, the first included; 1 turns retries off. Default 4. */
  readonly maxAttempts: number;
  /** Backoff cap of the first retry; each retry doubles it (`multiplier`). Default 100 ms. */
  readonly initialBackoffMs: number;
  /** Largest backoff cap. Default 2,000 ms. */
  readonly maxBackoffMs: number;
  /** Growth of the backoff cap per retry. Default 2. */
  readonly multiplier: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 4,
  initialBackoffMs: 100,
  maxBackoffMs: 2_000,
  multiplier: 2,
});

/** What `onRetry` is told before each wait. */
export interface RetryEvent {
  /** The attempt that failed (1 = the first call). */
  readonly attempt: number;
  /** How long the client waits before the next attempt. */
  readonly delayMs: number;
  readonly error: ExpertMeshError;
}

/** Checks a policy's fields; the error names the field, the rule and the value. */
export function retryPolicy(partial: Partial<RetryPolicy> = {}): RetryPolicy {
  const p = { ...DEFAULT_RETRY_POLICY, ...Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) };
  const check = (name: keyof RetryPolicy, ok: boolean, rule: string) => {
    if (!ok) throw new RangeError(`retry.${name} must be ${rule}, got ${p[name]}`);
  };
  check("maxAttempts", Number.isInteger(p.maxAttempts) && p.maxAttempts >= 1, "an integer >= 1");
  check("initialBackoffMs", Number.isFinite(p.initialBackoffMs) && p.initialBackoffMs >= 0, "a finite number >= 0");
  check("maxBackoffMs", Number.isFinite(p.maxBackoffMs) && p.maxBackoffMs >= p.initialBackoffMs, "a finite number >= initialBackoffMs");
  check("multiplier", Number.isFinite(p.multiplier) && p.multiplier >= 1, "a finite number >= 1");
  return Object.freeze(p);
}

/**
 * Wait before retry number `retry` (1 = the first retry): uniform in [0, cap] with
 * cap = min(initial · multiplier^(retry-1), max) (full jitter, so that clients that failed together do
 * not come back together), and never shorter than the server's RetryInfo delay.
 */
export function backoffMs(
  policy: RetryPolicy,
  retry: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const cap = Math.min(policy.initialBackoffMs * policy.multiplier ** (retry - 1), policy.maxBackoffMs);
  return Math.max(random() * cap, retryAfterMs ?? 0);
}

/** Whether a failed unary call may be tried again: UNAVAILABLE only. */
export function isRetryable(error: ExpertMeshError): boolean {
  return error.code === status.UNAVAILABLE;
}

/**
 * Runs `attempt` until it succeeds, fails with a non-retryable error, runs out of attempts, or the
 * next wait would end past `deadline` (then the last error is thrown). An abort during a wait rejects
 * with the signal's reason.
 */
export async function withRetries<T>(
  policy: RetryPolicy,
  deadline: number,
  attempt: () => Promise<T>,
  opts: { signal?: AbortSignal | undefined; onRetry?: ((e: RetryEvent) => void) | undefined } = {},
): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (e) {
      if (!(e instanceof ExpertMeshError) || !isRetryable(e) || n >= policy.maxAttempts) throw e;
      const delayMs = backoffMs(policy, n, e instanceof UnavailableError ? e.retryAfterMs : undefined);
      if (Date.now() + delayMs >= deadline) throw e;
      opts.onRetry?.({ attempt: n, delayMs, error: e });
      await sleep(delayMs, undefined, { signal: opts.signal }).catch((abort: unknown) => {
        throw opts.signal?.aborted ? opts.signal.reason : abort;
      });
    }
  }
}
