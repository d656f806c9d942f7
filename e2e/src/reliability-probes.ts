// What the reliability suite (reliability-suite.ts) measures a mesh with: timed generations, a sustained
// overload of closed-loop clients, undecodable bodies to every RPC, health checks (one, or sampled from a
// worker thread for as long as a scenario runs), and a process's resident memory.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { Client, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import type { ExpertMeshClient } from "@expertmesh/client";
import type { Mesh } from "@expertmesh/cli/launcher";
import { HealthClient, ServingStatus } from "@expertmesh/proto";
import { channelOptions, type ServiceDefinitionLike } from "@expertmesh/runtime";
import type { FloodWorkerData } from "./reliability-flood-worker.js";
import type { HealthSamples, HealthWorkerData } from "./reliability-health-worker.js";
import type { ReliabilityRow } from "./reliability-table.js";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const errName = (e: unknown) => (e instanceof Error ? e.name : String(e));

export interface StreamResult {
  code: string;
  tokens: number[];
  ttftMs: number;
  tpotMs: number;
  ms: number;
}

/** One greedy generation, timed: first token, mean time per later token, total; `onToken(n)` after each chunk. */
export async function timedStream(
  client: ExpertMeshClient,
  prompt: string,
  maxTokens: number,
  onToken: (n: number) => void = () => {},
  timeoutMs = 60_000,
): Promise<StreamResult> {
  const t0 = performance.now();
  let first = NaN;
  const tokens: number[] = [];
  try {
    for await (const chunk of client.generate(prompt, { maxTokens, temperature: 0, timeoutMs })) {
      if (chunk.tokenIds.length && Number.isNaN(first)) first = performance.now() - t0;
      tokens.push(...chunk.tokenIds);
      onToken(tokens.length);
    }
    const ms = performance.now() - t0;
    return { code: "OK", tokens, ttftMs: first, tpotMs: tokens.length > 1 ? (ms - first) / (tokens.length - 1) : 0, ms };
  } catch (error) {
    return { code: errName(error), tokens, ttftMs: first, tpotMs: NaN, ms: performance.now() - t0 };
  }
}

/**
 * A sustained overload: `clients` closed-loop clients for `seconds`, each streaming one `maxTokens`
 * generation after another; a refused client comes back 200 ms later (the offered concurrency stays
 * `clients` and the router stays full, without a storm of refusals taking the CPU the accepted streams
 * run on). Every call's result, in completion order.
 */
export async function closedLoopOverload(
  client: ExpertMeshClient,
  prompts: readonly string[],
  clients: number,
  seconds: number,
  maxTokens = 16,
): Promise<StreamResult[]> {
  const end = performance.now() + seconds * 1_000;
  const results: StreamResult[] = [];
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = 0; performance.now() < end; i++) {
        const r = await timedStream(client, prompts[(c + i) % prompts.length]!, maxTokens);
        results.push(r);
        if (r.code !== "OK") await sleep(200);
      }
    }),
  );
  return results;
}

/** A row from a scenario; a scenario that throws is a failed row naming the error. */
export async function row(
  fault: string,
  expected: string,
  run: () => Promise<{ observed: string; ok: boolean; timeMs?: number }>,
): Promise<ReliabilityRow> {
  const t0 = performance.now();
  try {
    const r = await run();
    return { fault, expected, observed: r.observed, ok: r.ok, timeMs: r.timeMs ?? performance.now() - t0 };
  } catch (error) {
    return {
      fault,
      expected,
      observed: `threw ${errName(error)}: ${(error as Error).message}`.slice(0, 200),
      ok: false,
      timeMs: performance.now() - t0,
    };
  }
}

/**
 * Calls every method of `definition` at `address` with `count` undecodable-or-garbage bodies, up to 16 at
 * once (a body that happens to decode can be a valid Health.Watch, which streams until its 2 s deadline);
 * the status codes seen.
 */
export async function fuzz(mesh: Mesh, address: string, definition: ServiceDefinitionLike, count: number): Promise<Map<string, number>> {
  const client = new Client(address, mesh.credentials(), channelOptions());
  const codes = new Map<string, number>();
  const identity = (b: Buffer) => b;
  const call = (method: ServiceDefinitionLike[string], i: number) => {
    const digest = createHash("sha512").update(`${method.path}/${i}`).digest();
    const body = digest.subarray(0, 1 + (digest[0]! % 64));
    return new Promise<status>((resolve) => {
      const opts = { deadline: Date.now() + 2_000 };
      if (method.responseStream) {
        const c = client.makeServerStreamRequest(method.path, identity, identity, body, new Metadata(), opts);
        c.on("data", () => undefined);
        c.on("error", (e: ServiceError) => resolve(e.code));
        c.on("end", () => resolve(status.OK));
      } else {
        client.makeUnaryRequest(method.path, identity, identity, body, new Metadata(), opts, (e) => resolve(e?.code ?? status.OK));
      }
    });
  };
  try {
    for (const method of Object.values(definition)) {
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < count; i = next++) {
          const name = `${method.path.split("/")[2]} ${status[await call(method, i)]}`;
          codes.set(name, (codes.get(name) ?? 0) + 1);
        }
      };
      await Promise.all(Array.from({ length: Math.min(16, count) }, worker));
    }
  } finally {
    client.close();
  }
  return codes;
}

