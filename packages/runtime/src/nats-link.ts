// A service's NATS connection, built so that NATS being down never stops serving: creating a link
// never waits; it connects in the background and reconnects forever (maxReconnectAttempts -1).
// publish() sends only while connected (the client would otherwise buffer, then drop on a failed
// reconnect) and counts what it drops; subscriptions made before the first connection are applied
// once it is up, and the client renews them after each reconnect.

import { connect, type Msg, type NatsConnection, type NodeConnectionOptions, type Subscription } from "@nats-io/transport-node";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "./logger.js";

export interface NatsLinkOptions {
  /** Server URLs, e.g. ["nats://127.0.0.1:4222"]. */
  readonly servers: readonly string[];
  /** Client name shown by the server (e.g. "expert-shard-0"). */
  readonly name: string;
  readonly logger: Logger;
  /** Wait between reconnection attempts; default 2 s (the client's default). */
  readonly reconnectTimeWaitMs?: number;
  /** Further client options (auth, TLS); the reconnect policy above is kept. */
  readonly connection?: Omit<NodeConnectionOptions, "servers" | "name" | "maxReconnectAttempts" | "reconnectTimeWait">;
}

export interface NatsLinkStats {
  readonly published: number;
  /** Messages not sent because the link was not connected. */
  readonly dropped: number;
  readonly disconnects: number;
  readonly reconnects: number;
}

export interface NatsLink {
  /** Whether messages published now are sent. */
  readonly connected: boolean;
  readonly stats: NatsLinkStats;
  /** Sends `data` if connected; returns false (and counts a drop) otherwise. Never throws for a down server. */
  publish(subject: string, data: Uint8Array | string): boolean;
  /** Calls `onMessage` for each message on `subject` (wildcards allowed); returns an unsubscribe function. */
  subscribe(subject: string, onMessage: (msg: Msg) => void): () => void;
  /** Resolves once connected the first time (rejects if closed before); for tests and start-up ordering, not required. */
  ready(): Promise<void>;
  /** Flushes, closes, and stops reconnecting. */
  close(): Promise<void>;
}

export function createNatsLink(options: NatsLinkOptions): NatsLink {
  const { logger } = options;
  const reconnectTimeWait = options.reconnectTimeWaitMs ?? 2_000;
  let nc: NatsConnection | undefined;
  let connected = false;
  const stats = { published: 0, dropped: 0, disconnects: 0, reconnects: 0 };
  const wanted = new Map<number, { subject: string; onMessage: (msg: Msg) => void; sub?: Subscription }>();
  let nextId = 0;

  const apply = (entry: { subject: string; onMessage: (msg: Msg) => void; sub?: Subscription }): void => {
    if (nc === undefined || entry.sub !== undefined) return;
    entry.sub = nc.subscribe(entry.subject, {
      callback: (error, msg) => {
        if (error) logger.warn("nats subscription error", { subject: entry.subject, error });
        else entry.onMessage(msg);
      },
    });
  };

  // The first connection is retried here rather than with the client's waitOnFirstConnect, so that
  // close() can stop the attempts (a pending connect() cannot be cancelled). After it, the client
  // reconnects by itself, forever.
  const stop = new AbortController();
  let announced = false;
  const connecting = (async (): Promise<void> => {
    for (;;) {
      stop.signal.throwIfAborted();
      let connection: NatsConnection;
      try {
        connection = await connect({
          ...options.connection,
          servers: [...options.servers],
          name: options.name,
          maxReconnectAttempts: -1,
          reconnectTimeWait,
        });
      } catch (error) {
        if (!announced) logger.warn("nats unreachable; serving without it, retrying", { servers: options.servers, error });
        announced = true;
        await sleep(reconnectTimeWait, undefined, { signal: stop.signal });
        continue;
      }
      if (stop.signal.aborted) {
        await connection.close();
        stop.signal.throwIfAborted();
      }
      nc = connection;
      connected = true;
      logger.info("nats connected", { server: connection.getServer() });
      for (const entry of wanted.values()) apply(entry);
      void watchStatus(connection);
      return;
    }
  })();
  connecting.catch(() => undefined); // only ready() callers see a close before the first connection

  async function watchStatus(connection: NatsConnection): Promise<void> {
    for await (const status of connection.status()) {
      if (status.type === "disconnect") {
        connected = false;
        stats.disconnects++;
        logger.warn("nats disconnected", { server: status.server });
      } else if (status.type === "reconnect") {
        connected = true;
        stats.reconnects++;
        logger.info("nats reconnected", { server: status.server });
      } else if (status.type === "close") {
        connected = false;
      }
    }
  }

  return {
    get connected() {
      return connected && nc !== undefined && !nc.isClosed();
    },
    get stats() {
      return { ...stats };
    },
    publish(subject, data) {
      if (!this.connected) {
        stats.dropped++;
        return false;
      }
      try {
        nc!.publish(subject, data);
        stats.published++;
        return true;
      } catch (error) {
        // e.g. the connection closed between the check and the call, or the payload is too large
        stats.dropped++;
        logger.warn("nats publish failed", { subject, error });
        return false;
      }
    },
    subscribe(subject, onMessage) {
      const id = nextId++;
      const entry = { subject, onMessage };
      wanted.set(id, entry);
      apply(entry);
      return () => {
        const current = wanted.get(id);
        wanted.delete(id);
        current?.sub?.unsubscribe();
      };
    },
    ready: () => connecting,
    async close() {
      stop.abort(new Error("nats link closed"));
      if (nc === undefined) return; // a pending first attempt closes its connection when it succeeds
      if (!nc.isClosed()) {
        await nc.flush().catch(() => undefined);
        await nc.close();
      }
      connected = false;
    },
  };
}
