// The device-tier policies by name, in one place (as SGLang keeps its placement algorithms behind one
// enum and one dispatch): the shard's --policy, `up --policy`, and bench cache all read this table.
// Adding a policy is one file plus one entry here.
//
// Letters (glossary: docs/ARCHITECTURE.md): L MoE layers, E experts per layer, C device slots.
import { LruPolicy } from "./cache-policy.js";
import { ExpertflowTimePolicy } from "./cache-expertflow.js";
import { ExpertflowPolicy } from "./cache-predictive.js";
import type { CachePolicy } from "./cache-sim.js";

export interface PolicyShape {
  numLayers: number; // L
  numExperts: number; // E
  capacity: number; // C
}

export interface PolicyEntry {
  /** What it does, in words (help texts). */
  readonly what: string;
  /** Fewest device slots it works with: below, a shard refuses to start naming this minimum. */
  readonly minSlots: number;
  /** Whether it reads prefetch hints (predicted demand). */
  readonly predictive: boolean;
  readonly create: (shape: PolicyShape) => CachePolicy;
}

export const CACHE_POLICIES = {
  lru: {
    what: "least recently used, loads on demand only",
    minSlots: 1,
    predictive: false,
    create: () => new LruPolicy(),
  },
  // One slot computes while the other receives a prefetch: with a single slot every prefetch would
  // evict the expert that the running layer needs next, so prediction could only add loads.
  expertflow: {
    what: "ExpertFlow: prefetch where expected stall time saved exceeds link time and the evicted expert's expected use, evict by expected next use",
    minSlots: 2,
    predictive: true,
    create: (s) => new ExpertflowTimePolicy(s),
  },
  "expertflow-v1": {
    what: "the earlier ExpertFlow policy (a baseline): slots shared in proportion to predicted demand, prefetch whatever the link allows",
    minSlots: 2,
    predictive: true,
    create: (s) => new ExpertflowPolicy(s),
  },
} as const satisfies Record<string, PolicyEntry>;

export type CachePolicyName = keyof typeof CACHE_POLICIES;

export const CACHE_POLICY_NAMES = Object.keys(CACHE_POLICIES) as CachePolicyName[];

export function isCachePolicyName(name: string): name is CachePolicyName {
  return Object.hasOwn(CACHE_POLICIES, name);
}

/** The entry of `name`; a RangeError naming the known policies otherwise. */
export function cachePolicy(name: string): PolicyEntry {
  if (!isCachePolicyName(name))
    throw new RangeError(`unknown cache policy ${JSON.stringify(name)} (expected one of ${CACHE_POLICY_NAMES.join(", ")})`);
  return CACHE_POLICIES[name];
}
