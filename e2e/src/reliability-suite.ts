// The reliability suite: faults against real meshes (real processes, gRPC over loopback, nats-server),
// one table row each. The short suite (reliability.test.ts, in `make test`) runs the rows that hold on
// any machine and asserts no timing; the long one (`make test-reliability`: reliability-main.ts) adds
// SIGSTOP, a shard lost without a replica, a hint flood, a soak, and the timing bounds of the issue:
// accepted requests under 2x overload within p99 TTFT <= 2 s and TPOT <= 200 ms, health p99 < 100 ms,
// RSS growth <= 10 MiB per process over the soak. The overload is sustained (closed-loop clients, twice
// the router's capacity) and health is sampled from a worker thread all along it; timed rows name the
// machine's load average, since a loaded machine (not the mesh) can be what misses a bound.
import { cpus, loadavg } from "node:os";
import { ExpertMeshClient } from "@expertmesh/client";
import { startMesh, type Mesh } from "@expertmesh/cli/launcher";
import { ExpertShardServiceService, HealthService, InferenceServiceService, PredictorServiceService } from "@expertmesh/proto";
import type { ServiceDefinitionLike } from "@expertmesh/runtime";
import { PROMPTS, referenceTokens } from "./reference.js";
import type { HealthSamples } from "./reliability-health-worker.js";
import {
  closedLoopOverload,
  fuzz,
  healthy,
  row,
  schedDuring,
  schedMs,
  sleep,
  startHealthSampler,
  startHintFlood,
  timedStream,
  type StreamResult,
} from "./reliability-probes.js";
import { SOAK_MAX_GROWTH_MIB, SOAK_WARMUP_REQUESTS, soak } from "./reliability-soak.js";
import { percentile, type ReliabilityRow } from "./reliability-table.js";

export interface SuiteOptions {
  /** The long suite: more rows, timing bounds asserted, the soak. */
  readonly long: boolean;
  /** Seconds of the soak (long suite); default 600. */
  readonly soakS?: number;
  readonly log?: (line: string) => void;
}

/** Running sequences of the overload mesh's router (no queue): the overload offers twice as many. */
const CAPACITY = 8;

/** The machine's load during a timed row, for the table: a row that fails on a loaded machine says so. */
function machineLoad(before: number): string {
  return `load average ${before.toFixed(1)} -> ${loadavg()[0]!.toFixed(1)} on ${cpus().length} cores`;
}

/** Every process of a mesh (services and nats-server). */
function meshPids(m: Mesh): number[] {
  return [m.router, ...m.shards, ...(m.predictor ? [m.predictor] : [])]
    .map((s) => s.process.pid)
    .concat(m.nats ? [m.nats.process.pid] : []);
}

