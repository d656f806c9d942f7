// A TCP proxy on loopback for fault injection in e2e tests: it can start listening late (a server that
// is not up yet), and cut every connection at once (a network failure mid-call). It counts connections.
import { connect, createServer, type Server, type Socket } from "node:net";

export class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  /** Connections accepted so far. */
  accepted = 0;

  constructor(
    readonly port: number,
    private readonly upstream: string,
  ) {}

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  listen(): Promise<void> {
    const [host, port] = [
      this.upstream.slice(0, this.upstream.lastIndexOf(":")),
      Number(this.upstream.slice(this.upstream.lastIndexOf(":") + 1)),
    ];
    this.server = createServer((client) => {
      this.accepted++;
      const server = connect(port, host);
      for (const s of [client, server]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          server.destroy();
        });
      }
      client.pipe(server);
      server.pipe(client);
    });
    return new Promise((resolve, reject) => {
      this.server!.once("error", reject);
      this.server!.listen(this.port, "127.0.0.1", () => resolve());
    });
  }

  /** Resets every open connection (both sides). */
  cutAll(): void {
    for (const s of this.sockets) s.resetAndDestroy();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
