// --tls-ca FILE [--tls-cert FILE --tls-key FILE] [--tls-server-name NAME]: how every CLI command that
// dials a mesh (generate --target, loadtest) speaks TLS / mTLS; the files are read by the runtime's
// readClientTls, the one place that turns them into credentials.
import { readClientTls, type TlsOptions } from "@expertmesh/runtime";
import { UsageError } from "./args.js";

export const TLS_FLAGS = {
  "tls-ca": { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-server-name": { type: "string" },
} as const;

export type TlsFlagValues = { [K in keyof typeof TLS_FLAGS]?: string | undefined };

/** TLS options from the flags; undefined (plaintext) when none is given. */
export function tlsFromFlags(v: TlsFlagValues): TlsOptions | undefined {
  if ((v["tls-cert"] === undefined) !== (v["tls-key"] === undefined)) throw new UsageError("--tls-cert and --tls-key go together (mTLS)");
  if (v["tls-ca"] === undefined && v["tls-cert"] === undefined && v["tls-server-name"] === undefined) return undefined;
  try {
    return readClientTls({ caFile: v["tls-ca"], certFile: v["tls-cert"], keyFile: v["tls-key"], serverName: v["tls-server-name"] });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
