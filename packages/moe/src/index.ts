export { gate, type GateResult } from "./gate.js";
export { route, MIXTRAL_GATE, type GateSpec } from "./gate-route.js";
export { planDispatch, gatherRows, scatterAddWeighted, type ExpertGroup } from "./dispatch-plan.js";
export { expertKey, expertFromKey, type ExpertId } from "./expert-key.js";
export { Placement, type PlacementSpec } from "./placement.js";
export { LruPolicy, type EvictionPolicy } from "./cache-policy.js";
export { TieredExpertCache, type TierLoader, type TieredCacheOptions, type CacheCounters, type Acquired } from "./cache-tiered.js";
export { encodeTrace, decodeTrace, readTrace, writeTrace, tokenExperts, type RoutingTrace, type TraceHeader } from "./trace-format.js";
export {
  batchCoverage,
  decodeBatchCoverage,
  evaluateChoices,
  DEFAULT_BATCH_SIZES,
  evaluatePredictor,
  predictedTopK,
  recallAtK,
  type BatchCoverage,
  type ExpertChoices,
  type LayerScores,
  type PredictorReport,
} from "./predictor-metrics.js";
export { frequencyPrior, type FrequencyPrior } from "./predictor-prior.js";
export {
  activatedExperts,
  addExperts,
  emptyRouteSets,
  hammingDistance,
  routeSetsFromChoices,
  setExperts,
  unionPerLayer,
  windowUnion,
  type RouteSets,
} from "./scheduler-routes.js";
export {
  arrivalBatches,
  batchCount,
  checkPartition,
  greedyBatches,
  hammingBatches,
  improveBatches,
  regroup,
  REGROUP_FULL_SEARCH_MAX,
  DEFAULT_MAX_EVALUATIONS,
  type Batches,
  type RegroupOptions,
  type RegroupStart,
} from "./scheduler-regroup.js";
export { EXACT_MAX_WINDOW, optimalTwoBatches } from "./scheduler-exact.js";
export {
  simulateScheduling,
  type ExpertsPerBatch,
  type RouteSource,
  type ScheduleMethod,
  type ScheduleResult,
  type SimulationOptions,
  type SimulationResult,
} from "./scheduler-simulate.js";
export { decodeSchedule, accessStream, batchDemand, type AccessStream, type DecodeSchedule, type TraceRouting } from "./cache-access.js";
export { simulateCache, type CachePolicy, type PrefetchHooks, type SimOptions, type SimResult } from "./cache-sim.js";
export { BeladyPolicy } from "./cache-belady.js";
export { HorizonOraclePolicy } from "./cache-horizon.js";
export { ExpertflowPolicy, shareSlots, type ExpertflowOptions } from "./cache-predictive.js";
export { previousTokenPredictions, oraclePredictions } from "./predictor-previous.js";
export { buildNextStepTable, nextStepPredictions, type NextStepTable, type NextStepTrace } from "./predictor-next.js";
export { buildTokenTable, tokenTableTopK, type TokenTable } from "./predictor-token-table.js";
export { checkMlp, DEFAULT_POSITION_BUCKETS, mlpForward, mlpLogits, positionBucket, type MlpPredictor } from "./predictor-mlp.js";
export {
  mlpLoss,
  routingExamples,
  trainMlp,
  type RoutingExamples,
  type TokenEmbedding,
  type TrainOptions,
  type TraceWithTokens,
} from "./predictor-train.js";
export { fitTokenBias } from "./predictor-token-bias.js";
export { seededRandom } from "./seeded-random.js";
export {
  CACHE_POLICIES,
  CACHE_POLICY_NAMES,
  cachePolicy,
  isCachePolicyName,
  type CachePolicyName,
  type PolicyEntry,
  type PolicyShape,
} from "./cache-registry.js";
export { PRUNED_SLOT, maskPrunedSlots, mapSlots } from "./slot-map.js";
export {
  simulateTimed,
  timeLowerBound,
  type LinkView,
  type PolicyFactory,
  type TimedResult,
  type TimedSimOptions,
} from "./cache-sim-time.js";
export { ExpertflowTimePolicy } from "./cache-expertflow.js";
export { parseJsonlTrace, TraceImportError } from "./trace-jsonl.js";
export {
  SKIPPED_EXPERT,
  PROTECT_SCORES,
  protectedTokens,
  pruneRouting,
  calibrateBeta,
  type DynamicPruning,
  type ProtectScore,
} from "./dynamic-pruning.js";
