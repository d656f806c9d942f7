// A simulated host→device link. On a CPU machine a device-tier load is a message to a compute worker
// and costs almost nothing; on an accelerator it moves the expert's weights over PCIe or NVLink (PCIe
// 4.0 x16: about 25 GB/s, so one Mixtral-8x7B expert of 3·4096·14336 bf16 values, 352 MB, takes about
// 14 ms). With --link-gbps set, every host→device load holds this link for S / G seconds: a timer, not
// CPU work. S is the expert's own bytes as stored (a mixed-precision checkpoint's 2-bit expert moves a
// quarter of an 8-bit one's bytes); S defaults to the largest expert of the model. Transfers share the one link and do not preempt each other, as copies over one PCIe link
// do; a demand load goes ahead of the prefetches still waiting, and the store skips prefetches that
// would queue behind more than one transfer.
//
// Letters (glossary: docs/ARCHITECTURE.md): S simulated bytes of one expert (--link-expert-bytes), G bandwidth
// in 10^9 bytes per second (the link model's meanings).

/** Waits shorter than this are not slept (timers are not finer); the link still counts them, so a run of them adds up. */
const MIN_SLEEP_MS = 1;

export interface SimulatedLinkOptions {
  /** G: bandwidth in gigabytes (10^9 bytes, not gigabits) per second. */
  readonly gbps: number;
  /** S: bytes the largest expert moves over the link (not necessarily the model's real expert size). */
  readonly expertBytes: number;
}

export class SimulatedLink {
  readonly gbps: number;
  readonly expertBytes: number;
  /** Milliseconds the largest expert holds the link: S / G. */
  readonly transferMs: number;
  /** Transfers waiting for the link: demand loads first (in arrival order), then prefetches. */
  #queue: { prefetch: boolean; queuedAt: number; ms: number; resolve: () => void }[] = [];
  #busy = false;
  #transfers = 0;
  #busyMs = 0;
  #waitMs = 0;

  constructor(options: SimulatedLinkOptions) {
    if (!(options.gbps > 0) || !Number.isFinite(options.gbps))
      throw new RangeError(`link bandwidth must be a finite number of GB/s > 0, got ${options.gbps}`);
    if (!(Number.isSafeInteger(options.expertBytes) && options.expertBytes > 0)) {
      throw new RangeError(`link expert bytes must be a positive integer, got ${options.expertBytes}`);
    }
    this.gbps = options.gbps;
    this.expertBytes = options.expertBytes;
    this.transferMs = options.expertBytes / (options.gbps * 1e6); // bytes / (bytes per ms)
  }

  /**
   * Moves one expert of `bytes` (default S): resolves when its transfer has left the link. Transfers do not
   * preempt each other, but a demand load goes ahead of every prefetch still waiting (compute is waiting for it).
   */
  transfer(prefetch = false, bytes = this.expertBytes): Promise<void> {
    if (!(bytes > 0 && Number.isFinite(bytes))) throw new RangeError(`link transfer bytes must be a positive number, got ${bytes}`);
    return new Promise((resolve) => {
      const item = { prefetch, queuedAt: performance.now(), ms: bytes / (this.gbps * 1e6), resolve };
      const at = prefetch ? this.#queue.length : this.#queue.findIndex((q) => q.prefetch);
      this.#queue.splice(at < 0 ? this.#queue.length : at, 0, item);
      this.#pump();
    });
  }

  /** Transfers on the link or waiting for it. */
  pending(): number {
    return this.#queue.length + (this.#busy ? 1 : 0);
  }

  #pump(): void {
    if (this.#busy) return;
    const item = this.#queue.shift();
    if (!item) return;
    this.#busy = true;
    this.#transfers++;
    this.#busyMs += item.ms;
    const done = performance.now() + item.ms;
    // Timers may fire a little early against performance.now(): sleep again until the transfer is done.
    // Transfers shorter than a timer's grain are not slept alone.
    const strict = item.ms >= MIN_SLEEP_MS;
    const sleep = (): void => {
      const left = done - performance.now();
      if (left >= MIN_SLEEP_MS || (strict && left > 0)) setTimeout(sleep, Math.max(MIN_SLEEP_MS, Math.ceil(left)));
      else {
        this.#waitMs += performance.now() - item.queuedAt;
        this.#busy = false;
        setImmediate(item.resolve);
        this.#pump();
      }
    };
    sleep();
  }

  /** Transfers started, milliseconds the link was busy, and milliseconds loads spent on it (queueing included). */
  counters(): { linkTransfers: number; linkBusyMs: number; linkWaitMs: number } {
    return { linkTransfers: this.#transfers, linkBusyMs: this.#busyMs, linkWaitMs: this.#waitMs };
  }

  describe(): string {
    return `simulated link ${this.gbps} GB/s, up to ${this.expertBytes} bytes per expert (${this.transferMs.toFixed(2)} ms per load of the largest; each expert moves its own bytes; demand loads go before waiting prefetches)`;
  }
}
