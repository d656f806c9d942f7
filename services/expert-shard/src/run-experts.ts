// RunExperts: validates the whole request before any work (INVALID_ARGUMENT naming the field, the limit
// and the value; NOT_FOUND for an expert this shard does not own), then computes every expert in the
// compute workers: all acquires start at once, then one message per compute worker runs the call's
// experts (one thread hop per call, not one per expert). DispatchExperts (dispatch-experts.ts) runs
// each message of its stream through the same validate / computeCall.

import { float32Tensor, InvalidArgumentError, ResourceExhaustedError, tensorToFloat32, type CallContext } from "@expertmesh/runtime";
import type { ExpertInput, ExpertOutput, RunExpertsRequest, RunExpertsResponse } from "@expertmesh/proto";
import type { ExpertShard } from "./shard.js";

export interface Work {
  readonly expertId: number;
  readonly key: number;
  readonly x: Float32Array; // [rows, D]
  readonly rows: number;
}

export function runExperts(shard: ExpertShard) {
  return async (request: RunExpertsRequest, ctx: CallContext): Promise<RunExpertsResponse> => {
    admitCall(shard);
    const work = validate(shard, request.layer, request.inputs);
    return { layer: request.layer, outputs: await computeCall(shard, request.layer, work, ctx.signal) };
  };
}

/** RESOURCE_EXHAUSTED at once when the shard runs its limit of calls (unary and streamed together). */
export function admitCall(shard: ExpertShard): void {
  if (shard.inFlight >= shard.maxConcurrentCalls) {
    const { id, maxConcurrentCalls: limit, inFlight } = shard;
    throw new ResourceExhaustedError(
      "run_experts_calls",
      `RunExperts: shard ${id} is at its limit of ${limit} concurrent calls (max-concurrent-calls), this would be call ${inFlight + 1}`,
      { limit, value: inFlight + 1, retryAfterMs: 50 },
    );
  }
}

/**
 * Computes a validated call: all of its experts in one message per compute worker (shard.computeMany).
 * The policy sees the gate's decision first (beginCall). Aborting `signal` stops what has not started.
 */
export async function computeCall(shard: ExpertShard, layer: number, work: readonly Work[], signal: AbortSignal): Promise<ExpertOutput[]> {
  const leave = shard.enter();
  const computed = shard.beginCall(
    layer,
    work.map((w) => w.key),
  );
  try {
    const D = shard.model.hiddenSize;
    const ys = await shard.computeMany(work, signal);
    if (signal.aborted) throw signal.reason;
    return ys.map(({ y, wasResident }, i) => ({ expertId: work[i]!.expertId, output: float32Tensor(y, [work[i]!.rows, D]), wasResident }));
  } finally {
    computed();
    leave();
  }
}

/** Checks a call's layer and inputs before any work (INVALID_ARGUMENT / NOT_FOUND naming the field). */
export function validate(shard: ExpertShard, layer: number, inputs: readonly ExpertInput[]): Work[] {
  shard.checkLayer(layer);
  const D = shard.model.hiddenSize;
  const limit = shard.maxTokensPerCall;
  const seen = new Map<number, number>();
  const work: Work[] = [];
  let tokens = 0;
  inputs.forEach((input, i) => {
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
    const key = shard.checkOwned(layer, input.expertId, `${field}.expert_id`);
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
