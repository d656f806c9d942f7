// A local certificate authority made with the openssl command line (Debian's openssl package): one CA and
// a certificate per service, each usable as a TLS server and as an mTLS client, with the subject
// alternative names it is reached by. `expertmesh up --tls` makes one per run; tests make their own
// (including expired certificates, wrong names and a second, unrelated CA). Keys are P-256.
import { execFileSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface PkiIdentity {
  /** File stem and CN, e.g. "router", "expert-shard-0". */
  readonly name: string;
  /** Subject alternative names: "DNS:expert-shard-0", "IP:127.0.0.1"; default DNS:<name>, DNS:localhost, IP:127.0.0.1. */
  readonly sans?: readonly string[];
  /** Validity in days from now; a negative number makes a certificate that has already expired. Default 30. */
  readonly days?: number;
}

export interface PkiFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

export interface LocalPki {
  readonly dir: string;
  /** The CA certificate (the bundle that every service trusts). */
  readonly caFile: string;
  /** Issues (or re-issues) a certificate signed by this CA; files `<name>.crt` and `<name>.key` in `dir`. */
  issue(identity: PkiIdentity): PkiFiles;
}

/** The default names of a service reached on loopback. */
export function loopbackSans(name: string): string[] {
  return [`DNS:${name}`, "DNS:localhost", "IP:127.0.0.1"];
}

/**
 * Makes a CA in `dir` (created if missing; CN `caName`) and returns an issuer for service certificates.
 * Throws an Error naming openssl when the command is missing or fails.
 */
export function createLocalPki(dir: string, caName = "expertmesh-local-ca"): LocalPki {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (name: string) => join(dir, name);
  const caFile = f(`${caName}.crt`);
  const caKey = f(`${caName}.key`);
  genKey(caKey);
  openssl(
    "req",
    "-x509",
    "-new",
    "-key",
    caKey,
    "-subj",
    `/CN=${caName}`,
    "-days",
    "30",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
    "-out",
    caFile,
  );
  return {
    dir,
    caFile,
    issue({ name, sans = loopbackSans(name), days = 30 }) {
      if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new TypeError(`pki: identity name ${JSON.stringify(name)} is not a plain file name`);
      const keyFile = f(`${name}.key`);
      const certFile = f(`${name}.crt`);
      const ext = f(`${name}.ext`);
      genKey(keyFile);
      openssl("req", "-new", "-key", keyFile, "-subj", `/CN=${name}`, "-out", f(`${name}.csr`));
      const extensions = [
        "basicConstraints=CA:FALSE",
        "keyUsage=critical,digitalSignature",
        "extendedKeyUsage=serverAuth,clientAuth",
        ...(sans.length ? [`subjectAltName=${sans.join(",")}`] : []),
      ];
      writeFileSync(ext, `${extensions.join("\n")}\n`);
      openssl(
        "x509",
        "-req",
        "-in",
        f(`${name}.csr`),
        "-CA",
        caFile,
        "-CAkey",
        caKey,
        "-CAcreateserial",
        "-days",
        String(days),
        "-extfile",
        ext,
        "-out",
        certFile,
      );
      return { certFile, keyFile };
    },
  };
}

function genKey(file: string): void {
  openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", file);
}

function openssl(...args: string[]): void {
  try {
    execFileSync("openssl", args, { stdio: "pipe" });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === "ENOENT")
      throw new Error("pki: the openssl command is needed to make certificates (apt-get install openssl)", { cause: error });
    throw new Error(`pki: openssl ${args[0]} failed: ${e.stderr?.toString().trim() ?? e.message}`, { cause: error });
  }
}

/** Whether the openssl command can be run (tests that need it say so when it cannot). */
export function hasOpenssl(): boolean {
  try {
    execFileSync("openssl", ["version"], { stdio: "pipe" });
    return true;
  } catch {
    return false;
  }
}
