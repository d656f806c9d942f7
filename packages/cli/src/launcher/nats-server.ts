// Debian's nats-server (apt-get install nats-server) on loopback, for hints and membership.
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { ManagedProcess } from "./child-process.js";
import { natsServerConfig, type NatsUser } from "./nats-permissions.js";

export interface NatsServerOptions {
  /** Port; default: one nats-server picks itself (port -1), so that no other process can take it first. */
  readonly port?: number;
  /** Users and their subject permissions; default: no authentication. */
  readonly users?: readonly NatsUser[];
  /** TLS of the listener. */
  readonly tls?: { readonly certFile: string; readonly keyFile: string };
}

export function findNatsServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/bin", "/usr/local/bin"];
  return dirs.map((d) => join(d, "nats-server")).find((p) => existsSync(p));
}

export async function startNatsServer(o: NatsServerOptions = {}): Promise<{ process: ManagedProcess; url: string; port: number }> {
  const bin = findNatsServer();
  if (!bin) throw new Error("nats-server not found: install it (apt-get install nats-server) or run without NATS (--no-nats)");
  // The configuration goes in a file of its own (mode 0600): it holds the passwords.
  const conf = join(mkdtempSync(join(tmpdir(), "expertmesh-nats-")), "nats-server.conf");
  writeFileSync(conf, natsServerConfig({ host: "127.0.0.1", port: o.port ?? -1, users: o.users, tls: o.tls }), { mode: 0o600 });
  let ready: () => void;
  const listening = new Promise<void>((r) => (ready = r));
  let port = o.port ?? -1;
  const proc = ManagedProcess.start("nats-server", bin, ["-c", conf], {
    onLine: (line) => {
      const bound = /Listening for client connections on .*:(\d+)\s*$/.exec(line);
      if (bound) port = Number(bound[1]);
      if (line.includes("Server is ready")) ready();
    },
  });
  const failed = proc.exited.then((code) => {
    throw new Error(`nats-server exited (code ${code}):\n${proc.output()}`);
  });
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`nats-server not ready after 10 s:\n${proc.output()}`)), 10_000).unref(),
  );
  await Promise.race([listening, failed, timeout]);
  return { process: proc, url: `nats://127.0.0.1:${port}`, port };
}
