// Message-size, stream and keepalive limits, set explicitly on every server and channel (grpc-js's
// defaults: 4 MiB receive, unlimited send, unlimited streams, keepalive off).

import type { ChannelOptions } from "@grpc/grpc-js";
import { plainChannelOptions, type ChannelLimits } from "./channel-limits.js";
import { tracingInterceptor } from "./telemetry-rpc.js";

const MiB = 1024 * 1024;

export interface ServerLimits {
  /** Largest request message accepted; larger ones fail with RESOURCE_EXHAUSTED before any handler runs. */
  readonly maxReceiveMessageBytes: number;
  /** Largest response message sent; a handler returning a larger one fails with RESOURCE_EXHAUSTED. */
  readonly maxSendMessageBytes: number;
  /** Concurrent calls per connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS); clients queue beyond it. */
  readonly maxConcurrentStreams: number;
  /** Interval of the server's keepalive pings on each connection. */
  readonly keepaliveTimeMs: number;
  /** How long a keepalive ping may go unanswered before the connection is dropped. */
  readonly keepaliveTimeoutMs: number;
  /** Whether clients may ping while they have no call open (grpc-js servers do not police pings; set for parity). */
  readonly keepalivePermitWithoutCalls: boolean;
  /** Close a connection idle this long (no calls); undefined: never. */
  readonly maxConnectionIdleMs?: number | undefined;
  /** Close (gracefully: GOAWAY) a connection this old, so clients rebalance across replicas; undefined: never. */
  readonly maxConnectionAgeMs?: number | undefined;
  /** After max connection age, how long running calls may go on before the connection is cut; undefined: forever. */
  readonly maxConnectionAgeGraceMs?: number | undefined;
}

/** Sized for RunExperts prefill batches: 32 MiB holds 2,048 tokens x 4,096 hidden float32 values. */
export const DEFAULT_SERVER_LIMITS: ServerLimits = Object.freeze({
  maxReceiveMessageBytes: 32 * MiB,
  maxSendMessageBytes: 32 * MiB,
  maxConcurrentStreams: 256,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  keepalivePermitWithoutCalls: true,
  maxConnectionIdleMs: 300_000,
});

export { DEFAULT_CHANNEL_LIMITS, type ChannelLimits } from "./channel-limits.js";

/** grpc-js server options for `limits` (defaults filled in). */
export function serverOptions(limits: Partial<ServerLimits> = {}): ChannelOptions {
  const l = { ...DEFAULT_SERVER_LIMITS, ...defined(limits) };
  const options: ChannelOptions = {
    "grpc.max_receive_message_length": l.maxReceiveMessageBytes,
    "grpc.max_send_message_length": l.maxSendMessageBytes,
    "grpc.max_concurrent_streams": l.maxConcurrentStreams,
    "grpc.keepalive_time_ms": l.keepaliveTimeMs,
    "grpc.keepalive_timeout_ms": l.keepaliveTimeoutMs,
    "grpc.keepalive_permit_without_calls": l.keepalivePermitWithoutCalls ? 1 : 0,
  };
  if (l.maxConnectionIdleMs !== undefined) options["grpc.max_connection_idle_ms"] = l.maxConnectionIdleMs;
  if (l.maxConnectionAgeMs !== undefined) options["grpc.max_connection_age_ms"] = l.maxConnectionAgeMs;
  if (l.maxConnectionAgeGraceMs !== undefined) options["grpc.max_connection_age_grace_ms"] = l.maxConnectionAgeGraceMs;
  return options;
}

/**
 * grpc-js client options for `limits` (defaults filled in), with the tracing interceptor: each call
 * gets a CLIENT span and carries the trace context (a no-op until initTelemetry turns tracing on).
 */
export function channelOptions(limits: Partial<ChannelLimits> = {}): ChannelOptions {
  return { interceptors: [tracingInterceptor], ...plainChannelOptions(limits) };
}

function defined<T extends object>(partial: Partial<T>): Partial<T> {
  return Object.fromEntries(Object.entries(partial).filter(([, value]) => value !== undefined)) as Partial<T>;
}
