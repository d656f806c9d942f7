import { createServer } from "node:net";

/** A port that a launcher will bind, and what for (named in the error when it is taken). */
export interface PortUse {
  readonly port: number;
  readonly what: string;
}

/** A port the launcher needs is taken; found before anything was started. */
export class PortInUseError extends Error {
  override readonly name = "PortInUseError";
  constructor(
    readonly port: number,
    readonly what: string,
    host: string,
  ) {
    super(`port ${port} (${what}) is already in use on ${host}; nothing was started`);
  }
}

/** Whether `port` can be bound on `host` now. */
export function portFree(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** Throws an Error naming the first port of `uses` (0 = any, skipped) that is taken, before anything starts. */
export async function assertPortsFree(uses: readonly PortUse[], host = "127.0.0.1"): Promise<void> {
  const seen = new Map<number, string>();
  for (const { port, what } of uses) {
    if (port === 0) continue;
    const other = seen.get(port);
    if (other !== undefined) throw new Error(`port ${port} is asked for twice: ${other} and ${what}`);
    seen.set(port, what);
    if (!(await portFree(port, host))) throw new PortInUseError(port, what, host);
  }
}

/** A TCP port free on 127.0.0.1 at the time of the call. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * The first of `n` consecutive ports free on 127.0.0.1 now (e.g. a --metrics-port base: router, shards,
 * predictor). Drawn below Linux's ephemeral range (32768-60999), so that other processes binding port 0
 * cannot take one of them between this call and the bind.
 */
export async function freePortRange(n: number, host = "127.0.0.1"): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const base = 20_000 + Math.floor(Math.random() * (32_000 - 20_000 - n));
    let free = true;
    for (let i = 0; i < n && free; i++) free = await portFree(base + i, host);
    if (free) return base;
  }
  throw new Error(`no ${n} consecutive free ports found on ${host} in 20000-32000`);
}
