// The client side of limits.ts without the tracing interceptor, so that the SDK's public face
// (public.ts) sets the same explicit limits without loading OpenTelemetry.
import type { ChannelOptions } from "@grpc/grpc-js";

const MiB = 1024 * 1024;

export interface ChannelLimits {
  /** Largest response message accepted. */
  readonly maxReceiveMessageBytes: number;
  /** Largest request message sent; larger ones fail locally with RESOURCE_EXHAUSTED. */
  readonly maxSendMessageBytes: number;
  /** Interval of the client's keepalive pings (a dead peer is noticed within time + timeout). */
  readonly keepaliveTimeMs: number;
  /** How long a ping may go unanswered before the connection is considered dead. */
  readonly keepaliveTimeoutMs: number;
  /** Ping even with no call open, so that an idle channel to a shard notices its death early. */
  readonly keepalivePermitWithoutCalls: boolean;
  /** Longest wait between reconnection attempts. */
  readonly maxReconnectBackoffMs: number;
}

export const DEFAULT_CHANNEL_LIMITS: ChannelLimits = Object.freeze({
  maxReceiveMessageBytes: 32 * MiB,
  maxSendMessageBytes: 32 * MiB,
  keepaliveTimeMs: 30_000,
  keepaliveTimeoutMs: 10_000,
  keepalivePermitWithoutCalls: true,
  maxReconnectBackoffMs: 10_000,
});

/** grpc-js client options for `limits` (defaults filled in), without interceptors. */
export function plainChannelOptions(limits: Partial<ChannelLimits> = {}): ChannelOptions {
  const l = { ...DEFAULT_CHANNEL_LIMITS, ...defined(limits) };
  return {
    "grpc.max_receive_message_length": l.maxReceiveMessageBytes,
    "grpc.max_send_message_length": l.maxSendMessageBytes,
    "grpc.keepalive_time_ms": l.keepaliveTimeMs,
    "grpc.keepalive_timeout_ms": l.keepaliveTimeoutMs,
    "grpc.keepalive_permit_without_calls": l.keepalivePermitWithoutCalls ? 1 : 0,
    "grpc.max_reconnect_backoff_ms": l.maxReconnectBackoffMs,
  };
}

function defined<T extends object>(partial: Partial<T>): Partial<T> {
  return Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined)) as Partial<T>;
}
