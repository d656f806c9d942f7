#!/usr/bin/env node
// expertmesh: the command line. Errors the user can act on print one line, without a stack trace.
import { isModelError } from "@expertmesh/model";
import { UsageError } from "./args.js";
import { generateCommand } from "./commands/generate.js";
import { scoreCommand } from "./commands/score.js";
import { traceCommand } from "./commands/trace.js";

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  generate: generateCommand,
  score: scoreCommand,
  trace: traceCommand,
};

const USAGE = `usage: expertmesh <command> [flags]

commands:
  generate --prompt TEXT [--model DIR] [--max-tokens N] [--temperature T] [--top-p P] [--seed S] [--json]
  score    --file TEXT [--model DIR] [--json]
  trace record --file TEXT --out FILE [--model DIR] [--max-tokens N]

common flags: --model DIR (default: the bundled model), --threads N (default 1), --provider cpu|cuda`;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === "--help" || name === "-h" || name === "help") {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`expertmesh: unknown command ${JSON.stringify(name)}\n\n${USAGE}`);
    return 2;
  }
  try {
    await command(rest);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`expertmesh ${name}: ${e.message}`);
      return 2;
    }
    if (isModelError(e)) {
      console.error(`expertmesh ${name}: ${e.name}: ${e.message}`);
      return 1;
    }
    // Anything else is a bug or an environment failure (onnxruntime, file system): one line, and the
    // stack only when asked for.
    console.error(`expertmesh ${name}: internal error: ${(e as Error)?.message ?? String(e)}`);
    if (process.env.EXPERTMESH_DEBUG) console.error(e);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
