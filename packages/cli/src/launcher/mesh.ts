// The local mesh: nats-server, the predictor, N expert shards and the router as processes on loopback.
// Starts them in dependency order, waits until each reports SERVING over grpc.health.v1, and stops them
// in reverse order (router first, so that it drains while the shards still serve).
// Secure (`secure: true`, or EXPERTMESH_SECURE_MESH=1 in the environment, which runs every e2e test
// that way): a local CA makes one certificate per service; router, shards and predictor speak mTLS
// (shards and the predictor accept only the router's certificate and the operator's, which the
// launcher's own clients use); NATS runs with TLS and one user per service, each allowed only its subjects.
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ChannelCredentials } from "@grpc/grpc-js";
import { BUNDLED_MODEL_DIR } from "@expertmesh/model";
import type { CachePolicyName } from "@expertmesh/moe";
import { channelCredentials, createLocalPki, readClientTls, waitForServing, type PkiFiles, type TlsOptions } from "@expertmesh/runtime";
import { ManagedProcess } from "./child-process.js";
import { assertPortsFree } from "./free-port.js";
import { startNatsServer } from "./nats-server.js";
import { ServiceStartError } from "./service-start-error.js";
import { routerNatsUser, shardNatsUser, type NatsUser } from "./nats-permissions.js";

/** Shard ids that a secure mesh has NATS users and certificates for (see `extraShard`). */
const MAX_EXTRA_SHARD_IDS = 8;

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
  /** mTLS between all services and TLS + per-service users on NATS; default: EXPERTMESH_SECURE_MESH=1. */
  secure?: boolean;
  /** Extra environment for every service process (e.g. EXPERTMESH_TRACE_FILE). */
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

export interface ServiceProcess {
  name: string;
  address: string;
  /** "http://127.0.0.1:P/metrics" when metrics ports were asked for. */
  metrics?: string;
  /** The router's OpenAI-compatible HTTP API, "http://127.0.0.1:P", when asked for. */
  http?: string;
  process: ManagedProcess;
}

export interface Mesh {
  router: ServiceProcess;
  /** "http://127.0.0.1:P" of the OpenAI-compatible API, when asked for. */
  http?: string;
  shards: ServiceProcess[];
  predictor?: ServiceProcess;
  nats?: { url: string; process: ManagedProcess; port: number; restart(): Promise<ManagedProcess> };
  /** Secure mesh: the CA bundle and the operator's certificate (what the launcher's own clients present). */
  tls?: { caFile: string; operator: PkiFiles };
  /** Options for the SDK (ExpertMeshClient): the CA to trust and the operator's certificate; {} when plaintext. */
  clientOptions: { tls?: TlsOptions };
  /** Credentials for raw grpc-js clients of any service of this mesh. */
  credentials(): ChannelCredentials;
  /** Flags and environment for one more shard process joining this mesh (its NATS user, its certificate). */
  extraShard(shardId: number): { args: string[]; env: NodeJS.ProcessEnv };
  /** Stops everything: router (drain) first, then predictor and shards, then NATS. */
  stop(): Promise<void>;
}

