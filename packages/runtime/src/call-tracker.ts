// The calls a server is running, so that a drain can refuse new ones, wait for these to finish
// (bounded), and abort the ones that outlive the wait.

import type { CallScope } from "./call-context.js";

export class CallTracker {
  readonly #calls = new Set<CallScope>();
  readonly #idleWaiters = new Set<() => void>();
  #draining = false;
  readonly #drain = new AbortController();

  /** Calls running now. */
  get size(): number {
    return this.#calls.size;
  }

  /** True once startDraining was called: new calls are to be refused. */
  get draining(): boolean {
    return this.#draining;
  }

  add(scope: CallScope): void {
    this.#calls.add(scope);
  }

  delete(scope: CallScope): void {
    this.#calls.delete(scope);
    if (this.#calls.size === 0) for (const wake of this.#idleWaiters) wake();
  }

  startDraining(): void {
    this.#draining = true;
    this.#drain.abort(new Error("server draining"));
  }

  /** Aborted once startDraining was called (long-lived streams end their work on it). */
  get drainSignal(): AbortSignal {
    return this.#drain.signal;
  }

  /** Resolves true once no call runs, or false when `timeoutMs` passes first. */
  idle(timeoutMs: number): Promise<boolean> {
    if (this.#calls.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (result: boolean): void => {
        clearTimeout(timer);
        this.#idleWaiters.delete(wake);
        resolve(result);
      };
      const wake = (): void => done(true);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.#idleWaiters.add(wake);
    });
  }

  /** Aborts every running call's signal with `reason`. */
  abortAll(reason: Error): void {
    for (const scope of this.#calls) scope.abort(reason);
  }
}
