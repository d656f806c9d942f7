// expertmesh up [--model DIR] [--shards N] [--replicas R] [--device-budget PCT|BYTES] [--policy lru|expertflow|expertflow-v1]
//               [--port P] [--http-port P] [--metrics-port BASE] [--predictor FILE | --no-predictor] [--no-nats] [--tls]
//               [--demo PROMPT] [--json]
// Starts nats-server, the predictor, N shards and the router on loopback and serves until interrupted.
// --tls: a local CA for this run; mTLS between all services, TLS and one user per service on NATS.
import type { ChannelCredentials } from "@grpc/grpc-js";
import { ExpertMeshClient, type ClientOptions } from "@expertmesh/client";
import { ExpertShardServiceClient, type CacheStatsResponse } from "@expertmesh/proto";
import { CACHE_POLICY_NAMES, isCachePolicyName } from "@expertmesh/moe";
import { channelOptions, unaryCall } from "@expertmesh/runtime";
import { isNonNegativeInt, isPositiveInt, numberFlag, parseFlags, UsageError } from "../args.js";
import { resolve } from "node:path";
import { BUNDLED_MODEL_DIR } from "@expertmesh/model";
import { startMesh } from "../launcher/index.js";
import { choosePredictor } from "./up-predictor.js";

export async function upCommand(argv: string[]): Promise<void> {
  const v = parseFlags(argv, {
    model: { type: "string" },
    shards: { type: "string" },
    replicas: { type: "string" },
    "device-budget": { type: "string" },
    policy: { type: "string" },
    port: { type: "string" },
    "http-port": { type: "string" },
    "metrics-port": { type: "string" },
    predictor: { type: "string" },
    "no-predictor": { type: "boolean" },
    "no-nats": { type: "boolean" },
    tls: { type: "boolean" },
    demo: { type: "string" },
    json: { type: "boolean" },
    verbose: { type: "boolean" },
  });
  const shards = numberFlag("shards", v.shards, 2, isPositiveInt, "a positive integer");
  const replicas = numberFlag("replicas", v.replicas, 1, isPositiveInt, "a positive integer");
  if (replicas > shards) throw new UsageError(`--replicas ${replicas} exceeds --shards ${shards}`);
  const port = numberFlag("port", v.port, 50051, (x) => isNonNegativeInt(x) && x < 65536, "a port number");
  const httpPort =
    v["http-port"] === undefined
      ? undefined
      : numberFlag("http-port", v["http-port"], 0, (x) => isNonNegativeInt(x) && x < 65536, "a port number");
  const policy = v.policy ?? "lru";
  if (!isCachePolicyName(policy))
    throw new UsageError(`--policy must be one of ${CACHE_POLICY_NAMES.join(", ")}, got ${JSON.stringify(policy)}`);
  // One metrics port per process: router, shards, predictor.
  const processes = shards + 2;
  const metricsPort =
    v["metrics-port"] === undefined
      ? undefined
      : numberFlag(
          "metrics-port",
          v["metrics-port"],
          0,
          (x) => Number.isInteger(x) && x >= 1 && x + processes - 1 < 65536,
          `a port in [1, ${65536 - processes}] (BASE to BASE + ${processes - 1} are used)`,
        );
  // The bundled model keeps the predictor service's default (its trained predictor); another model
  // gets its own predictor.onnx, or none with a warning (up-predictor.ts).
  const bundledDefault = v.model === undefined && v.predictor === undefined && !v["no-predictor"];
  const predictor = bundledDefault
    ? {}
    : choosePredictor(resolve(v.model ?? BUNDLED_MODEL_DIR), v.predictor, v["no-predictor"] ?? false, policy);
  if (predictor.warning) console.error(`expertmesh up: warning: ${predictor.warning}`);
  const usePredictor = predictor.file ?? bundledDefault;
  const t0 = performance.now();
  const mesh = await startMesh({
    model: v.model,
    shards,
    replicas,
    deviceBudget: v["device-budget"] ?? "100%",
    policy,
    port,
    httpPort,
    metricsPort,
    predictor: usePredictor,
    nats: !v["no-nats"],
    secure: v.tls === true,
    log: v.verbose ? (l) => console.error(l) : undefined,
  });
  const summary = {
    router: mesh.router.address,
    http: mesh.http ?? null,
    shards: mesh.shards.map((s) => ({ address: s.address, pid: s.process.pid, metrics: s.metrics ?? null })),
    predictor: mesh.predictor?.address ?? null,
    metrics:
      metricsPort === undefined
        ? null
        : { router: mesh.router.metrics, shards: mesh.shards.map((s) => s.metrics), predictor: mesh.predictor?.metrics ?? null },
    nats: mesh.nats?.url ?? null,
    tls: mesh.tls ? { ca: mesh.tls.caFile, cert: mesh.tls.operator.certFile, key: mesh.tls.operator.keyFile } : null,
    pids: {
      router: mesh.router.process.pid,
      shards: mesh.shards.map((s) => s.process.pid),
      predictor: mesh.predictor?.process.pid ?? null,
      nats: mesh.nats?.process.pid ?? null,
    },
    started_ms: Math.round(performance.now() - t0),
  };
  if (v.json) console.log(JSON.stringify({ ready: true, ...summary }));
  else {
    console.log(
      `expertmesh up: serving on ${summary.router} (${shards} shards, ${replicas} replica${replicas > 1 ? "s" : ""}, device budget ${v["device-budget"] ?? "100%"}, policy ${policy}) in ${summary.started_ms} ms`,
    );
    if (summary.http) console.log(`  OpenAI-compatible API: ${summary.http}/v1 (chat, completions, models; /health)`);
    if (mesh.router.metrics) console.log(`  router metrics: ${mesh.router.metrics}`);
    mesh.shards.forEach((s, i) => {
      console.log(`  shard ${i}: ${s.address} (pid ${s.process.pid})${s.metrics ? `, metrics ${s.metrics}` : ""}`);
    });
    if (summary.predictor)
      console.log(`  predictor: ${summary.predictor}${mesh.predictor?.metrics ? `, metrics ${mesh.predictor.metrics}` : ""}`);
    else console.log("  predictor: none (no prefetch hints)");
    if (summary.nats) console.log(`  nats: ${summary.nats}${mesh.tls ? " (TLS, one user per service)" : ""}`);
    if (summary.tls) console.log(`  mTLS: CA ${summary.tls.ca}; a client certificate: ${summary.tls.cert} ${summary.tls.key}`);
  }
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.error("expertmesh up: stopping (router drains first)");
    await mesh.stop();
    process.exit(0);
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  if (v.demo)
    await demo(
      summary.router,
      mesh.shards.map((s) => s.address),
      v.demo,
      mesh.clientOptions,
      mesh.credentials(),
    );
  if (!v.json) console.log("serving until interrupted (Ctrl-C)");
  // Any service that dies takes the mesh down with a message, rather than serving half a mesh silently.
  const died = await Promise.race([mesh.router, ...mesh.shards].map((s) => s.process.exited.then(() => s)));
  if (!stopping) {
    console.error(`expertmesh up: ${died.name} exited unexpectedly:\n${died.process.output()}`);
    await mesh.stop();
    process.exit(1);
  }
}