/** Whether the service at `address` answers Health.Check with SERVING within 3 s. */
export async function healthy(mesh: Mesh, address: string): Promise<boolean> {
  const c = new HealthClient(address, mesh.credentials(), channelOptions());
  try {
    const r = await new Promise<{ status: ServingStatus }>((resolve, reject) =>
      c.check({ service: "" }, new Metadata(), { deadline: Date.now() + 3_000 }, (e, res) => (e ? reject(e) : resolve(res))),
    );
    return r.status === ServingStatus.SERVING;
  } catch {
    return false;
  } finally {
    c.close();
  }
}

/**
 * Starts sampling Health.Check latency at `address` (one check every `everyMs`) in a worker thread: its
 * own event loop, so this process's work (the streams of the scenario) is not counted in the health
 * answers' latency. Resolves once the worker is connected; `stop()` ends it and gives the samples.
 */
export async function startHealthSampler(mesh: Mesh, address: string, everyMs = 25): Promise<{ stop(): Promise<HealthSamples> }> {
  const tls = mesh.tls && { caFile: mesh.tls.caFile, certFile: mesh.tls.operator.certFile, keyFile: mesh.tls.operator.keyFile };
  const data: HealthWorkerData = { address, tls, everyMs };
  return startProbeWorker<HealthSamples>("./reliability-health-worker.js", data, "health sampler");
}

/** Starts the hint flooder (reliability-flood-worker.ts) on `natsUrl`; `stop()` ends it and gives the hints it sent. */
export async function startHintFlood(natsUrl: string): Promise<{ stop(): Promise<number> }> {
  const data: FloodWorkerData = { natsUrl };
  return startProbeWorker<number>("./reliability-flood-worker.js", data, "hint flooder");
}

/**
 * A probe in a worker thread of its own, speaking the probes' protocol: it posts "ready" once started,
 * and on "stop" posts its result and is ended. Resolves once it is ready.
 */
async function startProbeWorker<R>(file: string, workerData: unknown, what: string): Promise<{ stop(): Promise<R> }> {
  const worker = new Worker(new URL(file, import.meta.url), { workerData });
  const next = workerMessages(worker, what);
  await next(); // "ready"
  return {
    stop: async () => {
      worker.postMessage("stop");
      const result = (await next()) as R;
      await worker.terminate();
      return result;
    },
  };
}

/** The messages of a worker, one per call, in order; rejects if it fails or exits first. */
function workerMessages(worker: Worker, what: string): () => Promise<unknown> {
  const messages: unknown[] = [];
  let wake = () => {};
  worker.on("message", (m) => {
    messages.push(m);
    wake();
  });
  const exited = new Promise<never>((_, reject) => {
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`${what} exited (${code}) before it answered`)));
  });
  exited.catch(() => {}); // the exit after the last answer is expected
  return async () => {
    while (!messages.length) await Promise.race([new Promise<void>((r) => (wake = r)), exited]);
    return messages.shift();
  };
}

/** Resident memory of a process, MiB (from /proc). */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * CPU time of a process (every thread) and how long its threads were runnable but waiting for a CPU, ms
 * (from /proc/PID/task/TID/schedstat; threads that ended are not counted; `onlyThread`: that thread's
 * alone, e.g. the main thread, whose id is the pid). On a machine with CPUs to spare
 * the wait stays small; a wait of the order of the run time says the machine, not the process, set the pace.
 */
export function schedMs(pid: number, onlyThread?: number): { runMs: number; waitMs: number } {
  let run = 0;
  let wait = 0;
  for (const tid of onlyThread === undefined ? readdirSync(`/proc/${pid}/task`) : [String(onlyThread)]) {
    try {
      const [r, w] = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ").map(Number);
      run += r!;
      wait += w!;
    } catch {
      // the thread ended in between
    }
  }
  return { runMs: run / 1e6, waitMs: wait / 1e6 };
}

/**
 * What the processes of `pids` ran and waited for a CPU while `work` ran ("in T s the mesh's threads ran
 * X s and waited Y s for a CPU"), and the same for the main thread of `mainOf` as shares of the time.
 */
export async function schedDuring<T>(
  pids: readonly number[],
  mainOf: number,
  work: () => Promise<T>,
): Promise<{ result: T; sched: string; main: string }> {
  const total = () =>
    pids.map((p) => schedMs(p)).reduce((a, b) => ({ runMs: a.runMs + b.runMs, waitMs: a.waitMs + b.waitMs }), { runMs: 0, waitMs: 0 });
  const before = total();
  const main0 = schedMs(mainOf, mainOf);
  const t0 = performance.now();
  const result = await work();
  const wall = performance.now() - t0;
  const after = total();
  const main1 = schedMs(mainOf, mainOf);
  const s = (ms: number) => (ms / 1000).toFixed(1);
  const pc = (ms: number) => `${((100 * ms) / wall).toFixed(0)} %`;
  return {
    result,
    sched: `in ${s(wall)} s the mesh's threads ran ${s(after.runMs - before.runMs)} s and waited ${s(after.waitMs - before.waitMs)} s for a CPU`,
    main: `its main thread ran ${pc(main1.runMs - main0.runMs)} of the time and waited ${pc(main1.waitMs - main0.waitMs)} for a CPU`,
  };
}
