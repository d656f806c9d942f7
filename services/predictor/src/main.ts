// The predictor process: `node services/predictor/dist/main.js [--predictor FILE.onnx] [--port P] ...`
// (--help lists every key and its environment variable).
import { ConfigError, initTelemetry, jsonLogger } from "@expertmesh/runtime";
import { predictorConfig } from "./config.js";
import { PredictorModelError } from "@expertmesh/model";
import { startPredictor } from "./server.js";

if (process.argv.includes("--help")) {
  console.log(`usage: node services/predictor/dist/main.js [flags]\n\n${predictorConfig.help()}`);
  process.exit(0);
}
initTelemetry({ serviceName: "predictor" });
const logger = jsonLogger("predictor");
try {
  const predictor = await startPredictor(predictorConfig.parse(process.argv.slice(2), process.env), { logger });
  logger.info("predictor ready", { address: predictor.server.address, predictor: predictor.description });
  for (const signal of ["SIGTERM", "SIGINT"] as const) process.once(signal, () => void predictor.stop().then(() => process.exit(0)));
} catch (e) {
  logger.error("failed to start", { error: (e as Error)?.message ?? String(e) });
  process.exit(e instanceof ConfigError || e instanceof PredictorModelError ? 2 : 1);
}
