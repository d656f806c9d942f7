#!/usr/bin/env node
// expertmesh: the command line. Errors the user can act on print one line, without a stack trace.
import { ExpertMeshError } from "@expertmesh/client";
import { isModelError } from "@expertmesh/model";
import { UsageError } from "./args.js";
import { benchCommand } from "./commands/bench.js";
import { compressCommand } from "./commands/compress.js";
import { generateCommand } from "./commands/generate.js";
import { loadtestCommand } from "./commands/loadtest.js";
import { predictorCommand } from "./commands/predictor.js";
import { scoreCommand } from "./commands/score.js";
import { synthCommand } from "./commands/synth.js";
import { traceCommand } from "./commands/trace.js";
import { upCommand } from "./commands/up.js";
import { PortInUseError, ServiceStartError } from "./launcher/index.js";
import { startProgress } from "./progress.js";

const COMMANDS: Record<string, (argv: string[]) => Promise<void>> = {
  bench: benchCommand,
  compress: compressCommand,
  generate: generateCommand,
  loadtest: loadtestCommand,
  predictor: predictorCommand,
  score: scoreCommand,
  synth: synthCommand,
  trace: traceCommand,
  up: upCommand,
};

const USAGE = `usage: expertmesh <command> [flags]

commands:
  generate (--prompt TEXT | --prompts-file FILE) [--model DIR] [--max-tokens N] [--temperature T] [--top-p P] [--seed S] [--json]
  score    --file TEXT [--model DIR] [--json]
  generate --target HOST:PORT (--prompt TEXT | --prompts-file FILE) [--stop S]... [--timeout SECONDS] [--tls-ca F ...]   (through a running mesh)
  trace record --file TEXT --out FILE [--model DIR] [--max-tokens N]
  trace import --format jsonl FILE --out FILE (--config config.json | --num-experts E)   (one JSON line per token: packages/moe/src/trace-jsonl.ts)
  predictor prior --traces FILE... --out FILE.onnx [--json]
  predictor train --traces FILE... --out FILE.onnx [--heldout-traces FILE...] [--epochs N] [--hidden H] [--json]
  predictor next --traces FILE... --out FILE.onnx [--pseudo-count 2] [--json]   (the next step's routing from the token now decoded)
  predictor eval --model FILE.onnx --traces FILE... [--batch-sizes 1,4,8,16] [--prior FILE.onnx] [--model-dir DIR] [--no-pre-gate] [--json]
  bench cache [--model DIR | --config config.json] [--traces FILE | --text FILE] [--max-tokens N] [--predictor FILE.onnx] [--prior FILE.onnx] [--budgets 12.5,25,50] [--batches 1,4,16] [--link-gbps G] [--expert-bytes X|config] [--layer-ms T] [--shards N] [--horizons 0,1,2|none] [--late-hints 1|none] [--no-pre-gate] [--json]
  bench predictor [--model DIR] [--traces FILE | --text FILE] [--max-tokens N] [--predictor FILE.onnx] [--prior FILE.onnx] [--batch-sizes 1,4,8,16] [--no-pre-gate] [--no-latency] [--json]
  bench scheduler [--model DIR] [--traces FILE | --text FILE] [--max-tokens N] [--batches 4,8,16] [--seq-len N] [--predictor FILE.onnx]... [--table-traces FILE]... [--json]
  bench compress [--model DIR] [--text FILE] [--heldout-tokens N] [--calibration-tokens N] [--decode-tokens N] [--repeats R] [--odp-target S] [--synth DIR [--synth-quantized DIR]] [--json]
  bench e2e [--shards N] [--budget PCT] [--links off,on] [--link-gbps G] [--link-expert-bytes N] [--concurrency C,...] [--configs resident,resident-unary,lru,expertflow] [--requests N] [--max-tokens M] [--json]
  synth    (--config-like DIR | --hidden H --intermediate F --layers L --experts E --top-k K) [--dtype f32|bf16] [--seed S] --out DIR   (--help: all flags)
  bench runtime [--model DIR] [--batches 1,4,16] [--threads-list 1,2] [--expert-parts auto,1] [--prompt-tokens P] [--decode-steps N] [--repeats R] [--json]
  compress stats [--model DIR] [--traces FILE... | --text FILE] [--max-tokens N] [--json]
  compress merge --experts-per-layer K --out DIR [--method merge|prune] [--model DIR] [--traces FILE... | --text FILE] [--json]
  compress odp --target S --out DIR [--protect-share P] [--model DIR] [--traces FILE... | --text FILE] [--json]
  compress quantize --out DIR (--avg-bits B [--bits 2,4,8] | --uniform B) [--group-size G] [--rounding rtn|gptq] [--model DIR] [--traces FILE... | --text FILE] [--json]
  up       [--model DIR] [--shards N] [--replicas R] [--device-budget PCT|BYTES] [--policy lru|expertflow|expertflow-v1] [--port P] [--no-nats] [--tls] [--demo PROMPT]
           [--http-port P] [--metrics-port BASE] [--predictor FILE.onnx | --no-predictor] [--json]
  loadtest --target HOST:PORT [--api grpc|openai [--model NAME]] [--rate R [--burstiness K] | --concurrency C] [--duration S] [--requests N] [--warmup S]
           [--prompts FILE | --prompt-tokens N|MIN:MAX] [--max-tokens N] [--slo-ttft MS] [--slo-tpot MS] [--shards HOST:PORT,...]
           [--json FILE|-] [--plot FILE.svg|FILE.html]

common flags: --model DIR (default: the bundled model), --threads N (default 1), --provider cpu|cuda
bench, loadtest and predictor show progress on stderr when it is a terminal; --quiet turns it off`;

