// DispatchExperts: the router's long-lived stream. Each request message is one call (validated and
// computed exactly as a unary RunExperts: run-experts.ts) with its own deadline (timeout_ms from
// receipt) and cancellation (a message with cancel set); each answer carries the call id, and a call
// that fails answers its status in the message (google.rpc.Status) while the stream goes on. The
// stream ends when the router half-closes and its calls have answered, when it is cancelled (every
// running call stops), or when the shard drains (calls already running answer first; new ones answer
// UNAVAILABLE, so that the router moves them to a replica).
//
//   router ──[call_id, step_id, layer, inputs, timeout_ms]──▶ validate → computeCall ──[call_id, outputs | error]──▶ router

import {
  CancelledError,
  DeadlineExceededError,
  InvalidArgumentError,
  toRpcStatus,
  UnavailableError,
  withSpan,
  withTraceparent,
  type CallContext,
} from "@expertmesh/runtime";
import type { BidiStreamCall } from "@expertmesh/runtime";
import type { DispatchExpertsRequest, DispatchExpertsResponse, ExpertOutput } from "@expertmesh/proto";
import { admitCall, computeCall, validate } from "./run-experts.js";
import type { ExpertShard } from "./shard.js";

export function dispatchExperts(shard: ExpertShard) {
  return async (call: BidiStreamCall<DispatchExpertsRequest, DispatchExpertsResponse>, ctx: CallContext): Promise<void> => {
    const running = new Map<number, AbortController>();
    const done = new Set<Promise<void>>();
    const answer = (m: DispatchExpertsRequest, r: Partial<DispatchExpertsResponse>): Promise<void> =>
      call.send({ callId: m.callId, layer: m.layer, outputs: [], error: undefined, ...r }).catch(() => {}); // the stream has ended
    // The stream's end stops every call running on it (one listener for the stream, not one per call).
    const onStreamEnd = (): void => {
      for (const stop of running.values()) stop.abort(ctx.signal.reason);
    };
    ctx.signal.addEventListener("abort", onStreamEnd, { once: true });
    const runOne = async (m: DispatchExpertsRequest): Promise<void> => {
      const stop = new AbortController();
      if (ctx.signal.aborted) stop.abort(ctx.signal.reason);
      const timer = setTimeout(
        () => stop.abort(new DeadlineExceededError(`DispatchExperts call ${m.callId}: deadline exceeded (${m.timeoutMs} ms)`)),
        m.timeoutMs,
      );
      running.set(m.callId, stop);
      try {
        if (call.draining.aborted)
          throw new UnavailableError(`shard ${shard.id} is draining; DispatchExperts call refused`, { reason: "DRAINING" });
        admitCall(shard);
        const work = validate(shard, m.layer, m.inputs);
        // Each call of a traced step is a span of the router's trace (the stream itself belongs to
        // whichever trace opened it); a call without a traceparent (not traced) costs no span.
        const compute = (): Promise<ExpertOutput[]> => computeCall(shard, m.layer, work, stop.signal);
        const outputs = m.traceparent
          ? await withTraceparent(m.traceparent, () =>
              withSpan(
                "expert-shard.call",
                { "expertmesh.layer": m.layer, "expertmesh.experts": work.length, "expertmesh.step": m.stepId },
                compute,
              ),
            )
          : await compute();
        await answer(m, { outputs });
      } catch (error) {
        // A call stopped by its deadline or cancel answers that, whatever the work threw on the way out.
        await answer(m, { error: toRpcStatus(stop.signal.aborted ? stop.signal.reason : error) });
      } finally {
        clearTimeout(timer);
        running.delete(m.callId);
      }
    };
    const onDrain = (): void => {
      // Nothing new is accepted; the loop below ends once the running calls have answered.
      if (running.size === 0) drained();
    };
    let drained: () => void = () => {};
    const drainedP = new Promise<void>((resolve) => (drained = resolve));
    call.draining.addEventListener("abort", onDrain, { once: true });
    try {
      const loop = (async () => {
        for await (const m of call.requests) {
          if (m.cancel) {
            running.get(m.callId)?.abort(new CancelledError(`DispatchExperts call ${m.callId} cancelled by the router`));
            continue;
          }
          if (m.callId < 1 || running.has(m.callId)) {
            const reason = m.callId < 1 ? "must be at least 1" : "is already running on this stream";
            void answer(m, {
              error: toRpcStatus(new InvalidArgumentError("call_id", `call id ${m.callId} ${reason}`, { limit: 1, value: m.callId })),
            });
            continue;
          }
          if (!(m.timeoutMs >= 1)) {
            void answer(m, {
              error: toRpcStatus(
                new InvalidArgumentError("timeout_ms", `every call needs a deadline: timeout_ms must be at least 1, got ${m.timeoutMs}`, {
                  limit: 1,
                  value: m.timeoutMs,
                }),
              ),
            });
            continue;
          }
          const p = runOne(m).finally(() => {
            done.delete(p);
            if (call.draining.aborted && running.size === 0) drained();
          });
          done.add(p);
        }
      })();
      await Promise.race([loop, drainedP]);
      await Promise.all(done);
    } finally {
      call.draining.removeEventListener("abort", onDrain);
      ctx.signal.removeEventListener("abort", onStreamEnd);
    }
  };
}
