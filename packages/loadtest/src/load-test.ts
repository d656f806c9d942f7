// A whole load test: prompts, the shards' cache statistics before and after, the run, the summary and
// the plot. What `expertmesh loadtest` calls; usable from code too.
import { writeFileSync } from "node:fs";
import { channelCredentials, ExpertMeshClient, type ClientOptions, type SamplingParams } from "@expertmesh/client";
import { grpcBackend, type GenerationBackend } from "./backend.js";
import { openAiBackend } from "./backend-openai.js";
import { cacheReport, readCacheStats, type CacheSnapshot, type ShardCacheReport } from "./cache-stats.js";
import { generatedPrompts, promptsFromFile, type Prompt } from "./prompts.js";
import { plotHtml, plotSvg } from "./plot.js";
import { seededRandom } from "./random.js";
import type { RequestRecord } from "./request-record.js";
import { runLoad, type LoadModel, type RunResult } from "./run.js";
import { summarize, type Objectives, type Summary } from "./summary.js";

export interface LoadTestOptions {
  readonly target: string;
  /** The API to drive: the gRPC InferenceService (default) or an OpenAI-compatible HTTP server at `target`. */
  readonly api?: "grpc" | "openai";
  /** Model name sent over the OpenAI API; default: the first that /v1/models lists. */
  readonly model?: string;
  readonly client?: Omit<ClientOptions, "retry">;
  readonly load: LoadModel;
  /** A file of prompts, or generated prompts of [min, max] tokens (`count` of them, reused round-robin). */
  readonly prompts: { file: string } | { minTokens: number; maxTokens: number; count: number };
  readonly sampling: SamplingParams;
  readonly warmupS: number;
  readonly durationS: number;
  readonly maxRequests: number;
  readonly requestTimeoutMs: number;
  readonly objectives: Objectives;
  /** Shard addresses whose CacheStats are read before and after. */
  readonly shards: readonly string[];
  /** Where to write the plot (.svg, or .html for a page with the numbers); undefined: none. */
  readonly plotPath?: string;
  readonly windowS?: number;
  readonly seed: number;
  readonly signal?: AbortSignal;
  /** Called as each request ends (warm-up ones too): for progress reports. */
  readonly onRequestEnd?: (r: RequestRecord) => void;
}

export interface LoadTestReport {
  target: string;
  api: "grpc" | "openai";
  startedAt: string;
  load: LoadModel;
  warmupS: number;
  durationS: number;
  maxRequests: number;
  sampling: SamplingParams;
  prompts: { source: string; distinct: number; meanTokens: number | null };
  summary: Summary;
  cache: ShardCacheReport[];
  plot: string | null;
}

export async function loadTest(o: LoadTestOptions): Promise<{ report: LoadTestReport; run: RunResult }> {
  // No retries: a retried request would hide the failure that the report is there to show.
  const api = o.api ?? "grpc";
  const client: GenerationBackend =
    api === "openai" ? openAiBackend(o.target, o.model) : grpcBackend(new ExpertMeshClient(o.target, { ...o.client, retry: false }));
  try {
    const rand = seededRandom(o.seed ^ 0x5eed);
    let prompts: Prompt[];
    let source: string;
    if ("file" in o.prompts) {
      prompts = promptsFromFile(o.prompts.file);
      source = o.prompts.file;
    } else {
      prompts = await generatedPrompts(client, o.prompts.count, o.prompts.minTokens, o.prompts.maxTokens, rand);
      source = `generated, ${o.prompts.minTokens}-${o.prompts.maxTokens} tokens`;
    }
    // The shards are read with the same identity as the router (an mTLS mesh accepts only known certificates).
    const shardCreds = o.client?.credentials ?? channelCredentials(o.client?.tls);
    let before: Promise<CacheSnapshot> = readCacheStats(o.shards, shardCreds);
    const run = await runLoad(client, {
      load: o.load,
      prompts,
      sampling: o.sampling,
      warmupS: o.warmupS,
      durationS: o.durationS,
      maxRequests: o.maxRequests,
      requestTimeoutMs: o.requestTimeoutMs,
      seed: o.seed,
      signal: o.signal,
      onRequestEnd: o.onRequestEnd,
      onWarmupEnd: () => {
        if (o.warmupS > 0) before = readCacheStats(o.shards, shardCreds);
      },
    });
    const cache = cacheReport(await before, await readCacheStats(o.shards, shardCreds));
    const summary = summarize(run, o.objectives, o.windowS);
    const measured = prompts.filter((p) => p.tokens !== undefined);
    const report: LoadTestReport = {
      target: o.target,
      api,
      startedAt: new Date(run.startedAt).toISOString(),
      load: o.load,
      warmupS: o.warmupS,
      durationS: o.durationS,
      maxRequests: o.maxRequests,
      sampling: o.sampling,
      prompts: {
        source,
        distinct: prompts.length,
        meanTokens: measured.length ? measured.reduce((a, p) => a + p.tokens!, 0) / measured.length : null,
      },
      summary,
      cache,
      plot: o.plotPath ?? null,
    };
    if (o.plotPath) {
      const input = {
        title: `expertmesh loadtest ${o.target}: ${describeLoad(o.load)}, ${run.startedAt ? report.startedAt : ""}`,
        records: run.records,
        windows: summary.windows,
        windowS: summary.windowS,
        warmupS: o.warmupS,
        endS: run.endMs / 1000,
      };
      writeFileSync(o.plotPath, o.plotPath.endsWith(".html") ? plotHtml(input) : plotSvg(input));
    }
    return { report, run };
  } finally {
    client.close();
  }
}

export function describeLoad(l: LoadModel): string {
  return l.kind === "open"
    ? `open loop, ${l.rate} req/s ${l.burstiness === 1 ? "Poisson" : `gamma arrivals (burstiness ${l.burstiness})`}, at most ${l.maxInFlight} in flight`
    : `closed loop, concurrency ${l.concurrency}`;
}
