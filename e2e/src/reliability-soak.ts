// The reliability suite's soak (reliability-suite.ts): one request a second against a mesh of its own,
// resident memory of every process sampled every 5 s. Growth is the median of the last minute's samples
// minus the median of the first minute's after the warm-up (a single sample swings by tens of MiB with
// garbage collection); the least-squares trend over the whole soak is printed beside it, so that a step
// (a heap that grows once to its working size) reads differently from a leak (a steady slope). The
// warm-up counts requests, not seconds: V8 grows a busy process's young generation once, after some tens
// of requests, and on a slow machine 60 s hold fewer of them.
import type { ExpertMeshClient } from "@expertmesh/client";
import type { Mesh } from "@expertmesh/cli/launcher";
import { PROMPTS } from "./reference.js";
import { rssMiB, sleep, timedStream } from "./reliability-probes.js";
import { percentile } from "./reliability-table.js";

/** Requests before the first sample. */
export const SOAK_WARMUP_REQUESTS = 120;
/** Samples (one every 5 s) in each of the first and the last window. */
const WINDOW = 12;
/** The issue's bound: growth per process over the soak, MiB. */
export const SOAK_MAX_GROWTH_MIB = 10;

export interface SoakResult {
  ok: boolean;
  observed: string;
}

/** Least-squares slope of ys over xs. */
function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export async function soak(mesh: Mesh, client: ExpertMeshClient, seconds: number): Promise<SoakResult> {
  const procs = [
    ["router", mesh.router.process.pid],
    ...mesh.shards.map((sh, i) => [`shard-${i}`, sh.process.pid] as const),
    ...(mesh.predictor ? [["predictor", mesh.predictor.process.pid] as const] : []),
    ...(mesh.nats ? [["nats", mesh.nats.process.pid] as const] : []),
  ] as const;
  let failed = 0;
  let i = 0;
  const once = async () => {
    const t0 = Date.now();
    if ((await timedStream(client, PROMPTS[i % PROMPTS.length]!, 16)).code !== "OK") failed++;
    i++;
    await sleep(Math.max(0, 1_000 - (Date.now() - t0)));
  };
  while (i < SOAK_WARMUP_REQUESTS) await once();
  const start = Date.now();
  const times: number[] = [];
  const samples: number[][] = [];
  for (let next = start; Date.now() - start < seconds * 1_000; ) {
    await once();
    if (Date.now() >= next) {
      times.push((Date.now() - start) / 1_000);
      samples.push(procs.map(([, pid]) => rssMiB(pid)));
      next += 5_000;
    }
  }
  const window = Math.min(WINDOW, Math.floor(samples.length / 2));
  const med = (rows: number[][], j: number) =>
    percentile(
      rows.map((r) => r[j]!),
      50,
    );
  const per = procs.map(([name], j) => ({
    name,
    growth: med(samples.slice(-window), j) - med(samples.slice(0, window), j),
    trend: slope(
      times,
      samples.map((r) => r[j]!),
    ),
  }));
  const signed = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(1)}`;
  return {
    ok: failed === 0 && window > 0 && per.every((p) => p.growth <= SOAK_MAX_GROWTH_MIB),
    observed:
      `${per.map((p) => `${p.name} ${signed(p.growth)}`).join(", ")} MiB ` +
      `(trend per 10 min: ${per.map((p) => signed(p.trend * 600)).join(", ")}); ${i} requests, ${failed} failed`,
  };
}
