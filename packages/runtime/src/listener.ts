// The socket side of every gRPC server: a net (plaintext) or tls (TLS / mTLS) listener in front of
// grpc-js, which receives each accepted connection through its connection injector. Owning the
// listener gives what grpc-js's own bind lacks:
//   - a cap on open connections (more are closed at once, counted as refused "cap");
//   - a TLS handshake timeout, client certificates none / optional / required, the names a client
//     certificate must carry, and certificates reloaded from their files without a restart (listener-tls.ts);
//   - keepalive enforcement: too-frequent pings get GOAWAY too_many_pings (listener-pings.ts).
// Idle timeout, connection age + grace, concurrent streams and keepalive are grpc-js's (limits.ts).
import { createServer as createNetServer, type Server as NetServer, type Socket } from "node:net";
import type { ServerHttp2Session } from "node:http2";
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import { ServerCredentials, type Server as GrpcServer } from "@grpc/grpc-js";
import type { EventEmitter } from "node:events";
import { clientAuthOf, refusePeer, secureContextOptions, watchTlsFiles, type ServerTlsOptions } from "./listener-tls.js";
import { policePings } from "./listener-pings.js";
import type { Logger } from "./logger.js";
import type { MeshMetrics } from "./metrics-registry.js";

export interface ConnectionLimits {
  /** Open connections at most; more are closed as soon as they are accepted. */
  readonly maxConnections: number;
  /** A TLS handshake not finished in this time is dropped. */
  readonly handshakeTimeoutMs: number;
  /** Pings closer together than this (with no new stream between them) are strikes. */
  readonly minPingIntervalMs: number;
  /** Strikes allowed before the connection is closed with GOAWAY too_many_pings. */
  readonly maxPingStrikes: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = Object.freeze({
  maxConnections: 1_024,
  handshakeTimeoutMs: 10_000,
  minPingIntervalMs: 10_000,
  maxPingStrikes: 2,
});

export interface ListenerOptions {
  readonly host: string;
  readonly port: number;
  readonly tls?: ServerTlsOptions | undefined;
  readonly limits?: Partial<ConnectionLimits>;
  readonly logger: Logger;
  readonly metrics: MeshMetrics;
}

export interface Listener {
  /** The port bound (the real one when 0 was asked). */
  readonly port: number;
  readonly secure: boolean;
  /** Connections open now. */
  readonly open: number;
  /** Stops accepting connections (open ones are left to grpc-js's shutdown). */
  close(): void;
  /** Closes every open socket at once. */
  destroyAll(): void;
}

export async function listen(grpcServer: GrpcServer, o: ListenerOptions): Promise<Listener> {
  const limits = { ...DEFAULT_CONNECTION_LIMITS, ...definedOnly(o.limits ?? {}) };
  const { logger, metrics } = o;
  const injector = grpcServer.createConnectionInjector(ServerCredentials.createInsecure());
  const h2 = lastHttp2Server(grpcServer);
  h2.on("session", (session: ServerHttp2Session) =>
    policePings(session, limits, () => {
      metrics.connectionsRefused.inc({ reason: "pings" });
      logger.warn("connection closed: too many pings", {
        remote: session.socket?.remoteAddress,
        minPingIntervalMs: limits.minPingIntervalMs,
      });
    }),
  );

  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    metrics.connectionsOpen.set(sockets.size);
    socket.once("close", () => {
      sockets.delete(socket);
      metrics.connectionsOpen.set(sockets.size);
    });
    socket.on("error", () => undefined); // resets by clients are normal; grpc-js sees the session end
  };

  let server: NetServer;
  let stopWatching = () => {};
  if (o.tls === undefined) {
    server = createNetServer((socket) => {
      track(socket);
      socket.setNoDelay(true);
      injector.injectConnection(socket);
    });
  } else {
    const tls = o.tls;
    const mode = clientAuthOf(tls);
    const allowed = tls.allowedPeers ?? [];
    const tlsServer = createTlsServer({
      ...secureContextOptions(tls),
      requestCert: mode !== "none",
      rejectUnauthorized: mode === "require",
      ALPNProtocols: ["h2"],
      minVersion: "TLSv1.2",
      handshakeTimeout: limits.handshakeTimeoutMs,
    });
    tlsServer.on("connection", (socket: Socket) => {
      track(socket);
      socket.setNoDelay(true);
    });
    tlsServer.on("secureConnection", (socket: TLSSocket) => {
      const why = refusePeer(socket, mode, allowed);
      if (why !== undefined) {
        metrics.connectionsRefused.inc({ reason: "peer" });
        logger.warn("connection refused", { remote: socket.remoteAddress, reason: why });
        socket.destroy();
        return;
      }
      injector.injectConnection(socket);
    });
    tlsServer.on("tlsClientError", (error, socket) => {
      metrics.connectionsRefused.inc({ reason: "tls" });
      logger.warn("tls handshake failed", { remote: socket.remoteAddress, error: error.message });
    });
    stopWatching = watchTlsFiles(
      tls,
      (options) => {
        tlsServer.setSecureContext(options);
        logger.info("tls certificates reloaded", { certFile: tls.certFile });
      },
      (error) => logger.error("tls reload failed; keeping the previous certificates", { error: error.message }),
    );
    server = tlsServer;
  }
  server.maxConnections = limits.maxConnections;
  server.on("drop", () => metrics.connectionsRefused.inc({ reason: "cap" }));

  const port = await new Promise<number>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, o.host, () => {
      server.off("error", reject);
      resolve((server.address() as { port: number }).port);
    });
  });
  server.on("error", (error) => logger.error("listener error", { error }));
  return {
    port,
    secure: o.tls !== undefined,
    get open() {
      return sockets.size;
    },
    close: () => {
      stopWatching();
      server.close();
    },
    destroyAll: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}

/**
 * The http2 server that createConnectionInjector just made (grpc-js keeps its servers in a private
 * map and emits no event): its "session" events are where pings can be policed. Checked by the ping
 * test in listener.test.ts, which fails if a grpc-js upgrade moves the map.
 */
function lastHttp2Server(grpcServer: GrpcServer): EventEmitter {
  const servers = (grpcServer as unknown as { http2Servers?: Map<EventEmitter, unknown> }).http2Servers;
  const last = servers === undefined ? undefined : [...servers.keys()].at(-1);
  if (last === undefined) throw new Error("grpc-js: no http2 server behind the connection injector (grpc-js internals changed?)");
  return last;
}

function definedOnly<T extends object>(partial: Partial<T>): Partial<T> {
  return Object.fromEntries(Object.entries(partial).filter(([, value]) => value !== undefined)) as Partial<T>;
}
