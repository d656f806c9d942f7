// The local mesh: nats-server, the predictor, N expert shards and the router as processes on loopback.
// Starts them in dependency order, waits until each reports SERVING over grpc.health.v1, and stops them
// in reverse order (router first, so that it drains while the shards still serve).
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { BUNDLED_MODEL_DIR } from "@expertmesh/model";
import type { CachePolicyName } from "@expertmesh/moe";
import { waitForServing } from "@expertmesh/runtime";
import { ManagedProcess } from "./child-process.js";
import { freePort } from "./free-port.js";
import { startNatsServer } from "./nats-server.js";
import { ServiceStartError } from "./service-start-error.js";

const REPO = resolve(join(dirname(fileURLToPath(import.meta.url)), "../../../.."));
const SERVICE_MAIN = {
  router: join(REPO, "services/router/dist/main.js"),
  shard: join(REPO, "services/expert-shard/dist/main.js"),
  predictor: join(REPO, "services/predictor/dist/main.js"),
};

export interface MeshOptions {
  model?: string;
  shards?: number;
  replicas?: number;
  /** Per-shard device budget: "25%" of the experts it owns, or bytes. */
  deviceBudget?: string;
  policy?: CachePolicyName;
  /** Router port; 0 or undefined: a free port. */
  port?: number;
  nats?: boolean;
  /** false: no predictor; a path: that predictor model; default: the predictor service's default (the bundled one). */
  predictor?: boolean | string;
  /**
   * First of the Prometheus /metrics ports, one per process: router BASE, shard i BASE + 1 + i, predictor
   * BASE + 1 + shards. Undefined: none.
   */
  metricsPort?: number;
  /** Port of the router's OpenAI-compatible HTTP API; 0: a free port; undefined: none. */
  httpPort?: number;
  /** Extra router flags, e.g. ["--max-queue", "2"]. */
  routerArgs?: string[];
  shardArgs?: string[];
  startTimeoutMs?: number;
  /** Extra environment for every service process (e.g. EXPERTMESH_TRACE_FILE). */
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface ServiceProcess {
  name: string;
  address: string;
  /** "http://127.0.0.1:P/metrics" when metrics ports were asked for. */
  metrics?: string;
  process: ManagedProcess;
}

export interface Mesh {
  router: ServiceProcess;
  /** "http://127.0.0.1:P" of the OpenAI-compatible API, when asked for. */
  http?: string;
  shards: ServiceProcess[];
  predictor?: ServiceProcess;
  nats?: { url: string; process: ManagedProcess };
  /** Stops everything: router (drain) first, then predictor and shards, then NATS. */
  stop(): Promise<void>;
}

export async function startMesh(o: MeshOptions = {}): Promise<Mesh> {
  const model = resolve(o.model ?? BUNDLED_MODEL_DIR);
  const shardCount = o.shards ?? 2;
  const replicas = o.replicas ?? 1;
  const deadline = Date.now() + (o.startTimeoutMs ?? 60_000);
  const started: ManagedProcess[] = [];
  const startFailed = new AbortController();
  const stopAll = async () => {
    for (const p of [...started].reverse()) await p.stop();
  };
  try {
    const nats = o.nats === false ? undefined : await startNatsServer();
    if (nats) started.push(nats.process);
    const natsArgs = nats ? ["--nats", nats.url] : [];
    const launch = async (name: string, main: string, args: string[], service: string, port?: number, metricsPort?: number): Promise<ServiceProcess> => {
      const p = port || (await freePort());
      const metrics = metricsPort === undefined ? [] : ["--metrics-port", String(metricsPort)];
      const proc = ManagedProcess.start(name, process.execPath, [main, ...args, "--port", String(p), ...metrics], {
        env: o.env,
        onLine: o.log ? (l) => o.log!(`[${name}] ${l}`) : undefined,
      });
      started.push(proc);
      const address = `127.0.0.1:${p}`;
      const exited = proc.exited.then((code) => {
        const error = new ServiceStartError(name, code, proc.output());
        startFailed.abort(error); // the other services' health waits stop too: nothing keeps the process alive
        throw error;
      });
      await Promise.race([waitForServing(address, service, deadline, { signal: startFailed.signal }), exited]);
      return { name, address, process: proc, ...(metricsPort === undefined ? {} : { metrics: `http://127.0.0.1:${metricsPort}/metrics` }) };
    };
    const base = o.metricsPort;
    const predictor = o.predictor === false ? undefined : await launch(
      "predictor", SERVICE_MAIN.predictor, typeof o.predictor === "string" ? ["--predictor", resolve(o.predictor)] : [], "expertmesh.v1.PredictorService",
      undefined, base === undefined ? undefined : base + 1 + shardCount,
    );
    const shards = await Promise.all(
      Array.from({ length: shardCount }, (_, i) =>
        launch(`shard-${i}`, SERVICE_MAIN.shard, [
          "--model", model, "--shard-id", String(i), "--shards", String(shardCount), "--replicas", String(replicas),
          "--device-budget", o.deviceBudget ?? "100%", "--policy", o.policy ?? "lru", ...natsArgs, ...(o.shardArgs ?? []),
        ], "expertmesh.v1.ExpertShardService", undefined, base === undefined ? undefined : base + 1 + i),
      ),
    );
    const httpPort = o.httpPort === undefined ? undefined : o.httpPort || (await freePort());
    const router = await launch("router", SERVICE_MAIN.router, [
      "--model", model, "--shards", shards.map((s) => s.address).join(","), "--replicas", String(replicas),
      ...(predictor ? ["--predictor", predictor.address] : []), ...natsArgs,
      ...(httpPort === undefined ? [] : ["--http-port", String(httpPort)]), ...(o.routerArgs ?? []),
    ], "expertmesh.v1.InferenceService", o.port, base);
    return { router, http: httpPort === undefined ? undefined : `http://127.0.0.1:${httpPort}`, shards, predictor, nats: nats && { url: nats.url, process: nats.process }, stop: stopAll };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
