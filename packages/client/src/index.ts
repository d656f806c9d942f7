// @expertmesh/client: the public InferenceService over gRPC (see README.md).
export {
  ExpertMeshClient,
  type CallOptions,
  type ClientOptions,
  type Completion,
  type GenerateOptions,
  type KeepaliveOptions,
  type SamplingParams,
  type TokenChunk,
} from "./client.js";
export type { FinishReasonName, GenerationEnd, GenerationUsage } from "./generation-end.js";
export { channelCredentials, type Pem, type TlsOptions } from "@expertmesh/runtime/public";
export { backoffMs, DEFAULT_RETRY_POLICY, isRetryable, retryPolicy, type RetryEvent, type RetryPolicy } from "./retry.js";
export {
  ExpertMeshError,
  InvalidArgumentError,
  ResourceExhaustedError,
  UnavailableError,
  DeadlineExceededError,
  NotFoundError,
  CancelledError,
  InternalError,
  StatusError,
} from "@expertmesh/runtime/public";