async function demo(router: string, shards: string[], prompt: string, options: ClientOptions, creds: ChannelCredentials): Promise<void> {
  const client = new ExpertMeshClient(router, options);
  try {
    console.log(`\ndemo: ${JSON.stringify(prompt)}`);
    const t0 = performance.now();
    const stream = client.generate(prompt, { maxTokens: 64, temperature: 0.7, seed: 1 });
    process.stdout.write(prompt);
    let r = await stream.next();
    let tokens = 0;
    while (!r.done) {
      process.stdout.write(r.value.text);
      tokens += r.value.tokenIds.length;
      r = await stream.next();
    }
    const ms = performance.now() - t0;
    console.log(`\n\n${tokens} tokens in ${ms.toFixed(0)} ms, finish: ${r.value.finishReason}\n`);
    for (const [i, address] of shards.entries()) printStats(i, await cacheStats(address, creds));
  } finally {
    client.close();
  }
}

function cacheStats(address: string, creds: ChannelCredentials): Promise<CacheStatsResponse> {
  const c = new ExpertShardServiceClient(address, creds, channelOptions());
  return unaryCall(c, "cacheStats", {}, { timeoutMs: 5000 }).finally(() => c.close());
}

function printStats(i: number, s: CacheStatsResponse): void {
  for (const t of s.tiers) {
    const tier = t.tier === 1 ? "device" : "host";
    const mib = (b: number) => (b / 2 ** 20).toFixed(1);
    console.log(
      `shard ${i} ${tier.padEnd(6)} resident ${String(t.resident.length).padStart(3)}  hits ${t.hits}  misses ${t.misses}  loads ${t.loads}  ` +
        `evictions ${t.evictions}  ${mib(t.usedBytes)}/${t.budgetBytes ? mib(t.budgetBytes) : "∞"} MiB`,
    );
  }
}
