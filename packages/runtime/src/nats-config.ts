// The NATS configuration keys that every service shares, declared once: authentication (a user and
// password, a token, or an NKeys/JWT credentials file) and TLS (the server verified against a CA
// bundle; a client certificate for servers that verify clients). A service spreads NATS_CONFIG_KEYS
// into its defineConfig and hands `natsConnectionOptions(config)` to createNatsLink. Secrets are best
// given by environment (EXPERTMESH_<SERVICE>_NATS_PASSWORD) or file, not by flag (flags show in `ps`).
import { readFileSync } from "node:fs";
import { credsAuthenticator, type NodeConnectionOptions } from "@nats-io/transport-node";
import { ConfigError, type KeySpec } from "./config.js";

export const NATS_CONFIG_KEYS = {
  natsUser: {
    type: "string",
    description: "NATS user name (with --nats-password); the subjects it may use are set by the server's permissions",
  },
  natsPassword: { type: "string", description: "NATS password of --nats-user (prefer the environment variable)" },
  natsToken: { type: "string", description: "NATS authentication token (instead of a user and password)" },
  natsCreds: { type: "string", description: "NATS credentials file (NKeys/JWT, as made by nsc) instead of a user or token" },
  natsCa: { type: "string", description: "PEM CA bundle that the NATS server's certificate must chain to; turns TLS to NATS on" },
  natsCert: { type: "string", description: "PEM client certificate for NATS servers that verify clients (with --nats-key)" },
  natsKey: { type: "string", description: "PEM private key of --nats-cert" },
} as const satisfies Record<string, KeySpec>;

export interface NatsConfigValues {
  readonly natsUser?: string | undefined;
  readonly natsPassword?: string | undefined;
  readonly natsToken?: string | undefined;
  readonly natsCreds?: string | undefined;
  readonly natsCa?: string | undefined;
  readonly natsCert?: string | undefined;
  readonly natsKey?: string | undefined;
}

/** Client options (auth, TLS) for createNatsLink's `connection`; throws ConfigError for conflicting keys. */
export function natsConnectionOptions(c: NatsConfigValues): Omit<NodeConnectionOptions, "servers"> {
  const methods = [
    c.natsUser !== undefined && "natsUser",
    c.natsToken !== undefined && "natsToken",
    c.natsCreds !== undefined && "natsCreds",
  ].filter(Boolean);
  if (methods.length > 1)
    throw new ConfigError(
      String(methods[1]),
      "",
      undefined,
      `config ${methods[1]}: give one NATS authentication, not ${methods.join(" and ")}`,
    );
  if ((c.natsUser === undefined) !== (c.natsPassword === undefined)) {
    const key = c.natsUser === undefined ? "natsUser" : "natsPassword";
    throw new ConfigError(key, "", undefined, `config ${key}: natsUser and natsPassword go together`);
  }
  if ((c.natsCert === undefined) !== (c.natsKey === undefined)) {
    const key = c.natsCert === undefined ? "natsCert" : "natsKey";
    throw new ConfigError(key, "", undefined, `config ${key}: natsCert and natsKey go together`);
  }
  const out: Omit<NodeConnectionOptions, "servers"> = {};
  if (c.natsUser !== undefined) Object.assign(out, { user: c.natsUser, pass: c.natsPassword });
  if (c.natsToken !== undefined) Object.assign(out, { token: c.natsToken });
  if (c.natsCreds !== undefined) {
    let creds: Uint8Array;
    try {
      creds = readFileSync(c.natsCreds);
    } catch (error) {
      throw new ConfigError(
        "natsCreds",
        "",
        c.natsCreds,
        `config natsCreds: cannot read ${JSON.stringify(c.natsCreds)}: ${(error as Error).message}`,
      );
    }
    Object.assign(out, { authenticator: credsAuthenticator(creds) });
  }
  if (c.natsCa !== undefined || c.natsCert !== undefined) {
    Object.assign(out, {
      tls: {
        ...(c.natsCa === undefined ? {} : { caFile: c.natsCa }),
        ...(c.natsCert === undefined ? {} : { certFile: c.natsCert, keyFile: c.natsKey }),
      },
    });
  }
  return out;
}
