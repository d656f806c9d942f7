export { gate, type GateResult } from "./gate.js";
export { planDispatch, gatherRows, scatterAddWeighted, type ExpertGroup } from "./dispatch-plan.js";
export { expertKey, expertFromKey, type ExpertId } from "./expert-key.js";
export { Placement, type PlacementSpec } from "./placement.js";
export { LruPolicy, type EvictionPolicy } from "./cache-policy.js";
export { TieredExpertCache, type TierLoader, type TieredCacheOptions, type CacheCounters, type Acquired } from "./cache-tiered.js";
export { encodeTrace, decodeTrace, readTrace, writeTrace, tokenExperts, type RoutingTrace, type TraceHeader } from "./trace-format.js";
