// Debian's nats-server (apt-get install nats-server) on loopback, for hints and membership.
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import { ManagedProcess } from "./child-process.js";
import { freePort } from "./free-port.js";

export function findNatsServer(): string | undefined {
  const dirs = [...(process.env.PATH ?? "").split(delimiter), "/usr/sbin", "/usr/bin", "/usr/local/bin"];
  return dirs.map((d) => join(d, "nats-server")).find((p) => existsSync(p));
}

export async function startNatsServer(): Promise<{ process: ManagedProcess; url: string; port: number }> {
  const bin = findNatsServer();
  if (!bin) throw new Error("nats-server not found: install it (apt-get install nats-server) or run without NATS (--no-nats)");
  const port = await freePort();
  let ready: () => void;
  const listening = new Promise<void>((r) => (ready = r));
  const proc = ManagedProcess.start("nats-server", bin, ["-a", "127.0.0.1", "-p", String(port)], {
    onLine: (line) => {
      if (line.includes("Server is ready")) ready();
    },
  });
  const failed = proc.exited.then((code) => {
    throw new Error(`nats-server exited (code ${code}):\n${proc.output()}`);
  });
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`nats-server not ready after 10 s:\n${proc.output()}`)), 10_000).unref());
  await Promise.race([listening, failed, timeout]);
  return { process: proc, url: `nats://127.0.0.1:${port}`, port };
}