/** Commands that do long work: they take --quiet, and show progress on stderr when it is a terminal. */
const LONG_WORK = new Set(["bench", "loadtest", "predictor"]);

/** Commands that print their own, longer --help. */
const OWN_HELP = new Set(["synth"]);

/** `expertmesh NAME [SUB] --help`: the usage lines of that command (and subcommand) and the common flags. */
function commandHelp(name: string, sub: string | undefined): string {
  const lines = USAGE.split("\n");
  const pick = (prefix: string) => {
    const out: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const t = lines[i].trimStart();
      if (lines[i].startsWith("  ") && !lines[i].startsWith("   ") && (t === prefix || t.startsWith(`${prefix} `))) {
        out.push(`  expertmesh ${t}`);
        while (lines[i + 1]?.startsWith("           ")) out.push(`             ${lines[++i].trimStart()}`);
      }
    }
    return out;
  };
  const found = (sub ? pick(`${name} ${sub}`) : []).length ? pick(`${name} ${sub}`) : pick(name);
  return (
    `usage:\n${found.join("\n")}\n\ncommon flags: --model DIR (default: the bundled model), --threads N (default 1), --provider cpu|cuda\n` +
    (LONG_WORK.has(name) ? "--quiet: no progress line on stderr (it is drawn only when stderr is a terminal)\n" : "") +
    "--json prints one JSON object on stdout; usage errors exit 2, other failures 1 (EXPERTMESH_DEBUG=1 adds stacks)"
  );
}

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
  if ((rest.includes("--help") || rest.includes("-h")) && !OWN_HELP.has(name)) {
    console.log(commandHelp(name, rest[0]?.startsWith("-") ? undefined : rest[0]));
    return 0;
  }
  const quiet = LONG_WORK.has(name) && rest.includes("--quiet");
  const args = quiet ? rest.filter((a) => a !== "--quiet") : rest;
  const shown = LONG_WORK.has(name)
    ? startProgress(["expertmesh", name, rest[0]?.startsWith("-") ? "" : rest[0]].join(" ").trim(), { quiet })
    : undefined;
  try {
    await command(args);
    return 0;
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`expertmesh ${name}: ${e.message}`);
      return 2;
    }
    if (e instanceof PortInUseError) {
      console.error(`expertmesh ${name}: ${e.message}`);
      return 1;
    }
    if (e instanceof ServiceStartError) {
      // The service's own error; its last output lines on request.
      console.error(`expertmesh ${name}: ${e.message}`);
      if (process.env.EXPERTMESH_DEBUG) console.error(e.output);
      return 1;
    }
    if (isModelError(e)) {
      console.error(`expertmesh ${name}: ${e.name}: ${e.message}`);
      return 1;
    }
    if (e instanceof ExpertMeshError) {
      // A mesh's answer (unreachable, overloaded, past the deadline, a bad request): its class and message.
      console.error(`expertmesh ${name}: ${e.name}: ${e.message}`);
      return 1;
    }
    // Anything else is a bug or an environment failure (onnxruntime, file system): one line, and the
    // stack only when asked for.
    console.error(`expertmesh ${name}: internal error: ${(e as Error)?.message ?? String(e)}`);
    if (process.env.EXPERTMESH_DEBUG) console.error(e);
    return 1;
  } finally {
    shown?.stop();
  }
}

process.exitCode = await main(process.argv.slice(2));