export async function runReliability(o: SuiteOptions): Promise<ReliabilityRow[]> {
  const rows: ReliabilityRow[] = [];
  const add = (r: ReliabilityRow) => {
    rows.push(r);
    o.log?.(`${r.ok ? "ok  " : "FAIL"} ${r.fault}: ${r.observed}`);
  };
  const prompt = PROMPTS[0]!;
  const want24 = await referenceTokens(prompt, 24);

  // Mesh R: 2 shards x 2 replicas, NATS, the predictor in the long suite (its fuzz); a router of CAPACITY
  // running sequences and no queue, to overload twice over (what is accepted starts at the next step).
  const r = await startMesh({
    shards: 2,
    replicas: 2,
    deviceBudget: "50%",
    predictor: o.long,
    routerArgs: ["--max-batch", String(CAPACITY), "--max-queue", "0"],
  });
  const client = new ExpertMeshClient(r.router.address, { ...r.clientOptions, timeoutMs: 60_000, retry: false });
  try {
    await timedStream(client, prompt, 4); // warm-up

    const bodies = o.long ? 200 : 8;
    add(
      await row("fuzz: undecodable bodies to every RPC", "no INTERNAL/UNKNOWN, every process still SERVING", async () => {
        const targets: [string, string, ServiceDefinitionLike][] = [
          ["router", r.router.address, InferenceServiceService],
          ["router", r.router.address, HealthService],
          ["shard-0", r.shards[0]!.address, ExpertShardServiceService],
          ["shard-0", r.shards[0]!.address, HealthService],
          ...(r.predictor ? [["predictor", r.predictor.address, PredictorServiceService] as [string, string, ServiceDefinitionLike]] : []),
        ];
        let calls = 0;
        const bad: string[] = [];
        // The targets at once (each fuzz call waits out the 2 s deadline of a Watch whose garbage decodes).
        for (const codes of await Promise.all(targets.map(([, address, def]) => fuzz(r, address, def, bodies)))) {
          for (const [name, n] of codes) {
            calls += n;
            if (/ (INTERNAL|UNKNOWN)$/.test(name)) bad.push(`${name} x${n}`);
          }
        }
        const alive = (
          await Promise.all([r.router, ...r.shards, ...(r.predictor ? [r.predictor] : [])].map((s) => healthy(r, s.address)))
        ).every(Boolean);
        return {
          ok: bad.length === 0 && alive,
          observed: `${calls} calls, ${bad.length ? bad.join(", ") : "no INTERNAL/UNKNOWN"}, ${alive ? "all SERVING" : "a process is not SERVING"}`,
        };
      }),
    );

    // 2x overload, sustained: twice the router's capacity in closed-loop clients, with health sampled
    // all along from a worker thread (enough checks for a p99 that is not just the maximum).
    let health: HealthSamples = { ms: [], failed: 0, lateMs: [] };
    let routerMain = "";
    const overloadS = o.long ? 20 : 2;
    add(
      await row(
        `2x overload (${2 * CAPACITY} closed-loop clients, capacity ${CAPACITY}, ${overloadS} s)`,
        o.long
          ? "refused: RESOURCE_EXHAUSTED, p99 < 1 s; accepted: OK, p99 TTFT <= 2 s, p99 TPOT <= 200 ms"
          : "refused: RESOURCE_EXHAUSTED; accepted: all OK",
        async () => {
          const sampler = await startHealthSampler(r, r.router.address);
          const load0 = loadavg()[0]!;
          const {
            result: results,
            sched,
            main,
          } = await schedDuring(meshPids(r), r.router.process.pid, () =>
            closedLoopOverload(client, PROMPTS, 2 * CAPACITY, overloadS).finally(async () => {
              health = await sampler.stop();
            }),
          );
          routerMain = main;
          const refused = results.filter((x) => x.code === "ResourceExhaustedError");
          const accepted = results.filter((x) => x.code === "OK");
          const other = results.length - refused.length - accepted.length;
          const p99 = (xs: StreamResult[], f: (x: StreamResult) => number) => percentile(xs.map(f), 99);
          const refusalP99 = p99(refused, (x) => x.ms);
          const ttft = p99(accepted, (x) => x.ttftMs);
          const tpot = p99(accepted, (x) => x.tpotMs);
          const timing = !o.long || (refusalP99 < 1_000 && ttft <= 2_000 && tpot <= 200);
          return {
            ok: refused.length > 0 && other === 0 && accepted.length > 0 && timing,
            observed:
              `${accepted.length} OK, ${refused.length} RESOURCE_EXHAUSTED (p99 ${refusalP99.toFixed(0)} ms), ${other} other; ` +
              `accepted p99 TTFT ${ttft.toFixed(0)} ms, TPOT ${tpot.toFixed(0)} ms; ${machineLoad(load0)}; ${sched}`,
          };
        },
      ),
    );
    add(
      await row(
        "health under saturation (the overload above)",
        o.long ? "every check SERVING, p99 < 100 ms" : "every check SERVING",
        async () => {
          const p99 = percentile(health.ms, 99);
          return {
            ok: health.ms.length > 0 && health.failed === 0 && (!o.long || p99 < 100),
            observed:
              `${health.ms.length} checks, ${health.failed} failed, p50 ${percentile(health.ms, 50).toFixed(1)} ms, ` +
              `p99 ${p99.toFixed(1)} ms, max ${Math.max(...health.ms).toFixed(1)} ms; ` +
              `the sampler's own timer late by p99 ${percentile(health.lateMs, 99).toFixed(1)} ms (the machine's wake-up delay); ` +
              `the router answering: ${routerMain}`,
          };
        },
      ),
    );

    add(
      await row("NATS SIGKILL, restarted 1 s later", "every request OK (serving does not need NATS)", async () => {
        let ok = 0;
        let n = 0;
        const loop = (async () => {
          const end = Date.now() + 3_000;
          while (Date.now() < end) {
            n++;
            if ((await timedStream(client, prompt, 6)).code === "OK") ok++;
          }
        })();
        await sleep(300);
        r.nats!.process.signal("SIGKILL");
        await r.nats!.process.exited;
        await sleep(1_000);
        await r.nats!.restart();
        await loop;
        return { ok: ok === n && n > 0, observed: `${ok}/${n} OK` };
      }),
    );

    add(
      await row("shard SIGKILL under load, with a replica", "every stream OK, tokens = in-process", async () => {
        let killed = false;
        const results = await Promise.all(
          Array.from({ length: 4 }, () =>
            timedStream(client, prompt, 24, (n) => {
              if (n >= 4 && !killed) {
                killed = true;
                r.shards[0]!.process.signal("SIGKILL");
              }
            }),
          ),
        );
        const same = results.filter((x) => x.code === "OK" && x.tokens.join() === want24.join()).length;
        return { ok: killed && same === results.length, observed: `${same}/${results.length} OK and equal to in-process` };
      }),
    );

    add(
      await row("router SIGTERM under load", "0 accepted requests lost; the router exits", async () => {
        let signalled = false;
        const t0 = performance.now();
        const results = await Promise.all(
          Array.from({ length: 4 }, () =>
            timedStream(client, prompt, 24, (n) => {
              if (n >= 2 && !signalled) {
                signalled = true;
                r.router.process.signal("SIGTERM");
              }
            }),
          ),
        );
        // An unref'd timer: once the router has exited, nothing waits out the 60 s.
        const giveUp = new Promise<string>((resolve) => setTimeout(resolve, 60_000, "still running").unref());
        const code = await Promise.race([r.router.process.exited, giveUp]);
        const lost = results.filter((x) => x.code !== "OK").length;
        return {
          ok: signalled && lost === 0 && code !== "still running",
          observed: `${lost} of ${results.length} lost; router exit ${String(code)}`,
          timeMs: performance.now() - t0,
        };
      }),
    );
  } finally {
    client.close();
    await r.stop();
  }
  if (!o.long) return rows;

  // Mesh S: 2 shards, no replicas: a stopped shard and a lost shard.
  const s = await startMesh({ shards: 2, replicas: 1, deviceBudget: "50%", predictor: false });
  const sc = new ExpertMeshClient(s.router.address, { ...s.clientOptions, timeoutMs: 60_000, retry: false });
  try {
    await timedStream(sc, prompt, 4);
    add(
      await row("shard SIGSTOP (request deadline 3 s)", "DEADLINE_EXCEEDED by the deadline + 1 s; OK after SIGCONT", async () => {
        s.shards[0]!.process.signal("SIGSTOP");
        const res = await timedStream(sc, prompt, 64, () => {}, 3_000);
        s.shards[0]!.process.signal("SIGCONT");
        const after = await timedStream(sc, prompt, 4);
        return {
          ok: res.code === "DeadlineExceededError" && res.ms <= 4_000 && after.code === "OK",
          observed: `${res.code} after ${res.ms.toFixed(0)} ms; then ${after.code}`,
          timeMs: res.ms,
        };
      }),
    );
    add(
      await row("shard SIGKILL under load, no replica", "UNAVAILABLE within the deadline (20 s)", async () => {
        let killed = false;
        const t0 = performance.now();
        const results = await Promise.all(
          Array.from({ length: 2 }, () =>
            timedStream(
              sc,
              prompt,
              200,
              (n) => {
                if (n >= 3 && !killed) {
                  killed = true;
                  s.shards[0]!.process.signal("SIGKILL");
                }
              },
              20_000,
            ),
          ),
        );
        const ms = performance.now() - t0;
        return {
          ok: results.every((x) => x.code === "UnavailableError") && ms < 20_000,
          observed: results.map((x) => `${x.code} at ${x.ms.toFixed(0)} ms`).join(", "),
          timeMs: ms,
        };
      }),
    );
  } finally {
    sc.close();
    await s.stop();
  }

  // Mesh X: expertflow at 25 %: a hint flood (NATS without auth: the flooder is anyone who can publish).
  const x = await startMesh({ shards: 2, deviceBudget: "25%", policy: "expertflow", secure: false });
  const xc = new ExpertMeshClient(x.router.address, { ...x.clientOptions, timeoutMs: 60_000, retry: false });
  try {
    /** Median latency of 4 generations, and the shards' CPU time per generation. */
    const median4 = async () => {
      const ms: number[] = [];
      const cpu0 = x.shards.map((sh) => schedMs(sh.process.pid).runMs);
      for (let i = 0; i < 4; i++) ms.push((await timedStream(xc, PROMPTS[i % PROMPTS.length]!, 16)).ms);
      const cpu = x.shards.reduce((a, sh, i) => a + schedMs(sh.process.pid).runMs - cpu0[i]!, 0) / 4;
      return { ms: percentile(ms, 50), cpu };
    };
    await median4();
    add(
      await row("hint flood (5,000 forged hints/s)", "median latency <= 4x the unflooded + 1 s", async () => {
        const base = await median4();
        const load0 = loadavg()[0]!;
        const flood = await startHintFlood(x.nats!.url);
        let flooded: { ms: number; cpu: number };
        let sent: number;
        try {
          await sleep(500);
          flooded = await median4();
        } finally {
          sent = await flood.stop();
        }
        return {
          ok: flooded.ms <= 4 * base.ms + 1_000,
          observed:
            `median ${base.ms.toFixed(0)} ms unflooded, ${flooded.ms.toFixed(0)} ms flooded (${sent} hints); ` +
            `shards' CPU per generation ${base.cpu.toFixed(0)} -> ${flooded.cpu.toFixed(0)} ms; ${machineLoad(load0)}`,
        };
      }),
    );
  } finally {
    xc.close();
    await x.stop();
  }

  // Mesh K: the same configuration, fresh (no flood behind it), for the soak.
  const k = await startMesh({ shards: 2, deviceBudget: "25%", policy: "expertflow" });
  const kc = new ExpertMeshClient(k.router.address, { ...k.clientOptions, timeoutMs: 60_000, retry: false });
  try {
    const soakS = o.soakS ?? 600;
    add(
      await row(
        `soak: 1 request/s for ${soakS} s after ${SOAK_WARMUP_REQUESTS} requests of warm-up`,
        `RSS growth <= ${SOAK_MAX_GROWTH_MIB} MiB per process (medians of the first and last minute); every request OK`,
        () => soak(k, kc, soakS),
      ),
    );
  } finally {
    kc.close();
    await k.stop();
  }
  return rows;
}
