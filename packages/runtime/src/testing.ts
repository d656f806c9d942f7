// Shared by this package's tests (not exported from index.ts): the real ExpertShardService with a
// trivial but real implementation (each expert doubles its input; empty caches report zeros), and a
// promise wrapper for unary client calls.

import {
  CacheTier,
  ExpertShardServiceClient,
  ExpertShardServiceService,
  PrefetchPriority,
  type RunExpertsRequest,
} from "@expertmesh/proto";
import { credentials, Metadata, type CallOptions, type ClientUnaryCall, type ServiceError } from "@grpc/grpc-js";
import type { CallContext } from "./call-context.js";
import { channelOptions, type ChannelLimits } from "./limits.js";
import { InvalidArgumentError, NotFoundError } from "./errors.js";
import { toRpcStatus } from "./error-status.js";
import { service, type ServiceRegistration } from "./service.js";
import { float32Tensor, tensorToFloat32 } from "./tensor.js";

export const TEST_LAYERS = 4;
export const TEST_EXPERTS = 8;
export const TEST_HIDDEN = 16;

export interface TestShardHooks {
  /** Runs before RunExperts computes: may wait (a slow call) or throw (an error under test). */
  beforeRunExperts?: (request: RunExpertsRequest, ctx: CallContext) => Promise<void> | void;
}

export function testShardService(hooks: TestShardHooks = {}): ServiceRegistration {
  const runExperts = async (request: RunExpertsRequest, ctx: CallContext) => {
    await hooks.beforeRunExperts?.(request, ctx);
    checkLayer(request.layer);
    const outputs = request.inputs.map((input, i) => {
      checkExpert(request.layer, input.expertId);
      const x = tensorToFloat32(input.hiddenStates, `inputs[${i}].hidden_states`, { shape: [undefined, TEST_HIDDEN] });
      return {
        expertId: input.expertId,
        output: float32Tensor(
          x.map((v) => 2 * v),
          input.hiddenStates!.shape,
        ),
        wasResident: true,
      };
    });
    return { layer: request.layer, outputs };
  };
  return service(ExpertShardServiceService, {
    runExperts,
    // Each message is one call, answered in order of completion; a failed call answers its status.
    dispatchExperts: async (call, ctx) => {
      const running: Promise<void>[] = [];
      for await (const m of call.requests) {
        if (m.cancel) continue;
        running.push(
          runExperts({ layer: m.layer, inputs: m.inputs }, ctx).then(
            (r) => call.send({ callId: m.callId, layer: m.layer, outputs: r.outputs, error: undefined }),
            (e: Error) => call.send({ callId: m.callId, layer: m.layer, outputs: [], error: toRpcStatus(e) }),
          ),
        );
      }
      await Promise.all(running);
    },
    prefetch: (request) => {
      checkLayer(request.layer);
      for (const id of request.expertIds) checkExpert(request.layer, id);
      if (request.priority === PrefetchPriority.UNRECOGNIZED) throw new InvalidArgumentError("priority", "unknown priority");
      return { queuedExpertIds: [], residentExpertIds: [...request.expertIds], droppedExpertIds: [] };
    },
    cacheStats: () => ({
      shardId: "test",
      tiers: [CacheTier.CACHE_TIER_DEVICE, CacheTier.CACHE_TIER_HOST].map((tier) => ({
        tier,
        resident: [],
        hits: 0,
        misses: 0,
        loads: 0,
        prefetchLoads: 0,
        wastedPrefetches: 0,
        evictions: 0,
        bytesLoaded: 0,
        usedBytes: 0,
        budgetBytes: 0,
      })),
    }),
  });
}

function checkLayer(layer: number): void {
  if (layer >= TEST_LAYERS) throw new InvalidArgumentError("layer", "out of range", { limit: TEST_LAYERS - 1, value: layer });
}

function checkExpert(layer: number, expertId: number): void {
  if (expertId >= TEST_EXPERTS) throw new NotFoundError("expert", `${layer}/${expertId}`, { reason: "EXPERT_NOT_OWNED" });
}

export function testShardClient(address: string, limits: Partial<ChannelLimits> = {}): ExpertShardServiceClient {
  return new ExpertShardServiceClient(address, credentials.createInsecure(), channelOptions(limits));
}

type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

/** Calls a unary method of a generated client and returns a promise (rejecting with the ServiceError). */
export function unary<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, options: Partial<CallOptions> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    method(request, new Metadata(), options, (error, response) => (error ? reject(error) : resolve(response)));
  });
}
