// Builds the predictor service: reads the predictor model and its metadata on the main thread, starts
// the inference worker, and serves PredictorService on a server from createServer.
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { PredictorServiceService, ServingStatus } from "@expertmesh/proto";
import { createServer, DEFAULT_SERVER_LIMITS, jsonLogger, serverSecurity, service, type Logger, type Server } from "@expertmesh/runtime";
import { DEFAULT_MAX_TOKENS, type PredictorConfig } from "./config.js";
import { InferenceWorker } from "./inference-worker.js";
import { predictRoutesHandler } from "./predict-routes.js";
import { describePredictor, PredictorModelError, readPredictorInfo, type PredictorInfo } from "@expertmesh/model";

export interface Predictor {
  readonly server: Server;
  readonly info: PredictorInfo;
  /** One line naming the predictor (for InferenceService.ModelInfo.predictor). */
  readonly description: string;
  /** Most tokens per PredictRoutes request (config maxTokens, or what fits the message limit). */
  readonly maxTokens: number;
  /** Drains the server, then stops the inference worker. */
  stop(): Promise<void>;
}

/** Response bytes per token beyond its L*E floats: the Tensor's dtype, shape and length prefixes. */
const TENSOR_OVERHEAD_BYTES = 32;

export async function startPredictor(
  config: PredictorConfig,
  options: { logger?: Logger; signals?: NodeJS.Signals[] } = {},
): Promise<Predictor> {
  const logger = options.logger ?? jsonLogger("predictor");
  const path = resolve(config.predictor);
  let model: Uint8Array;
  try {
    model = readFileSync(path);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : (e as Error).message;
    throw new PredictorModelError(`config predictor: ${path}: ${why}`, { cause: e });
  }
  const info = readPredictorInfo(model, path);
  // A model of E = 256 experts over 58 layers answers 59 KB per token: the default limit is what fits.
  const perToken = info.numLayers * info.numExperts * 4 + TENSOR_OVERHEAD_BYTES;
  const maxTokens = config.maxTokens || Math.min(DEFAULT_MAX_TOKENS, Math.floor(DEFAULT_SERVER_LIMITS.maxSendMessageBytes / perToken));
  const responseBytes = maxTokens * perToken;
  if (maxTokens < 1 || responseBytes > DEFAULT_SERVER_LIMITS.maxSendMessageBytes) {
    throw new PredictorModelError(
      `config maxTokens: ${maxTokens} tokens of ${info.numLayers} x ${info.numExperts} probabilities need a ${responseBytes}-byte response, ` +
        `above the ${DEFAULT_SERVER_LIMITS.maxSendMessageBytes}-byte message limit`,
    );
  }
  let server: Server | undefined;
  const worker = await InferenceWorker.start({
    model,
    session: { threads: config.threads, executionProvider: config.provider },
    numLayers: info.numLayers,
    numExperts: info.numExperts,
    maxQueue: config.maxQueue,
    onFailure: (error) => {
      logger.error("inference worker failed; not serving", { error });
      server?.health.setAll(ServingStatus.NOT_SERVING);
    },
  });
  try {
    const security = serverSecurity(config, { clientAuth: "require" });
    server = await createServer({
      name: "predictor",
      ...security,
      host: config.host,
      port: config.port,
      metricsPort: config.metricsPort,
      drainTimeoutMs: config.drainTimeout,
      signals: options.signals ?? [],
      logger,
      services: [
        service(PredictorServiceService, {
          predictRoutes: predictRoutesHandler({ worker, info, maxTokens }),
          describePredictor: () => ({
            description: describePredictor(info),
            kind: info.kind,
            baseline: info.baseline,
            numLayers: info.numLayers,
            numExperts: info.numExperts,
            topK: info.topK,
            maxTokens,
          }),
        }),
      ],
    });
  } catch (e) {
    await worker.close();
    throw e;
  }
  const running = server;
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      await running.drain();
      await worker.close();
    })());
  return { server: running, info, description: describePredictor(info), maxTokens, stop };
}
