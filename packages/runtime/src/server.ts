// createServer: the boilerplate every ExpertMesh service shares, once. It binds a grpc-js server with
// explicit limits, adds grpc.health.v1, wraps every handler (handlers.ts), and drains gracefully:
// health → NOT_SERVING, new calls refused with UNAVAILABLE (reason DRAINING), running calls finish
// (bounded by the drain timeout, then aborted), health watches end, tryShutdown, forceShutdown.
// Health calls are tracked apart: they are answered (NOT_SERVING) while the server drains.
// Every application RPC is traced and counted (telemetry-rpc.ts); with `metricsPort` the server also
// answers plaintext HTTP /metrics, /healthz and /livez (metrics-server.ts), closed once it has stopped.

import { Server as GrpcServer, type ServerCredentials } from "@grpc/grpc-js";
import { ServingStatus } from "@expertmesh/proto";
import { CallTracker } from "./call-tracker.js";
import { listen, type ConnectionLimits, type Listener } from "./listener.js";
import type { ServerTlsOptions } from "./listener-tls.js";
import { CancelledError } from "./errors.js";
import { bindService } from "./handlers.js";
import { decodingDefinition } from "./request-decoding.js";
import { healthService, HealthRegistry, OVERALL } from "./health.js";
import { serverOptions, type ServerLimits } from "./limits.js";
import { jsonLogger, type Logger } from "./logger.js";
import { defaultMetrics, type MeshMetrics } from "./metrics-registry.js";
import { startMetricsServer, type MetricsServer } from "./metrics-server.js";
import { flushTelemetry } from "./telemetry-init.js";
import { rpcObserver } from "./telemetry-rpc.js";
import { serviceName, type ServiceRegistration } from "./service.js";

export interface ServerOptions {
  /** Name of the process in logs, e.g. "expert-shard-0". */
  readonly name: string;
  /** Services to serve (build each with `service(definition, handlers)`); health is added. */
  readonly services: readonly ServiceRegistration[];
  /**
   * Services that bring their own grpc-js handlers and are served as they are, outside the wrappers,
   * limits of calls and drain tracking (gRPC server reflection): called once with the grpc-js server.
   */
  readonly addRawServices?: (server: Pick<GrpcServer, "addService">) => void;
  /** Interface to listen on; default "127.0.0.1" (set "0.0.0.0" or "::" in a container). */
  readonly host?: string;
  /** Port; default 0, any free port (read it back from `port`). */
  readonly port?: number;
  readonly limits?: Partial<ServerLimits>;
  /** Connection cap, TLS handshake timeout, ping policing (listener.ts). */
  readonly connections?: Partial<ConnectionLimits>;
  /** TLS / mTLS from certificate files, reloaded when they change; default: plaintext. */
  readonly tls?: ServerTlsOptions | undefined;
  /**
   * Ready-made grpc-js credentials, bound by grpc-js itself: no connection cap, ping policing or reload.
   * For tests of other credentials; services use `tls`.
   */
  readonly credentials?: ServerCredentials;
  /** How long a drain waits for running calls before aborting them; default 30 s. */
  readonly drainTimeoutMs?: number;
  /** Signals that start a drain (a second one forces shutdown); default SIGTERM and SIGINT; [] for none. */
  readonly signals?: readonly NodeJS.Signals[];
  /** Whether services report SERVING at once; false leaves them NOT_SERVING until `health.set`. Default true. */
  readonly serving?: boolean;
  readonly logger?: Logger;
  /** Port of the plaintext HTTP /metrics, /healthz (overall health) and /livez endpoint; 0: any free port; undefined: none. */
  readonly metricsPort?: number | undefined;
  /** Interface of the metrics endpoint; default: `host`. */
  readonly metricsHost?: string;
  /** Where RPC metrics are recorded and what /metrics serves; default: the process's `defaultMetrics()`. */
  readonly metrics?: MeshMetrics;
}

export interface DrainResult {
  /** Calls running when the drain began. */
  readonly inFlightAtStart: number;
  /** Calls still running at the drain timeout, whose signals were aborted. */
  readonly abandoned: number;
  /** Whether forceShutdown had to cut connections. */
  readonly forced: boolean;
  readonly durationMs: number;
}

export interface Server {
  readonly name: string;
  readonly host: string;
  /** Port bound (the real one when 0 was asked). */
  readonly port: number;
  /** "host:port", for clients. */
  readonly address: string;
  /** Port of the HTTP metrics endpoint (the real one when 0 was asked); undefined when not started. */
  readonly metricsPort: number | undefined;
  /** The registry that this server's RPCs are recorded in; add service metrics to it. */
  readonly metrics: MeshMetrics;
  /** Serving statuses; `health.set(serviceName, status)` changes one. */
  readonly health: HealthRegistry;
  /** Application calls running now (health calls not counted). */
  readonly inFlight: number;
  /** Settles once the server has stopped (drained or forced), however that was started (e.g. SIGTERM): close NATS etc. then. */
  readonly stopped: Promise<DrainResult>;
  /** Drains and stops; idempotent (a second call returns the first's promise). */
  drain(options?: { timeoutMs?: number }): Promise<DrainResult>;
  /** Stops at once: cuts connections, aborts running calls. */
  forceShutdown(): void;
}

