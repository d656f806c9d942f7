// RunExperts: validates the whole request before any work (INVALID_ARGUMENT naming the field, the limit
// and the value; NOT_FOUND for an expert this shard does not own), then computes every expert in the
// compute workers: all acquires start at once, so that resident experts compute while the others load.

import { float32Tensor, InvalidArgumentError, ResourceExhaustedError, tensorToFloat32, type CallContext } from "@expertmesh/runtime";
import type { ExpertOutput, RunExpertsRequest, RunExpertsResponse } from "@expertmesh/proto";
import type { ExpertShard } from "./shard.js";

interface Work {
  readonly expertId: number;
  readonly key: number;
  readonly x: Float32Array; // [rows, D]
  readonly rows: number;
}

export function runExperts(shard: ExpertShard) {
  return async (request: RunExpertsRequest, ctx: CallContext): Promise<RunExpertsResponse> => {
    if (shard.inFlight >= shard.maxConcurrentCalls) {
      const { id, maxConcurrentCalls: limit, inFlight } = shard;
      throw new ResourceExhaustedError(
        "run_experts_calls",
        `RunExperts: shard ${id} is at its limit of ${limit} concurrent calls (max-concurrent-calls), this would be call ${inFlight + 1}`,
        { limit, value: inFlight + 1, retryAfterMs: 50 },
      );
    }
    const work = validate(shard, request);
    const leave = shard.enter();
    const computed = shard.beginCall(request.layer, work.map((w) => w.key)); // the policy sees the gate's decision
    // One failure stops the call's other work (nothing new starts); the call ends once all has stopped.
    const stop = new AbortController();
    const onAbort = (): void => stop.abort(ctx.signal.reason);
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    if (ctx.signal.aborted) onAbort();
    try {
      const D = shard.model.hiddenSize;
      const settled = await Promise.allSettled(
        work.map(async (w): Promise<ExpertOutput> => {
          try {
            const { y, wasResident } = await shard.compute(w.key, w.x, w.rows, stop.signal);
            return { expertId: w.expertId, output: float32Tensor(y, [w.rows, D]), wasResident };
          } catch (error) {
            if (!stop.signal.aborted) stop.abort(error);
            throw error;
          }
        }),
      );
      if (stop.signal.aborted) throw stop.signal.reason;
      return { layer: request.layer, outputs: settled.map((s) => (s as PromiseFulfilledResult<ExpertOutput>).value) };
    } finally {
      ctx.signal.removeEventListener("abort", onAbort);
      computed();
      leave();
    }
  };
}

function validate(shard: ExpertShard, request: RunExpertsRequest): Work[] {
  shard.checkLayer(request.layer);
  const D = shard.model.hiddenSize;
  const limit = shard.maxTokensPerCall;
  const seen = new Map<number, number>();
  const work: Work[] = [];
  let tokens = 0;
  request.inputs.forEach((input, i) => {
    const field = `inputs[${i}]`;
    const earlier = seen.get(input.expertId);
    if (earlier !== undefined) {
      const message = `duplicate expert id ${input.expertId} (also inputs[${earlier}]); at most one entry per expert`;
      throw new InvalidArgumentError(`${field}.expert_id`, message, {
        reason: "DUPLICATE_EXPERT",
        limit: 1,
        value: input.expertId,
      });
    }
    seen.set(input.expertId, i);
    const key = shard.checkOwned(request.layer, input.expertId, `${field}.expert_id`);
    const x = withLimitAndValue(() => tensorToFloat32(input.hiddenStates, `${field}.hidden_states`, { shape: [undefined, D] }));
    const rows = input.hiddenStates!.shape[0]!;
    if (rows < 1) {
      throw new InvalidArgumentError(`${field}.hidden_states.shape`, `no tokens: T_e must be at least 1, got ${rows}`, {
        reason: "TENSOR_EMPTY",
        limit: 1,
        value: rows,
      });
    }
    tokens += rows;
    if (tokens > limit) {
      const message = `too many tokens in one call: at most ${limit}, got ${tokens} up to this input`;
      throw new InvalidArgumentError(`${field}.hidden_states.shape`, message, {
        reason: "TOO_MANY_TOKENS",
        limit,
        value: tokens,
      });
    }
    work.push({ expertId: input.expertId, key, x, rows });
  });
  return work;
}

/**
 * Runs a runtime tensor check and adds its limit and value to the message (the runtime's messages
 * carry them only in ErrorInfo metadata, and a person reading the status should see them too).
 */
function withLimitAndValue<T>(check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof InvalidArgumentError) || error.limit === undefined || error.value === undefined) throw error;
    const text = error.field === "" ? error.message : error.message.slice(error.field.length + 2);
    const unit = error.reason === "TENSOR_SIZE_MISMATCH" ? " bytes" : "";
    const expected = text.includes(error.limit) ? "" : `: expected ${error.limit}${unit}`;
    throw new InvalidArgumentError(error.field, `${text}${expected}, got ${error.value}${unit}`, {
      reason: error.reason,
      limit: error.limit,
      value: error.value,
      cause: error,
    });
  }
}
