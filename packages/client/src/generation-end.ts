// How a generation ended, as the SDK reports it: the finish reason by name and the usage with its
// durations in milliseconds (the wire form is an enum and google.protobuf.Durations).
import { FinishReason, type Usage } from "@expertmesh/proto";

export type FinishReasonName = "eos" | "length" | "stop" | "cancelled" | "unspecified";

/** Token counts and the router's timings of one generation. */
export interface GenerationUsage {
  promptTokens: number;
  completionTokens: number;
  /** From the request's arrival at the router until its prefill started. */
  queueMs: number;
  /** Prefill, up to the first generated token. */
  prefillMs: number;
  /** Decode steps after the first token. */
  decodeMs: number;
  /** From arrival until the last token. */
  totalMs: number;
}

export interface GenerationEnd {
  finishReason: FinishReasonName;
  usage: GenerationUsage | undefined;
}

const FINISH: Record<number, FinishReasonName> = {
  [FinishReason.FINISH_REASON_EOS]: "eos",
  [FinishReason.FINISH_REASON_LENGTH]: "length",
  [FinishReason.FINISH_REASON_STOP_STRING]: "stop",
  [FinishReason.FINISH_REASON_CANCELLED]: "cancelled",
};

export function finishReasonName(reason: FinishReason): FinishReasonName {
  return FINISH[reason] ?? "unspecified";
}

export function usageFromWire(u: Usage | undefined): GenerationUsage | undefined {
  if (u === undefined) return undefined;
  const ms = (d: { seconds: number; nanos: number } | undefined) => (d === undefined ? 0 : d.seconds * 1000 + d.nanos / 1e6);
  return {
    promptTokens: u.promptTokens,
    completionTokens: u.completionTokens,
    queueMs: ms(u.queueDuration),
    prefillMs: ms(u.prefillDuration),
    decodeMs: ms(u.decodeDuration),
    totalMs: ms(u.totalDuration),
  };
}
