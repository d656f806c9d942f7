// Builds the router: tokenizer and model shape on the main thread, the engine (dense part + batcher +
// shard dispatch) in a worker, and InferenceService on a server from createServer.
import { basename, resolve } from "node:path";
import { BUNDLED_MODEL_DIR, readConfig, TextTokenizer } from "@expertmesh/model";
import { InferenceServiceService, ServingStatus } from "@expertmesh/proto";
import {
  createServer,
  MeshMetrics,
  natsConnectionOptions,
  OVERALL,
  serverSecurity,
  service,
  upstreamTls,
  type Logger,
  type Server,
} from "@expertmesh/runtime";
import { completeHandler } from "./complete.js";
import type { RouterConfig } from "./config.js";
import { EngineClient } from "./engine/engine-client.js";
import { generateHandler } from "./generate.js";
import { modelInfoHandler } from "./model-info.js";
import { startOpenAiServer, type OpenAiServer } from "./openai/http-server.js";
import { describeRemotePredictor } from "./predictor-description.js";
import { addReflection } from "./reflection.js";
import { RequestMetrics } from "./request-metrics.js";
import type { RouterState } from "./router-state.js";
import { tokenizeHandler } from "./tokenize.js";

export interface Router {
  server: Server;
  state: RouterState;
  /** The OpenAI-compatible HTTP API, when `httpPort` is set. */
  http: OpenAiServer | undefined;
  /** Drains the server, then stops the engine. */
  stop(): Promise<void>;
}

export async function startRouter(config: RouterConfig, options: { logger?: Logger; signals?: NodeJS.Signals[] } = {}): Promise<Router> {
  const modelDir = resolve(config.model ?? BUNDLED_MODEL_DIR);
  // Clients of the public API may come without a certificate; shards and the predictor require the router's.
  const security = serverSecurity(config, { clientAuth: "optional" });
  const tls = upstreamTls(config);
  natsConnectionOptions(config); // conflicting NATS keys fail here, at start-up, not later in the engine worker
  const model = readConfig(modelDir);
  const tokenizer = TextTokenizer.load(modelDir, model);
  const engine = await EngineClient.start(
    {
      modelDir,
      shards: [...config.shards],
      replicas: config.replicas,
      maxBatch: config.maxBatch,
      stepBatch: config.stepBatch,
      hintsBeforeStep: config.hintsBeforeStep,
      schedule: config.schedule as "arrival" | "regroup",
      shardTimeoutMs: config.shardTimeout,
      dispatch: config.dispatch,
      threads: config.threads,
      provider: config.provider,
      nats: config.nats,
      predictor: config.predictor,
      tls,
      allowedShardAddresses: [...config.allowedShardAddresses],
      natsAuth: {
        natsUser: config.natsUser,
        natsPassword: config.natsPassword,
        natsToken: config.natsToken,
        natsCreds: config.natsCreds,
        natsCa: config.natsCa,
        natsCert: config.natsCert,
        natsKey: config.natsKey,
      },
    },
    config.maxBatch + config.maxQueue,
  );
  const modelName = config.modelName ?? basename(modelDir);
  // This router's registry (not the process-wide default): two routers in one process do not collide.
  const metrics = new MeshMetrics({ processMetrics: true });
  const state: RouterState = {
    config,
    model,
    tokenizer,
    engine,
    metrics: new RequestMetrics(metrics.registry, modelName, engine),
    modelName,
    predictorDescription: await describeRemotePredictor(config.predictor, model, tls),
  };
  const server = await createServer({
    name: "router",
    ...security,
    host: config.host,
    port: config.port,
    drainTimeoutMs: config.drainTimeout,
    metricsPort: config.metricsPort,
    metrics,
    addRawServices: addReflection,
    signals: options.signals ?? [],
    logger: options.logger,
    services: [
      service(InferenceServiceService, {
        generate: generateHandler(state),
        complete: completeHandler(state),
        tokenize: tokenizeHandler(state),
        modelInfo: modelInfoHandler(state),
      }),
    ],
  });
  let http: OpenAiServer | undefined;
  if (config.httpPort !== undefined) {
    try {
      http = await startOpenAiServer(state, {
        host: config.host,
        port: config.httpPort,
        timeoutMs: config.httpTimeout,
        maxBodyBytes: config.httpMaxBody,
        modelDir,
        healthy: () => server.health.get(OVERALL) === ServingStatus.SERVING,
        logger: options.logger,
      });
    } catch (e) {
      server.forceShutdown();
      await engine.close();
      throw new Error(`HTTP API port ${config.httpPort}: ${(e as Error).message}`, { cause: e });
    }
  }
  let stopping: Promise<void> | null = null;
  const stop = () =>
    (stopping ??= (async () => {
      await Promise.all([http?.close(config.drainTimeout), server.drain()]);
      await engine.close();
    })());
  return { server, state, http, stop };
}