export async function createServer(options: ServerOptions): Promise<Server> {
  const logger = options.logger ?? jsonLogger(options.name);
  const host = options.host ?? "127.0.0.1";
  const drainTimeoutMs = options.drainTimeoutMs ?? 30_000;
  const health = new HealthRegistry();
  const calls = new CallTracker(); // application calls: refused and awaited on drain
  const healthCalls = new CallTracker(); // health calls: served while draining, ended after
  const grpcServer = new GrpcServer(serverOptions(options.limits));
  const metrics = options.metrics ?? defaultMetrics();
  const observer = rpcObserver(metrics);

  const names = new Set<string>();
  for (const registration of options.services) {
    const name = registration.name ?? serviceName(registration.definition);
    if (names.has(name)) throw new TypeError(`service ${name} registered twice`);
    names.add(name);
    grpcServer.addService(decodingDefinition(registration.definition), bindService(registration, calls, logger, observer));
  }
  options.addRawServices?.(grpcServer);
  const healthRegistration = healthService(health);
  grpcServer.addService(decodingDefinition(healthRegistration.definition), bindService(healthRegistration, healthCalls, logger));
  const initial = options.serving === false ? ServingStatus.NOT_SERVING : ServingStatus.SERVING;
  for (const name of [OVERALL, ...names]) health.set(name, initial);

  let listener: Listener | undefined;
  let port: number;
  if (options.credentials !== undefined) {
    if (options.tls !== undefined) throw new TypeError("createServer: give either tls or credentials, not both");
    port = await bind(grpcServer, host, options.port ?? 0, options.credentials);
  } else {
    listener = await listen(grpcServer, { host, port: options.port ?? 0, tls: options.tls, limits: options.connections, logger, metrics });
    port = listener.port;
  }
  const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  let metricsServer: MetricsServer | undefined;
  if (options.metricsPort !== undefined) {
    try {
      metricsServer = await startMetricsServer({
        port: options.metricsPort,
        host: options.metricsHost ?? host,
        metrics,
        healthy: () => health.get(OVERALL) === ServingStatus.SERVING,
      });
    } catch (error) {
      grpcServer.forceShutdown();
      listener?.close();
      throw error;
    }
  }
  logger.info("serving", { address, services: [...names], ...(metricsServer ? { metrics: `${metricsServer.url}/metrics` } : {}) });

  let draining: Promise<DrainResult> | undefined;
  let markStopped!: (result: DrainResult) => void;
  const stopped = new Promise<DrainResult>((resolve) => (markStopped = resolve));
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  const onSignal = (signal: NodeJS.Signals): void => {
    if (draining === undefined) {
      logger.info("signal received, draining", { signal });
      void server.drain();
    } else {
      logger.warn("second signal received, forcing shutdown", { signal });
      server.forceShutdown();
    }
  };
  for (const signal of signals) process.on(signal, onSignal);
  const removeSignalHandlers = (): void => {
    for (const signal of signals) process.removeListener(signal, onSignal);
  };

  const drain = async (timeoutMs: number): Promise<DrainResult> => {
    const started = Date.now();
    const inFlightAtStart = calls.size;
    health.setAll(ServingStatus.NOT_SERVING);
    calls.startDraining();
    logger.info("draining", { inFlight: inFlightAtStart, timeoutMs });
    const idle = await calls.idle(timeoutMs);
    const abandoned = idle ? 0 : calls.size;
    if (!idle) {
      logger.warn("drain timeout: aborting running calls", { abandoned });
      calls.abortAll(new CancelledError("server shutting down", { reason: "SHUTTING_DOWN" }));
    }
    health.close(); // health watches end with OK after sending NOT_SERVING
    // Aborted handlers get a moment to send their status; then connections are cut.
    const graceMs = Math.max(1_000, timeoutMs - (Date.now() - started));
    listener?.close(); // no new connections from here on (until now they got NOT_SERVING / UNAVAILABLE DRAINING)
    const closed = await tryShutdown(grpcServer, graceMs);
    if (!closed) grpcServer.forceShutdown();
    listener?.destroyAll();
    removeSignalHandlers();
    await Promise.all([metricsServer?.close(), flushTelemetry()]);
    const result = { inFlightAtStart, abandoned, forced: !closed, durationMs: Date.now() - started };
    logger.info("stopped", result);
    markStopped(result);
    return result;
  };

  const server: Server = {
    name: options.name,
    host,
    port,
    address,
    metricsPort: metricsServer?.port,
    metrics,
    health,
    stopped,
    get inFlight() {
      return calls.size;
    },
    drain: ({ timeoutMs = drainTimeoutMs } = {}) => (draining ??= drain(timeoutMs)),
    forceShutdown: () => {
      const inFlightAtStart = calls.size;
      health.setAll(ServingStatus.NOT_SERVING);
      calls.startDraining();
      const reason = new CancelledError("server shutting down", { reason: "SHUTTING_DOWN" });
      calls.abortAll(reason);
      healthCalls.abortAll(reason);
      grpcServer.forceShutdown();
      listener?.close();
      listener?.destroyAll();
      removeSignalHandlers();
      void metricsServer?.close();
      void flushTelemetry();
      markStopped({ inFlightAtStart, abandoned: inFlightAtStart, forced: true, durationMs: 0 });
    },
  };
  return server;
}

function bind(server: GrpcServer, host: string, port: number, credentials: ServerCredentials): Promise<number> {
  const target = `${host.includes(":") ? `[${host}]` : host}:${port}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(target, credentials, (error, bound) => (error ? reject(error) : resolve(bound)));
  });
}

/** tryShutdown bounded by `timeoutMs`: true when it completed in time. */
function tryShutdown(server: GrpcServer, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}
