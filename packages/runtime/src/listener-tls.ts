// Server-side TLS of a listener (listener.ts): the certificate, key and CA bundle read from files, client
// certificates none / optional / required, the names a client certificate must carry, and reloading the
// files without a restart (checked every `reloadIntervalMs`: a renewed cert-manager Secret is picked
// up by new connections; a reload that fails keeps the last good files and is logged).
import { statSync } from "node:fs";
import { createSecureContext, type PeerCertificate, type SecureContextOptions, type TLSSocket } from "node:tls";
import { readPem } from "./tls-credentials.js";

/** Client certificates: not asked for; checked when given; required. */
export type ClientAuth = "none" | "optional" | "require";
export const CLIENT_AUTH_MODES: readonly ClientAuth[] = Object.freeze(["none", "optional", "require"]);

export interface ServerTlsOptions {
  /** PEM certificate chain this server presents. */
  readonly certFile: string;
  /** Its private key. */
  readonly keyFile: string;
  /** CA bundle that client certificates must chain to (needed unless clientAuth is "none"). */
  readonly caFile?: string;
  /** Default "none" without caFile, "require" with it. */
  readonly clientAuth?: ClientAuth;
  /**
   * Identities a client certificate must name (one of them, as a DNS or URI subject alternative name or
   * the CN); a trailing "*" matches any suffix ("expert-shard-*"). Empty: any certificate the CA signed.
   */
  readonly allowedPeers?: readonly string[];
  /** How often the files are checked for changes; 0: never. Default 30 s. */
  readonly reloadIntervalMs?: number;
}

/** Reads the files into tls options; throws an Error naming the file that cannot be read. */
export function secureContextOptions(o: ServerTlsOptions): SecureContextOptions {
  return {
    cert: readPem(o.certFile, "certificate"),
    key: readPem(o.keyFile, "private key"),
    ...(o.caFile === undefined ? {} : { ca: readPem(o.caFile, "CA bundle") }),
  };
}

export function clientAuthOf(o: ServerTlsOptions): ClientAuth {
  const mode = o.clientAuth ?? (o.caFile === undefined ? "none" : "require");
  if (mode !== "none" && o.caFile === undefined) throw new TypeError(`tls: client certificates (${mode}) need a CA bundle (caFile)`);
  return mode;
}

/** The identities a certificate names: DNS and URI subject alternative names, and the CN. */
export function certificateNames(cert: PeerCertificate): string[] {
  const names = (cert.subjectaltname ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.startsWith("DNS:") || s.startsWith("URI:"))
    .map((s) => s.slice(4));
  const cn = cert.subject?.CN;
  if (typeof cn === "string") names.push(cn);
  return names;
}

/** Whether one of `names` matches one of `allowed` (exact, or a prefix before a trailing "*"). */
export function namesAllowed(names: readonly string[], allowed: readonly string[]): boolean {
  if (allowed.length === 0) return true;
  return names.some((n) => allowed.some((a) => (a.endsWith("*") ? n.startsWith(a.slice(0, -1)) : n === a)));
}

/**
 * Why an established TLS connection must be closed, or undefined to serve it: a client certificate that
 * fails verification (in optional mode the handshake lets it through), or one that names no allowed peer.
 */
export function refusePeer(socket: TLSSocket, mode: ClientAuth, allowed: readonly string[]): string | undefined {
  if (mode === "none") return undefined;
  const cert = socket.getPeerCertificate();
  const presented = cert !== null && Object.keys(cert).length > 0;
  if (!presented) return mode === "require" ? "no client certificate" : undefined;
  if (!socket.authorized) return `client certificate not trusted: ${String(socket.authorizationError)}`;
  if (!namesAllowed(certificateNames(cert), allowed)) {
    return `client certificate names ${JSON.stringify(certificateNames(cert))}, none of the allowed peers ${JSON.stringify(allowed)}`;
  }
  return undefined;
}

/** Calls `onChange` with fresh options when one of the files changes (mtime or size); returns a stop function. */
export function watchTlsFiles(
  o: ServerTlsOptions,
  onChange: (options: SecureContextOptions) => void,
  onError: (error: Error) => void,
): () => void {
  const interval = o.reloadIntervalMs ?? 30_000;
  if (interval <= 0) return () => {};
  const files = [o.certFile, o.keyFile, ...(o.caFile === undefined ? [] : [o.caFile])];
  const stamp = () =>
    files
      .map((f) => {
        try {
          const s = statSync(f);
          return `${s.mtimeMs}:${s.size}`;
        } catch {
          return "missing";
        }
      })
      .join("|");
  let last = stamp();
  const timer = setInterval(() => {
    const now = stamp();
    if (now === last) return;
    try {
      const options = secureContextOptions(o);
      createSecureContext(options); // throws on a key that does not match, a malformed PEM, ...
      onChange(options);
      last = now;
    } catch (error) {
      onError(error as Error);
    }
  }, interval);
  timer.unref();
  return () => clearInterval(timer);
}
