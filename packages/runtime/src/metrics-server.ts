// The plaintext HTTP endpoint of a service, apart from its gRPC port: `/metrics` for Prometheus, and
// the probes that Kubernetes uses (`/healthz`: 200 while serving, 503 while draining or not ready;
// `/livez`: 200 while the process answers). createServer starts one when given `metricsPort`.

import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { defaultMetrics, type MeshMetrics } from "./metrics-registry.js";

export interface MetricsServerOptions {
  /** 0: any free port (read it back from `port`). */
  readonly port: number;
  /** Default "127.0.0.1" (set "0.0.0.0" or "::" in a container, so that Prometheus and probes reach it). */
  readonly host?: string;
  /** Default: the process's `defaultMetrics()`. */
  readonly metrics?: MeshMetrics;
  /** Whether `/healthz` answers 200; default: always. createServer passes its health registry's overall status. */
  readonly healthy?: () => boolean;
}

export interface MetricsServer {
  readonly host: string;
  readonly port: number;
  /** "http://host:port". */
  readonly url: string;
  /** Stops listening and closes open connections. */
  close(): Promise<void>;
}

export async function startMetricsServer(options: MetricsServerOptions): Promise<MetricsServer> {
  const metrics = options.metrics ?? defaultMetrics();
  const healthy = options.healthy ?? (() => true);
  const host = options.host ?? "127.0.0.1";
  const http = createHttpServer((request, response) => void answer(request, response, metrics, healthy));
  http.keepAliveTimeout = 65_000; // longer than Prometheus's scrape interval: one connection per scraper
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port, host, () => {
      http.removeListener("error", reject);
      resolve();
    });
  });
  const { port } = http.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    host,
    port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      })),
  };
}

async function answer(request: IncomingMessage, response: ServerResponse, metrics: MeshMetrics, healthy: () => boolean): Promise<void> {
  const path = (request.url ?? "/").split("?")[0];
  if (request.method !== "GET" && request.method !== "HEAD") return send(response, 405, "method not allowed\n", { allow: "GET, HEAD" });
  try {
    switch (path) {
      case "/metrics":
        return send(response, 200, await metrics.text(), { "content-type": metrics.contentType });
      case "/healthz":
        return healthy() ? send(response, 200, "ok\n") : send(response, 503, "not serving\n");
      case "/livez":
        return send(response, 200, "ok\n");
      default:
        return send(response, 404, "not found: try /metrics, /healthz or /livez\n");
    }
  } catch (error) {
    send(response, 500, `${error instanceof Error ? error.message : String(error)}\n`);
  }
}

function send(response: ServerResponse, code: number, body: string, headers: Record<string, string> = {}): void {
  response.writeHead(code, { "content-type": "text/plain; charset=utf-8", ...headers });
  response.end(response.req.method === "HEAD" ? undefined : body);
}
