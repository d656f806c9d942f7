// The expert shard as a gRPC server: the shard, its handlers on createServer (health, limits,
// error mapping, drain), and a drain that stops the compute workers once the running calls are done.
// The runtime drains on SIGTERM/SIGINT; its drain is idempotent, so the same drain (and then the
// workers' end) runs whether a signal or a caller starts it.

import { ExpertShardServiceService, ServingStatus } from "@expertmesh/proto";
import { createServer, jsonLogger, serverSecurity, service, type DrainResult, type Logger, type Server } from "@expertmesh/runtime";
import { cacheStats } from "./cache-stats.js";
import type { ShardConfig } from "./config.js";
import { dispatchExperts } from "./dispatch-experts.js";
import { prefetch } from "./prefetch.js";
import { runExperts } from "./run-experts.js";
import { ExpertShard } from "./shard.js";

const MiB = 2 ** 20;

export interface ShardServer {
  readonly server: Server;
  readonly shard: ExpertShard;
  /** "host:port", for clients. */
  readonly address: string;
  /** Drains the server (running calls finish), then stops the workers. Idempotent. */
  drain(options?: { timeoutMs?: number }): Promise<DrainResult>;
  /** Stops at once: cuts connections, aborts calls, terminates the workers. */
  forceShutdown(): Promise<void>;
}

export interface ServeOptions {
  readonly logger?: Logger;
  /** Signals that start a drain (a second one forces shutdown); default SIGTERM and SIGINT; [] for none. */
  readonly signals?: readonly NodeJS.Signals[];
}

export async function serveShard(config: ShardConfig, options: ServeOptions = {}): Promise<ShardServer> {
  const name = `expert-shard-${config.shardId}`;
  const logger = options.logger ?? jsonLogger(name);
  let server: Server | undefined;
  const shard = await ExpertShard.create(config, {
    logger,
    onFatal: () => server?.health.setAll(ServingStatus.NOT_SERVING),
  });
  // A full call of max-tokens-per-call tokens must fit a message each way (float32 [T, D] plus framing).
  const messageBytes = Math.max(32 * MiB, config.maxTokensPerCall * shard.model.hiddenSize * 4 + MiB);
  const signals = options.signals ?? ["SIGTERM", "SIGINT"];
  try {
    const security = serverSecurity(config, { clientAuth: "require" });
    server = await createServer({
      name,
      tls: security.tls,
      connections: security.connections,
      services: [
        service(ExpertShardServiceService, {
          runExperts: runExperts(shard),
          dispatchExperts: dispatchExperts(shard),
          prefetch: prefetch(shard),
          cacheStats: cacheStats(shard),
        }),
      ],
      host: config.host,
      port: config.port,
      limits: { ...security.limits, maxReceiveMessageBytes: messageBytes, maxSendMessageBytes: messageBytes },
      drainTimeoutMs: config.drainTimeout,
      metricsPort: config.metricsPort,
      signals,
      logger,
    });
  } catch (error) {
    await shard.close();
    throw error;
  }
  const grpc = server;
  grpc.metrics.observeCache(() => shard.store.tierStats());

  let draining: Promise<DrainResult> | undefined;
  const drain = (drainOptions?: { timeoutMs?: number }): Promise<DrainResult> =>
    (draining ??= grpc.drain(drainOptions).finally(async () => {
      removeSignalHandlers();
      await shard.close();
    }));
  const onSignal = (): void => {
    if (draining === undefined) void drain();
    else void shard.close(); // a second signal: the runtime forces shutdown; stop computing too
  };
  for (const signal of signals) process.on(signal, onSignal);
  const removeSignalHandlers = (): void => {
    for (const signal of signals) process.removeListener(signal, onSignal);
  };

  return {
    server: grpc,
    shard,
    address: grpc.address,
    drain,
    forceShutdown: async () => {
      grpc.forceShutdown();
      removeSignalHandlers();
      await shard.close();
    },
  };
}
