// The router's engine, in a worker thread so that the dense part of the model (onnxruntime-node's run()
// blocks) never runs on the event loop that serves gRPC, health and deadlines.
import { parentPort, workerData } from "node:worker_threads";
import { MoeRuntime } from "@expertmesh/model";
import { ShardHeartbeat } from "@expertmesh/proto";
import {
  createNatsLink,
  natsConnectionOptions,
  flushTelemetry,
  initTelemetry,
  jsonLogger,
  SHARDS_ALL,
  silentLogger,
  withSpan,
  withTraceparent,
  type NatsLink,
} from "@expertmesh/runtime";
import { Batcher, type BatchRequest } from "./batcher.js";
import type { EngineSettings, FromEngine, ToEngine } from "./protocol.js";
import { HintPublisher } from "./hint-publisher.js";
import { HeartbeatTrust, type HeartbeatVerdict } from "./heartbeat-trust.js";
import { HintDemand } from "./hint-demand.js";
import { PlacementTracker } from "./placement-tracker.js";
import { RoutePredictor } from "./route-predictor.js";
import { ShardPool } from "./shard-pool.js";

const port = parentPort!;
const settings = workerData as EngineSettings;
// Events leave in batches: what one step emits (a token per request, ends, failures) is one postMessage,
// so the main thread wakes once per step instead of once per request (flushed before the next step starts).
let outbox: FromEngine[] = [];
const flush = (): void => {
  const batch = outbox;
  outbox = [];
  port.postMessage(batch);
};
const emit = (m: FromEngine): void => {
  if (outbox.push(m) === 1) queueMicrotask(flush);
};
const telemetry = initTelemetry({ serviceName: "router" });

