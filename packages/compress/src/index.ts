export { StatsAccumulator, type RoutingStats, type LayerStats } from "./routing-stats.js";
export { calibrate, gateWeights, routerLogits, type Calibration, type CalibrateOptions } from "./calibrate.js";
export { allocateBits, type Allocation } from "./bit-allocation.js";
export {
  quantizeCheckpoint,
  checkQuantizable,
  DEFAULT_GROUP_SIZE,
  type QuantizeOptions,
  type QuantizeReport,
  type Rounding,
  type Allocation as BitAllocation,
} from "./quantize-checkpoint.js";
export { gptqNbits } from "./gptq.js";
export { CompressError, writeCompressedCheckpoint, copiedTensors } from "./checkpoint-write.js";
export { maxAssignment } from "./hungarian.js";
export {
  groupExperts,
  layerCounts,
  groupCollapse,
  alignNeurons,
  permuteNeurons,
  mergeGroup,
  type LayerGrouping,
} from "./merge-experts.js";
export {
  mergeCheckpoint,
  checkMergeable,
  REDUCE_METHODS,
  type Grouping,
  type MergeOptions,
  type MergeReport,
  type ReduceMethod,
} from "./merge-checkpoint.js";
export {
  calibrateDynamicPruning,
  writeDynamicPruningCheckpoint,
  DEFAULT_PROTECT_SHARE,
  DEFAULT_PROTECT_SCORE,
} from "./odp-checkpoint.js";
export { simulateUniformQuantization, SIMULATED_QUANTIZATION_KEY, type SimulatedQuantizeReport } from "./quantize-simulated.js";
export { lowRankSparse, inputScales, jacobiEigenvectors } from "./low-rank.js";
export { lowRankCheckpoint, checkLowRankable, type LowRankOptions, type LowRankReport } from "./lowrank-checkpoint.js";
