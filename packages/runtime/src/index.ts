// @expertmesh/runtime: what every ExpertMesh service shares. A service's main.ts is
//   const config = myConfig.parse(process.argv.slice(2), process.env);
//   initTelemetry({ serviceName: "my-service" });   // tracing from the environment (telemetry-init.ts)
//   await createServer({ name, services: [service(MyServiceService, handlers)], port: config.port, metricsPort: config.metricsPort });

export { createServer, type DrainResult, type Server, type ServerOptions } from "./server.js";
export { DEFAULT_CONNECTION_LIMITS, type ConnectionLimits } from "./listener.js";
export { CLIENT_AUTH_MODES, certificateNames, namesAllowed, type ClientAuth, type ServerTlsOptions } from "./listener-tls.js";
export { SERVER_CONFIG_KEYS, serverSecurity, upstreamTls, type ServerConfigValues, type ServerSecurity } from "./server-config.js";
export {
  channelCredentials,
  channelCredentialsFromFiles,
  readClientTls,
  type ClientTlsFiles,
  type Pem,
  type TlsOptions,
} from "./tls-credentials.js";
export { createLocalPki, hasOpenssl, loopbackSans, type LocalPki, type PkiFiles, type PkiIdentity } from "./tls-pki.js";
export {
  service,
  serviceName,
  type BidiStreamCall,
  type BidiStreamingHandler,
  type HandlerOf,
  type ServerStreamingHandler,
  type ServiceDefinitionLike,
  type ServiceImplementation,
  type ServiceRegistration,
  type UnaryHandler,
} from "./service.js";
export type { CallContext } from "./call-context.js";
export { HealthRegistry, OVERALL } from "./health.js";
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
export {
  errorFromRpcStatus,
  errorFromStatus,
  readStatusDetails,
  toRpcStatus,
  STATUS_DETAILS_KEY,
  toStatus,
  type StatusDetails,
  type StatusLike,
} from "./error-status.js";
export {
  channelOptions,
  DEFAULT_CHANNEL_LIMITS,
  DEFAULT_SERVER_LIMITS,
  serverOptions,
  type ChannelLimits,
  type ServerLimits,
} from "./limits.js";
export { waitForServing, type WaitForServingOptions } from "./client.js";
export {
  ConfigError,
  defineConfig,
  type ConfigDefinition,
  type ConfigValues,
  type KeySpec,
  type ValueOf,
} from "./config.js";
export { DTYPE_BYTES, float32Tensor, tensorToFloat32, validateTensor, type TensorExpectation } from "./tensor.js";
export { jsonLogger, silentLogger, type LogFields, type Logger } from "./logger.js";
export { NATS_CONFIG_KEYS, natsConnectionOptions, type NatsConfigValues } from "./nats-config.js";
export { createNatsLink, type NatsLink, type NatsLinkOptions, type NatsLinkStats } from "./nats-link.js";
export { hintSubject, HINTS_ALL, shardSubject, SHARDS_ALL } from "./nats-subjects.js";
export {
  flushTelemetry,
  initTelemetry,
  TRACE_FILE_ENV,
  type Telemetry,
  type TelemetryOptions,
} from "./telemetry-init.js";
export {
  contextFromTraceparent,
  currentTraceparent,
  traceMetadata,
  withSpan,
  withTraceparent,
  type WithSpanOptions,
} from "./telemetry-trace.js";
export type { Attributes as SpanAttributes, Span as TraceSpan } from "@opentelemetry/api";
export { tracingInterceptor } from "./telemetry-rpc.js";
export type { SpanRecord } from "./telemetry-file.js";
export {
  defaultMetrics,
  MeshMetrics,
  RPC_DURATION_BUCKETS,
  type CacheTierSnapshot,
  type MeshMetricsOptions,
} from "./metrics-registry.js";
export { startMetricsServer, type MetricsServer, type MetricsServerOptions } from "./metrics-server.js";
export {
  callDeadline,
  callError,
  openBidi,
  unaryCall,
  type BidiHandlers,
  type BidiStream,
  type UnaryCallOptions,
} from "./promise-client.js";