async function start(): Promise<void> {
  let pool: ShardPool | undefined;
  const rt = await MoeRuntime.load(settings.modelDir, {
    session: { threads: settings.threads, executionProvider: settings.provider },
    experts: {
      // A span per layer only while tracing: otherwise the no-op span's context and promise wrapping are pure cost.
      run: telemetry.tracing
        ? (layer, work, signal) =>
            withSpan("router.dispatch", { "expertmesh.layer": layer, "expertmesh.experts": work.length }, () =>
              pool!.run(layer, work, signal),
            )
        : (layer, work, signal) => pool!.run(layer, work, signal),
    },
  });
  const c = rt.config;
  const poolOptions = {
    numLayers: c.numLayers,
    numExperts: c.numExperts,
    hiddenSize: c.hiddenSize,
    callTimeoutMs: settings.shardTimeoutMs,
    tls: settings.tls,
    dispatch: settings.dispatch,
  };
  pool = new ShardPool(settings.shards, { ...poolOptions, replicas: settings.replicas });
  // Shards that join or leave (heartbeats naming another layout) move dispatch to a new pool.
  const layout = new PlacementTracker({ addresses: settings.shards, replicas: settings.replicas }, c);
  // Whether any shard uses hints (heartbeats' ignores_hints); without heartbeats, as before: yes.
  const demand = new HintDemand(settings.shards.length);
  let nats: NatsLink | undefined;
  if (settings.nats) {
    nats = createNatsLink({
      servers: [settings.nats],
      name: "router",
      logger: silentLogger,
      connection: natsConnectionOptions(settings.natsAuth ?? {}),
    });
    // Only heartbeats from the shard they name, pointing at an address the router may dial (heartbeat-trust.ts).
    const trust = new HeartbeatTrust(settings.shards, settings.allowedShardAddresses ?? []);
    const warned = new Set<string>();
    nats.subscribe(SHARDS_ALL, (msg) => {
      try {
        const hb = ShardHeartbeat.decode(msg.data);
        const verdict: HeartbeatVerdict = trust.judge(msg.subject, hb);
        if (verdict !== "accepted") {
          const key = `${verdict} ${msg.subject} ${hb.address}`;
          if (!warned.has(key) && warned.size < 100) {
            warned.add(key);
            jsonLogger("router").warn("shard heartbeat refused", {
              reason: verdict,
              subject: msg.subject,
              shardId: hb.shardId,
              address: hb.address,
            });
          }
          return;
        }
        const next = layout.observe(hb);
        if (next) {
          const old = pool!;
          pool = new ShardPool(next.addresses, { ...poolOptions, replicas: next.replicas });
          demand.reset(next.addresses.length);
          pool.stepDeadline = old.stepDeadline;
          pool.stepId = old.stepId;
          setTimeout(() => old.close(), settings.shardTimeoutMs + 1_000).unref(); // its calls in flight end first
          jsonLogger("router").info("shard layout changed", {
            shards: next.shards,
            replicas: next.replicas,
            addresses: next.addresses.join(","),
          });
        }
        if (layout.inCurrentLayout(hb)) {
          pool!.membership.update(hb);
          demand.observe(hb.shardId, hb.ignoresHints);
        }
      } catch {
        // a malformed heartbeat is ignored: membership falls back to static placement
      }
    });
  }
  const predictor = settings.predictor ? new RoutePredictor(settings.predictor, c.numLayers, c.numExperts, settings.tls) : undefined;
  // Hints (and their corrections) come from predictions: without a predictor there is nothing to publish.
  const hints = nats && predictor ? new HintPublisher(nats, c.numLayers, c.numExperts, c.topK) : undefined;
  const batcher = new Batcher(
    rt,
    settings.maxBatch,
    emit,
    {
      beginStep: (members: readonly BatchRequest[]) => {
        // Calls may run until the last member's deadline; members whose deadline passes end alone (batcher).
        pool!.stepDeadline = Math.max(...members.map((m) => m.deadline));
        pool!.stepId++;
      },
      // A step serves several requests: it is a child of the first one's trace and links the others.
      wrapStep: (members, step, run) =>
        withTraceparent(members[0]?.traceparent, () =>
          withSpan(
            step.prefill ? "router.prefill" : "router.decode",
            { "expertmesh.batch": members.length },
            () => {
              // The prediction for this step's tokens runs beside the step: its hints reach the shards while
              // the first layers compute, so that later layers find their experts loaded.
              if (predictor && hints && step.prefill && demand.wanted) {
                const tokenIds = step.tokens.flat();
                const positions = step.tokens.flatMap((t, i) => t.map((_, j) => step.starts[i] + j));
                void predictor.predict(tokenIds, positions).then((p) => p && hints.publishPrediction(p));
              }
              return run();
            },
            { links: members.slice(1).flatMap((m) => (m.traceparent ? [m.traceparent] : [])) },
          ),
        ),
      onRouting: hints
        ? (r) => {
            if (demand.wanted) hints.correct(r.layer, r.experts);
          }
        : undefined,
      // Decode: the next tokens are known only when the previous step ends.
      // With route-aware scheduling the plan needs the prediction, so it is awaited; otherwise the step
      // starts at once and the hints reach the shards while the first layers compute (or, with
      // --hints-before-step, before them).
      // Predictions serve the shards' hints and the regroup schedule: with neither, none is asked for.
      predictNext: predictor
        ? async (tokens, positions) => {
            const regroup = settings.schedule === "regroup" && settings.stepBatch > 0;
            const publish = hints !== undefined && demand.wanted;
            if (!regroup && !publish) return undefined;
            const p = predictor.predict(tokens, positions).then((r) => {
              if (r && publish) hints?.publishPrediction(r);
              return r;
            });
            // --hints-before-step: the step waits for the hints it publishes (when it publishes any).
            return regroup || (settings.hintsBeforeStep && publish) ? p : undefined;
          }
        : undefined,
    },
    { mode: settings.schedule, stepBatch: settings.stepBatch },
  );
  port.on("message", (m: ToEngine) => {
    if (m.type === "submit")
      batcher.submit({
        id: m.id,
        prompt: m.prompt,
        sampling: m.sampling,
        deadline: m.deadline,
        arrived: performance.now(),
        traceparent: m.traceparent,
      });
    else if (m.type === "cancel") batcher.cancel(m.id);
    else if (m.type === "shutdown") {
      void batcher.idle().then(async () => {
        pool!.close();
        predictor?.close();
        await nats?.close();
        await flushTelemetry();
        await rt.release();
        port.close();
      });
    }
  });
  emit({ type: "ready" });
}

start().catch((e) => emit({ type: "fatal", message: (e as Error)?.message ?? String(e) }));
