// expertmesh bench <name> [flags]: the benchmarks, one subcommand each (bench-<name>.ts). Each prints a
// table, or with --json one JSON object, of ratios against baselines measured in the same run.
import { UsageError } from "../args.js";
import { benchCacheCommand } from "./bench-cache.js";
import { benchSchedulerCommand } from "./bench-scheduler.js";

/** Subcommands: add one line per benchmark. */
export const BENCHMARKS: Record<string, (argv: string[]) => Promise<void>> = {
  cache: benchCacheCommand,
  scheduler: benchSchedulerCommand,
  predictor: async (argv) => (await import("./bench-predictor.js")).benchPredictorCommand(argv),
  e2e: async (argv) => (await import("./bench-e2e.js")).benchE2eCommand(argv),
  compress: async (argv) => (await import("./bench-compress.js")).benchCompressCommand(argv),
  runtime: async (argv) => (await import("./bench-runtime.js")).benchRuntimeCommand(argv),
};

export async function benchCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const run = sub === undefined ? undefined : BENCHMARKS[sub];
  if (!run) throw new UsageError(`bench: unknown benchmark ${JSON.stringify(sub ?? "")} (expected: ${Object.keys(BENCHMARKS).join(", ")})`);
  await run(rest);
}
