// @expertmesh/loadtest: the load-test harness behind `expertmesh loadtest`.
export { loadTest, describeLoad, type LoadTestOptions, type LoadTestReport } from "./load-test.js";
export { reportTable } from "./report-table.js";
export { runLoad, type LoadModel, type RunOptions, type RunResult } from "./run.js";
export { summarize, MLPERF_MOE_OBJECTIVES, type Distribution, type Objectives, type Summary, type WindowStats } from "./summary.js";
export { Histogram, HISTOGRAM_RELATIVE_PRECISION } from "./histogram.js";
export { arrivalSchedule, type ArrivalOptions } from "./arrivals.js";
export { seededRandom, gamma, type Random } from "./random.js";
export { promptsFromFile, generatedPrompts, type Prompt } from "./prompts.js";
export { readCacheStats, cacheReport, type ShardCacheReport, type TierCounters } from "./cache-stats.js";
export { plotSvg, plotHtml, type PlotInput } from "./plot.js";
export type { RequestRecord } from "./request-record.js";
export { grpcBackend, type GenerationBackend, type StreamChunk } from "./backend.js";
export { openAiBackend } from "./backend-openai.js";
