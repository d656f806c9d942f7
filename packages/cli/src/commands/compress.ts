// expertmesh compress stats|quantize|merge|lowrank|odp: MC-SMoE / MC-MoE compression of a checkpoint's experts.
import { UsageError } from "../args.js";

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  stats: async (argv) => (await import("./compress-stats.js")).compressStatsCommand(argv),
  quantize: async (argv) => (await import("./compress-quantize.js")).compressQuantizeCommand(argv),
  merge: async (argv) => (await import("./compress-merge.js")).compressMergeCommand(argv),
  lowrank: async (argv) => (await import("./compress-lowrank.js")).compressLowRankCommand(argv),
  odp: async (argv) => (await import("./compress-odp.js")).compressOdpCommand(argv),
};

export async function compressCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const run = sub === undefined ? undefined : SUBCOMMANDS[sub];
  if (!run)
    throw new UsageError(`compress: unknown subcommand ${JSON.stringify(sub ?? "")} (expected: ${Object.keys(SUBCOMMANDS).join(", ")})`);
  await run(rest);
}
