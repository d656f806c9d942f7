// expert-shard: serves the experts that the placement gives --shard-id over gRPC (ExpertShardService).
//   node services/expert-shard/dist/main.js --shard-id 0 --shards 2 --device-budget 25% --port 50061

import { ConfigError, createNatsLink, HINTS_ALL, initTelemetry, jsonLogger, natsConnectionOptions } from "@expertmesh/runtime";
import { startHeartbeats } from "./heartbeat.js";
import { HintGate } from "./hint-gate.js";
import { parseShardConfig, shardConfig } from "./config.js";
import { serveShard } from "./server.js";

if (process.argv.includes("--help")) {
  process.stdout.write(`expert-shard [flags]\n${shardConfig.help()}\n`);
  process.exit(0);
}
initTelemetry({ serviceName: "expert-shard" });
try {
  const config = parseShardConfig(process.argv.slice(2), process.env);
  const logger = jsonLogger(`expert-shard-${config.shardId}`);
  const { address, shard, drain, server } = await serveShard(config, { logger });
  const { owned, deviceSlots, policy } = shard.snapshot();
  logger.info("expert shard ready", {
    address,
    shardId: shard.id,
    owned: owned.length,
    deviceSlots,
    policy,
    link: shard.link?.describe() ?? "none (not simulated)",
  });
  if (config.nats) {
    const link = createNatsLink({
      servers: [config.nats],
      name: `expert-shard-${shard.id}`,
      logger,
      connection: natsConnectionOptions(config),
    });
    if (config.policy === "expertflow") {
      // Hints are untrusted and best effort: bounded in size and rate, counted, dropped when refused (hint-gate.ts).
      const gate = new HintGate(config, shard.model, server.metrics);
      link.subscribe(HINTS_ALL, (msg) => {
        const hint = gate.admit(msg.data);
        if (hint !== undefined) shard.hint(hint);
      });
    }
    const beats = startHeartbeats(link, shard, {
      address: config.advertise ?? address,
      shards: config.shards,
      replicas: config.replicas,
      intervalMs: config.heartbeatInterval,
      ignoresHints: config.policy !== "expertflow", // only expertflow subscribes to hints (above)
    });
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      process.once(signal, () => {
        beats.stop(true);
        void drain().finally(() => link.close());
      });
    }
  }
} catch (error) {
  // One line naming what failed (a port in use, an unreadable checkpoint), not a stack trace.
  process.stderr.write(`expert-shard: ${(error as Error)?.message ?? String(error)}\n`);
  if (process.env.EXPERTMESH_DEBUG) console.error(error);
  process.exit(error instanceof ConfigError ? 2 : 1);
}
