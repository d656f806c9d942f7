// @expertmesh/runtime/public: the client-side face of the runtime, what the SDK (packages/client) and
// other clients use: the error classes and the status mapping, TLS channel credentials, and channel
// limits. It loads no server code, no NATS, no OpenTelemetry and no prom-client (nats.js splits mod.ts
// from internal_mod.ts the same way); the full index re-exports all of it for services.
export {
  CancelledError,
  DeadlineExceededError,
  ERROR_DOMAIN,
  ExpertMeshError,
  InternalError,
  InvalidArgumentError,
  isErrorReason,
  NotFoundError,
  ResourceExhaustedError,
  StatusError,
  UnavailableError,
  type ExpertMeshErrorOptions,
  type Scalar,
} from "./errors.js";
export { errorFromStatus, readStatusDetails, STATUS_DETAILS_KEY, type StatusDetails, type StatusLike } from "./error-status.js";
export { channelCredentials, type Pem, type TlsOptions } from "./tls-credentials.js";
export { DEFAULT_CHANNEL_LIMITS, plainChannelOptions, type ChannelLimits } from "./channel-limits.js";
