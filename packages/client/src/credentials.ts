// Channel credentials from plain options: plaintext (the default), TLS (server verified against `ca`,
// or the system roots), and mTLS (TLS plus this client's certificate and key).
import { credentials, type ChannelCredentials } from "@grpc/grpc-js";

/** PEM text or bytes. */
export type Pem = string | Buffer;

export interface TlsOptions {
  /** CA certificate(s) that sign the server's certificate; default: Node's root certificates. */
  readonly ca?: Pem;
  /** This client's certificate chain, for mTLS (needs `key`). */
  readonly cert?: Pem;
  /** This client's private key, for mTLS (needs `cert`). */
  readonly key?: Pem;
  /** Name to check the server's certificate against when it differs from the target's host. */
  readonly serverName?: string;
}

/** Credentials for `tls` (true: TLS with the system roots); undefined/false: plaintext. */
export function channelCredentials(tls: TlsOptions | boolean | undefined): ChannelCredentials {
  if (tls === undefined || tls === false) return credentials.createInsecure();
  const o: TlsOptions = tls === true ? {} : tls;
  if ((o.cert === undefined) !== (o.key === undefined)) {
    throw new TypeError(`tls: mTLS needs both cert and key, got only ${o.cert === undefined ? "key" : "cert"}`);
  }
  return credentials.createSsl(bytes(o.ca), bytes(o.key), bytes(o.cert));
}

function bytes(pem: Pem | undefined): Buffer | null {
  return pem === undefined ? null : typeof pem === "string" ? Buffer.from(pem) : pem;
}
