// The horizon oracle (`horizon[h]`): a reference row, not a policy one could run. It knows the routing of
// the current decode step and of the h steps after it, and nothing beyond: it evicts by Belady's rule
// (furthest next use) among the experts used within that horizon, and the least recently used of those
// not used within it first. h = 0 is what exact knowledge of the current step (a perfect predictor of the
// batch's routing) gives eviction; h = 1 adds the next step's routing, which no causal predictor has
// (the next tokens are not sampled yet); as h grows it becomes Belady's MIN.
//
// It answers "how far ahead must a policy know the routing to reach a given number of loads": on routing
// where consecutive tokens share few experts, Belady's loads need a horizon of several steps, and the gap
// between horizon[0] and Belady is out of reach of any predictor of the current step.
//
// Time is counted in layer-steps s = t*L + l (cache-access.ts); the horizon ends before layer-step
// (t + 1 + h)·L.
//
// Letters (glossary: docs/ARCHITECTURE.md): L MoE layers, h horizon in decode steps, t the current step.
import type { AccessStream } from "./cache-access.js";
import { BeladyPolicy } from "./cache-belady.js";
import { LruPolicy } from "./cache-policy.js";
import type { CachePolicy } from "./cache-sim.js";

export class HorizonOraclePolicy implements CachePolicy {
  readonly name: string;
  private readonly future: BeladyPolicy;
  private readonly lru = new LruPolicy();
  private readonly resident = new Set<number>();
  private readonly L: number;
  private step = 0;

  constructor(
    stream: AccessStream,
    private readonly horizon: number,
  ) {
    if (!Number.isInteger(horizon) || horizon < 0)
      throw new RangeError(`HorizonOraclePolicy: horizon must be a non-negative integer of decode steps, got ${horizon}`);
    this.name = `horizon[${horizon}]`;
    this.future = new BeladyPolicy(stream);
    this.L = stream.numLayers;
  }

  beginStep(step: number): void {
    this.step = step;
  }

  touch(key: number): void {
    this.future.touch(key);
    this.lru.touch(key);
  }
  insert(key: number): void {
    this.resident.add(key);
    this.future.insert(key);
    this.lru.insert(key);
  }
  remove(key: number): void {
    this.resident.delete(key);
    this.future.remove(key);
    this.lru.remove(key);
  }

  victim(evictable: (key: number) => boolean): number | undefined {
    const end = (this.step + 1 + this.horizon) * this.L;
    const unseen = this.lru.victim((k) => evictable(k) && this.future.nextUse(k) >= end);
    if (unseen !== undefined) return unseen;
    let best: number | undefined;
    let bestUse = -1;
    for (const k of this.resident) {
      if (!evictable(k)) continue;
      const use = this.future.nextUse(k);
      if (use > bestUse) {
        best = k;
        bestUse = use;
      }
    }
    return best;
  }
}
