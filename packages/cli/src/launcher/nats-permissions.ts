// The nats-server authorization of a mesh: one user per service, each allowed only its own subjects.
// A shard publishes only its own heartbeat subject and reads hints; only routers publish hints and read
// heartbeats. So a process holding a shard's password cannot speak for another shard, and nothing but
// a router can flood the shards with hints. The same rules are in deploy/base/nats (configmap-nats.yaml).
import { HINTS_ALL, shardSubject, SHARDS_ALL } from "@expertmesh/runtime";

export interface NatsUser {
  readonly user: string;
  readonly password: string;
  readonly publish: readonly string[];
  readonly subscribe: readonly string[];
}

/** Replies of request/reply and the client's own flush/ping machinery. */
const INBOX = "_INBOX.>";

export function routerNatsUser(password: string, user = "router"): NatsUser {
  return {
    user,
    password,
    publish: ["expertmesh.v1.hints.>", INBOX],
    subscribe: [SHARDS_ALL, INBOX],
  };
}

export function shardNatsUser(shardId: number, password: string): NatsUser {
  return {
    user: `expert-shard-${shardId}`,
    password,
    publish: [shardSubject(String(shardId)), INBOX],
    subscribe: [HINTS_ALL, INBOX],
  };
}

export interface NatsServerConfigOptions {
  readonly host: string;
  readonly port: number;
  readonly users?: readonly NatsUser[];
  /** TLS of the NATS listener (clients verify it against their CA bundle). */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
}

/** nats-server configuration text (its own format; JSON strings are valid in it). */
export function natsServerConfig(o: NatsServerConfigOptions): string {
  const q = JSON.stringify;
  const lines = [`listen: ${q(`${o.host}:${o.port}`)}`];
  if (o.users !== undefined && o.users.length > 0) {
    lines.push("authorization {", "  users = [");
    for (const u of o.users) {
      lines.push(
        `    { user: ${q(u.user)}, password: ${q(u.password)}, permissions: { publish: { allow: ${q(u.publish)} }, subscribe: { allow: ${q(u.subscribe)} } } }`,
      );
    }
    lines.push("  ]", "}");
  }
  if (o.tls !== undefined) lines.push("tls {", `  cert_file: ${q(o.tls.certFile)}`, `  key_file: ${q(o.tls.keyFile)}`, "  timeout: 5", "}");
  return `${lines.join("\n")}\n`;
}
