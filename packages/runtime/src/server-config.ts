// The configuration keys that every server shares, declared once: TLS / mTLS (certificate files, CA
// bundle, client certificates, allowed peers, reload) and connection limits. A service spreads them
// into its defineConfig (flags --tls-cert ..., env EXPERTMESH_<SERVICE>_TLS_CERT ...) and hands
// `serverSecurity(config)` to createServer; `upstreamTls(config)` gives the same identity to its own
// client channels (mTLS between services: one certificate per service, one CA bundle).
import { ConfigError, type KeySpec } from "./config.js";
import type { ConnectionLimits } from "./listener.js";
import { CLIENT_AUTH_MODES, type ClientAuth, type ServerTlsOptions } from "./listener-tls.js";
import type { ServerLimits } from "./limits.js";
import type { ClientTlsFiles } from "./tls-credentials.js";

export const SERVER_CONFIG_KEYS = {
  tlsCert: {
    type: "string",
    description:
      "PEM certificate chain this service presents (as a server, and as a client to the services it calls); with --tls-key turns TLS on",
  },
  tlsKey: { type: "string", description: "PEM private key of --tls-cert" },
  tlsCa: {
    type: "string",
    description: "PEM CA bundle: client certificates must chain to it, and so must the certificates of the services this one calls",
  },
  tlsClientAuth: {
    type: "enum",
    values: CLIENT_AUTH_MODES,
    description:
      "client certificates: none, optional (checked when given) or require; default: the service's (require for internal services, optional for the router)",
  },
  tlsAllowedPeers: {
    type: "list",
    default: [],
    description:
      "identities a client certificate must name (DNS/URI SAN or CN; a trailing * matches a prefix, e.g. expert-shard-*); empty: any the CA signed",
  },
  tlsReloadInterval: {
    type: "duration",
    default: 30_000,
    min: 0,
    description: "how often certificate files are checked and reloaded when changed (0: never)",
  },
  maxConnections: { type: "int", default: 1_024, min: 1, description: "open client connections at most; more are closed at once" },
  maxConcurrentStreams: {
    type: "int",
    default: 256,
    min: 1,
    description: "concurrent calls per connection (HTTP/2 max concurrent streams)",
  },
  maxConnectionIdle: {
    type: "duration",
    default: 300_000,
    min: 0,
    description: "close a connection with no call for this long (0: never)",
  },
  maxConnectionAge: {
    type: "duration",
    default: 0,
    min: 0,
    description: "close (GOAWAY) a connection this old so clients rebalance (0: never)",
  },
  maxConnectionAgeGrace: {
    type: "duration",
    default: 300_000,
    min: 0,
    description: "after the max age, how long running calls may finish before the connection is cut",
  },
  minPingInterval: {
    type: "duration",
    default: 10_000,
    min: 0,
    description: "clients pinging more often than this (twice in a row, with no call between) are cut off with GOAWAY too_many_pings",
  },
} as const satisfies Record<string, KeySpec>;

/** The values of SERVER_CONFIG_KEYS, as a parsed config holds them. */
export interface ServerConfigValues {
  readonly tlsCert?: string | undefined;
  readonly tlsKey?: string | undefined;
  readonly tlsCa?: string | undefined;
  readonly tlsClientAuth?: string | undefined;
  readonly tlsAllowedPeers: readonly string[];
  readonly tlsReloadInterval: number;
  readonly maxConnections: number;
  readonly maxConcurrentStreams: number;
  readonly maxConnectionIdle: number;
  readonly maxConnectionAge: number;
  readonly maxConnectionAgeGrace: number;
  readonly minPingInterval: number;
}

export interface ServerSecurity {
  readonly tls: ServerTlsOptions | undefined;
  readonly limits: Partial<ServerLimits>;
  readonly connections: Partial<ConnectionLimits>;
}

/** createServer's tls, limits and connections from the shared keys; throws ConfigError for a half-given pair. */
export function serverSecurity(c: ServerConfigValues, defaults: { clientAuth: ClientAuth }): ServerSecurity {
  if ((c.tlsCert === undefined) !== (c.tlsKey === undefined)) {
    const [key, other] = c.tlsCert === undefined ? ["tlsCert", "tlsKey"] : ["tlsKey", "tlsCert"];
    throw new ConfigError(
      key,
      `--${kebab(key)}`,
      undefined,
      `config ${key}: required with ${other} (--${kebab(other)}): TLS needs both a certificate and its key`,
    );
  }
  const clientAuth = (c.tlsClientAuth as ClientAuth | undefined) ?? (c.tlsCa === undefined ? "none" : defaults.clientAuth);
  if (clientAuth !== "none" && c.tlsCa === undefined && c.tlsCert !== undefined) {
    throw new ConfigError(
      "tlsCa",
      "--tls-ca",
      undefined,
      `config tlsCa: required with tlsClientAuth ${clientAuth}: client certificates are checked against the CA bundle`,
    );
  }
  const tls: ServerTlsOptions | undefined =
    c.tlsCert === undefined || c.tlsKey === undefined
      ? undefined
      : {
          certFile: c.tlsCert,
          keyFile: c.tlsKey,
          ...(c.tlsCa === undefined ? {} : { caFile: c.tlsCa }),
          clientAuth,
          allowedPeers: [...c.tlsAllowedPeers],
          reloadIntervalMs: c.tlsReloadInterval,
        };
  return {
    tls,
    limits: {
      maxConcurrentStreams: c.maxConcurrentStreams,
      maxConnectionIdleMs: c.maxConnectionIdle || undefined,
      maxConnectionAgeMs: c.maxConnectionAge || undefined,
      maxConnectionAgeGraceMs: c.maxConnectionAge ? c.maxConnectionAgeGrace : undefined,
    },
    connections: { maxConnections: c.maxConnections, minPingIntervalMs: c.minPingInterval },
  };
}

/** The TLS of this service's own client channels: its certificate (mTLS) and the CA bundle; undefined: plaintext. */
export function upstreamTls(c: Pick<ServerConfigValues, "tlsCert" | "tlsKey" | "tlsCa">): ClientTlsFiles | undefined {
  if (c.tlsCa === undefined) return undefined;
  return { caFile: c.tlsCa, ...(c.tlsCert !== undefined && c.tlsKey !== undefined ? { certFile: c.tlsCert, keyFile: c.tlsKey } : {}) };
}

function kebab(key: string): string {
  return key.replace(/[A-Z]/g, (ch) => `-${ch.toLowerCase()}`);
}
