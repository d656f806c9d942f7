// The one place that builds channel credentials, for every client: the router's channels to shards and
// the predictor, the SDK, the CLI and the load test. Plaintext (the default), TLS (the server verified
// against `ca`, or the system roots, and its certificate's names checked against the target's host or
// `serverName`), and mTLS (TLS plus this client's certificate and key).
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { readFileSync } from "node:fs";
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

/** The same as TlsOptions, as file paths: plain data that can cross to a worker thread. */
export interface ClientTlsFiles {
  readonly caFile?: string | undefined;
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  readonly serverName?: string | undefined;
}

/** Credentials for `tls` (true: TLS with the system roots); undefined/false: plaintext. */
export function channelCredentials(tls: TlsOptions | boolean | undefined): ChannelCredentials {
  if (tls === undefined || tls === false) return credentials.createInsecure();
  const o: TlsOptions = tls === true ? {} : tls;
  if ((o.cert === undefined) !== (o.key === undefined)) {
    throw new TypeError(`tls: mTLS needs both cert and key, got only ${o.cert === undefined ? "key" : "cert"}`);
  }
  const serverName = o.serverName;
  const verify =
    serverName === undefined
      ? {}
      : { checkServerIdentity: (_host: string, cert: PeerCertificate) => checkServerIdentity(serverName, cert) };
  return credentials.createSsl(bytes(o.ca), bytes(o.key), bytes(o.cert), verify);
}

/** Credentials from files (read now); undefined: plaintext. Throws naming the file that cannot be read. */
export function channelCredentialsFromFiles(files: ClientTlsFiles | undefined): ChannelCredentials {
  return channelCredentials(files === undefined ? undefined : readClientTls(files));
}

/** Reads the files of `files` into TlsOptions. */
export function readClientTls(files: ClientTlsFiles): TlsOptions {
  return {
    ...(files.caFile === undefined ? {} : { ca: readPem(files.caFile, "CA bundle") }),
    ...(files.certFile === undefined ? {} : { cert: readPem(files.certFile, "certificate") }),
    ...(files.keyFile === undefined ? {} : { key: readPem(files.keyFile, "private key") }),
    ...(files.serverName === undefined ? {} : { serverName: files.serverName }),
  };
}

/** The contents of a PEM file; an Error naming the file and what it should hold otherwise. */
export function readPem(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new Error(`tls: cannot read the ${what} file ${JSON.stringify(file)}: ${(error as Error).message}`, { cause: error });
  }
}

function bytes(pem: Pem | undefined): Buffer | null {
  return pem === undefined ? null : typeof pem === "string" ? Buffer.from(pem) : pem;
}
