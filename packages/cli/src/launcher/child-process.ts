// A child process of the local mesh: spawned with its output captured (last lines kept for error
// messages), stopped with SIGTERM and, after a grace period, SIGKILL. It never outlives the launcher:
// on Linux it starts under `setpriv --pdeathsig SIGTERM` (util-linux), which execs the command with
// prctl(PR_SET_PDEATHSIG), so the kernel sends it SIGTERM (a drain) when the launcher dies by any
// signal, SIGKILL included. Where setpriv is missing (not Linux), children are only stopped by stop().
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";

const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));

/** Whether children get SIGTERM when the launcher dies (setpriv --pdeathsig is available). */
export const CHILDREN_FOLLOW_PARENT = SETPRIV !== undefined;

export class ManagedProcess {
  private tail: string[] = [];
  readonly exited: Promise<number | null>;

  private constructor(
    readonly name: string,
    readonly child: ChildProcess,
    onLine?: (line: string) => void,
  ) {
    const keep = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) {
        if (!line) continue;
        this.tail.push(line);
        if (this.tail.length > 40) this.tail.shift();
        onLine?.(line);
      }
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
  }

  static start(
    name: string,
    command: string,
    args: string[],
    opts: { env?: NodeJS.ProcessEnv; onLine?: (line: string) => void } = {},
  ): ManagedProcess {
    const [cmd, argv] = SETPRIV === undefined ? [command, args] : [SETPRIV, ["--pdeathsig", "SIGTERM", "--", command, ...args]];
    const child = spawn(cmd, argv, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...opts.env } });
    return new ManagedProcess(name, child, opts.onLine);
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** The last lines the process printed, for error messages. */
  output(): string {
    return this.tail.join("\n");
  }

  signal(sig: NodeJS.Signals): void {
    if (this.running) this.child.kill(sig);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process has exited. */
  async stop(graceMs = 10_000): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}
