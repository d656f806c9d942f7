// The router process: `node services/router/dist/main.js --shards host:port,host:port [--port P] ...`
import { initTelemetry, jsonLogger } from "@expertmesh/runtime";
import { routerConfig } from "./config.js";
import { startRouter } from "./server.js";

initTelemetry({ serviceName: "router" });
const logger = jsonLogger("router");
try {
  const config = routerConfig.parse(process.argv.slice(2), process.env);
  const router = await startRouter(config, { logger });
  logger.info("serving", {
    address: router.server.address,
    shards: config.shards.join(","),
    model: router.state.modelName,
    ...(router.http ? { http: router.http.url } : {}),
  });
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => void router.stop().then(() => process.exit(0)));
  }
} catch (e) {
  logger.error("failed to start", { error: (e as Error).message });
  process.exit(1);
}