export async function startMesh(o: MeshOptions = {}): Promise<Mesh> {
  const model = resolve(o.model ?? BUNDLED_MODEL_DIR);
  const shardCount = o.shards ?? 2;
  const replicas = o.replicas ?? 1;
  const deadline = Date.now() + (o.startTimeoutMs ?? 60_000);
  // Every fixed port is checked before anything starts (a port taken by, say, an orphaned router would
  // otherwise answer our health checks and the failure would come late and misleading).
  const base = o.metricsPort;
  await assertPortsFree([
    { port: o.port ?? 0, what: "router gRPC, --port" },
    { port: o.httpPort ?? 0, what: "router HTTP, --http-port" },
    ...(base === undefined
      ? []
      : [
          { port: base, what: "router metrics, --metrics-port" },
          ...Array.from({ length: shardCount }, (_, i) => ({ port: base + 1 + i, what: `shard ${i} metrics, --metrics-port + ${1 + i}` })),
          { port: base + 1 + shardCount, what: `predictor metrics, --metrics-port + ${1 + shardCount}` },
        ]),
  ]);
  const secure = o.secure ?? process.env.EXPERTMESH_SECURE_MESH === "1";
  const started: ManagedProcess[] = [];
  const startFailed = new AbortController();
  const pkiDir = secure ? mkdtempSync(join(tmpdir(), "expertmesh-pki-")) : undefined;
  const stopAll = async () => {
    for (const p of [...started].reverse()) await p.stop();
    if (pkiDir) rmSync(pkiDir, { recursive: true, force: true });
  };
  try {
    const pki = pkiDir === undefined ? undefined : createLocalPki(pkiDir);
    const operator = pki?.issue({ name: "expertmesh-operator" });
    const clientTls: TlsOptions | undefined = pki && operator ? readClientTls({ caFile: pki.caFile, ...operator }) : undefined;
    const creds = () => channelCredentials(clientTls);
    /** --tls-* flags of a service: its own certificate, the CA bundle, the peers it accepts. */
    const tlsArgs = (identity: string, allowedPeers?: string[]): string[] => {
      if (!pki) return [];
      const id = pki.issue({ name: identity });
      return [
        "--tls-cert",
        id.certFile,
        "--tls-key",
        id.keyFile,
        "--tls-ca",
        pki.caFile,
        ...(allowedPeers ? ["--tls-allowed-peers", allowedPeers.join(",")] : []),
      ];
    };
    const password = () => randomBytes(18).toString("base64url");
    const natsUsers = new Map<string, NatsUser>();
    if (secure) {
      natsUsers.set("router", routerNatsUser(password()));
      // Users for more shard ids than this mesh starts, so that a test can add shards of a larger layout.
      for (let i = 0; i < Math.max(shardCount, MAX_EXTRA_SHARD_IDS); i++) natsUsers.set(`shard-${i}`, shardNatsUser(i, password()));
    }
    const natsTls = pki?.issue({ name: "nats" });
    const natsOptions = { users: [...natsUsers.values()], ...(natsTls ? { tls: natsTls } : {}) };
    let nats = o.nats === false ? undefined : await startNatsServer(natsOptions);
    if (nats) started.push(nats.process);
    const natsArgs = nats ? ["--nats", nats.url, ...(pki ? ["--nats-ca", pki.caFile] : [])] : [];
    /** The NATS user of a process, by environment (a password is not a flag: flags show in `ps`). */
    const natsEnv = (name: string, prefix: string): NodeJS.ProcessEnv => {
      const u = natsUsers.get(name);
      return u ? { [`${prefix}NATS_USER`]: u.user, [`${prefix}NATS_PASSWORD`]: u.password } : {};
    };
    const envPrefix = (name: string) =>
      name === "router" ? "EXPERTMESH_ROUTER_" : name === "predictor" ? "EXPERTMESH_PREDICTOR_" : "EXPERTMESH_SHARD_";
    /**
     * Starts one service and waits until it reports SERVING. Without a fixed port the service binds port 0
     * and its "ready" log line names the address it got: a port picked here and bound there later could be
     * taken in between by any other process on the machine (parallel test runs did exactly that).
     */
    const launch = async (
      name: string,
      main: string,
      args: string[],
      service: string,
      port?: number,
      metricsPort?: number,
      withHttp = false,
    ): Promise<ServiceProcess> => {
      const metrics = metricsPort === undefined ? [] : ["--metrics-port", String(metricsPort)];
      let announce: (line: ReadyLine) => void = () => {};
      const announced = new Promise<ReadyLine>((resolve) => (announce = resolve));
      const proc = ManagedProcess.start(name, process.execPath, [main, ...args, "--port", String(port ?? 0), ...metrics], {
        env: { ...o.env, ...natsEnv(name, envPrefix(name)) },
        onLine: (l) => {
          const ready = readyLine(l);
          if (ready && (!withHttp || ready.http)) announce(ready);
          o.log?.(`[${name}] ${l}`);
        },
      });
      started.push(proc);
      const exited = proc.exited.then((code) => {
        const error = new ServiceStartError(name, code, proc.output());
        startFailed.abort(error); // the other services' health waits stop too: nothing keeps the process alive
        throw error;
      });
      const ready = await Promise.race([announced, exited]);
      await Promise.race([waitForServing(ready.address, service, deadline, { signal: startFailed.signal, credentials: creds() }), exited]);
      return {
        name,
        address: ready.address,
        process: proc,
        ...(ready.http ? { http: ready.http } : {}),
        ...(metricsPort === undefined ? {} : { metrics: `http://127.0.0.1:${metricsPort}/metrics` }),
      };
    };
    const internalPeers = ["router", "expertmesh-operator"];
    const predictor =
      o.predictor === false
        ? undefined
        : await launch(
            "predictor",
            SERVICE_MAIN.predictor,
            [...(typeof o.predictor === "string" ? ["--predictor", resolve(o.predictor)] : []), ...tlsArgs("predictor", internalPeers)],
            "expertmesh.v1.PredictorService",
            undefined,
            base === undefined ? undefined : base + 1 + shardCount,
          );
    const shards = await Promise.all(
      Array.from({ length: shardCount }, (_, i) =>
        launch(
          `shard-${i}`,
          SERVICE_MAIN.shard,
          [
            "--model",
            model,
            "--shard-id",
            String(i),
            "--shards",
            String(shardCount),
            "--replicas",
            String(replicas),
            "--device-budget",
            o.deviceBudget ?? "100%",
            "--policy",
            o.policy ?? "lru",
            ...natsArgs,
            ...tlsArgs(`expert-shard-${i}`, internalPeers),
            ...(o.shardArgs ?? []),
          ],
          "expertmesh.v1.ExpertShardService",
          undefined,
          base === undefined ? undefined : base + 1 + i,
        ),
      ),
    );
    const router = await launch(
      "router",
      SERVICE_MAIN.router,
      [
        "--model",
        model,
        "--shards",
        shards.map((s) => s.address).join(","),
        "--replicas",
        String(replicas),
        ...(predictor ? ["--predictor", predictor.address] : []),
        ...natsArgs,
        ...tlsArgs("router"),
        ...(o.httpPort === undefined ? [] : ["--http-port", String(o.httpPort)]),
        ...(o.routerArgs ?? []),
      ],
      "expertmesh.v1.InferenceService",
      o.port,
      base,
      o.httpPort !== undefined,
    );
    const natsHandle = nats && {
      url: nats.url,
      port: nats.port,
      process: nats.process,
      /** Starts nats-server again on the same port with the same users (after a test stopped it). */
      restart: async () => {
        nats = await startNatsServer({ ...natsOptions, port: nats!.port });
        started.splice(0, 0, nats.process);
        natsHandle!.process = nats.process;
        return nats.process;
      },
    };
    return {
      router,
      http: o.httpPort === undefined ? undefined : router.http,
      shards,
      predictor,
      nats: natsHandle,
      stop: stopAll,
      ...(pki && operator ? { tls: { caFile: pki.caFile, operator } } : {}),
      clientOptions: clientTls ? { tls: clientTls } : {},
      credentials: creds,
      extraShard: (id) => ({
        args: [...natsArgs, ...tlsArgs(`expert-shard-${id}`, internalPeers)],
        env: natsEnv(`shard-${id}`, "EXPERTMESH_SHARD_"),
      }),
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** What a service's start-up log line tells: the address it listens on (and the router's HTTP API URL). */
interface ReadyLine {
  address: string;
  http?: string;
}

function readyLine(line: string): ReadyLine | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const j = JSON.parse(line) as { level?: string; address?: unknown; http?: unknown };
    if (j.level !== "info" || typeof j.address !== "string") return undefined;
    return { address: j.address, ...(typeof j.http === "string" ? { http: j.http } : {}) };
  } catch {
    return undefined;
  }
}
