// Loads asked for by Prefetch, waiting for their turn: high priority (the gate chose an expert the
// prediction missed) before low (a prediction). Low-priority entries are bounded: when `capacity` are
// waiting, a new one is dropped and reported so. High-priority entries are never dropped; they are
// bounded anyway, because an expert waits at most once (a repeat joins the entry, a high repeat
// promotes a low one), so the queue never holds more than the experts this shard owns.

export type Offer = "queued" | "dropped";

export interface PrefetchQueueOptions {
  /** Most low-priority loads waiting at once. */
  readonly capacity: number;
  /** Loads running at once. */
  readonly concurrency: number;
  /** Starts a load; `high` says which queue it came from. */
  readonly load: (key: number, high: boolean) => Promise<void>;
  /** A load failed (nobody awaits a prefetch: log it). */
  readonly onError: (key: number, error: unknown) => void;
}

export class PrefetchQueue {
  readonly #options: PrefetchQueueOptions;
  readonly #high: number[] = [];
  readonly #low: number[] = [];
  readonly #running = new Set<number>();
  #closed = false;

  constructor(options: PrefetchQueueOptions) {
    this.#options = options;
  }

  /** Loads waiting. */
  get waiting(): number {
    return this.#high.length + this.#low.length;
  }

  /** Loads running. */
  get running(): number {
    return this.#running.size;
  }

  /** Queues a load of `key`; "dropped" only for a low-priority load when the low queue is full. */
  offer(key: number, high: boolean): Offer {
    if (this.#closed) return "dropped";
    if (this.#running.has(key) || this.#high.includes(key)) return "queued";
    const low = this.#low.indexOf(key);
    if (low !== -1) {
      if (high) {
        this.#low.splice(low, 1);
        this.#high.push(key);
      }
      return "queued";
    }
    if (high) this.#high.push(key);
    else if (this.#low.length < this.#options.capacity) this.#low.push(key);
    else return "dropped";
    this.#pump();
    return "queued";
  }

  /** Drops everything waiting; running loads finish on their own. */
  close(): void {
    this.#closed = true;
    this.#high.length = 0;
    this.#low.length = 0;
  }

  #pump(): void {
    while (this.#running.size < this.#options.concurrency) {
      const high = this.#high.length > 0;
      const key = this.#high.shift() ?? this.#low.shift();
      if (key === undefined) return;
      this.#running.add(key);
      this.#options
        .load(key, high)
        .catch((error: unknown) => this.#options.onError(key, error))
        .finally(() => {
          this.#running.delete(key);
          this.#pump();
        });
    }
  }
}
