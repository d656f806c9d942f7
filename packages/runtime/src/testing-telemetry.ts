// Shared by the telemetry tests (not exported from index.ts): two shard servers where A forwards each
// RunExperts to B (inside a `withSpan`, with ctx.downstream()), and a reader for the trace file.

import type { ExpertShardServiceClient, RunExpertsRequest } from "@expertmesh/proto";
import { existsSync, readFileSync } from "node:fs";
import { silentLogger } from "./logger.js";
import type { MeshMetrics } from "./metrics-registry.js";
import { createServer, type Server } from "./server.js";
import type { SpanRecord } from "./telemetry-file.js";
import { withSpan } from "./telemetry-trace.js";
import { testShardClient, testShardService, unary } from "./testing.js";

export interface ForwardingPair {
  readonly a: Server;
  readonly b: Server;
  /** A client of A (built with channelOptions(): traced). */
  readonly client: ExpertShardServiceClient;
  close(): void;
}

export async function forwardingPair(options: { metrics?: MeshMetrics } = {}): Promise<ForwardingPair> {
  const quiet = { signals: [], logger: silentLogger, ...(options.metrics ? { metrics: options.metrics } : {}) } as const;
  const b = await createServer({ name: "b", services: [testShardService()], ...quiet });
  const toB = testShardClient(b.address);
  const a = await createServer({
    name: "a",
    services: [
      testShardService({
        beforeRunExperts: async (request, ctx) => {
          await withSpan("a.forward", { "expertmesh.layer": request.layer }, () =>
            unary(toB.runExperts.bind(toB), request, ctx.downstream()),
          );
        },
      }),
    ],
    ...quiet,
  });
  const client = testShardClient(a.address);
  return {
    a,
    b,
    client,
    close: () => {
      client.close();
      toB.close();
      a.forceShutdown();
      b.forceShutdown();
    },
  };
}

export function runExperts(client: ExpertShardServiceClient, request: RunExpertsRequest) {
  return unary(client.runExperts.bind(client), request);
}

export function readSpans(file: string): SpanRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as SpanRecord);
}
