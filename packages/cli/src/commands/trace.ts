// expertmesh trace record --model DIR --file TEXT --out FILE [--max-tokens N]
// expertmesh trace import --format jsonl FILE --out T (--config config.json | --num-experts E)
// record: the routing path of every token of a text (split into paragraphs, each BOS-prefixed).
// import: routing traces from another system, one JSON line per token (format: packages/moe trace-jsonl.ts).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { recordTrace, TextTokenizer } from "@expertmesh/model";
import { parseConfig } from "@expertmesh/model";
import { parseJsonlTrace, TraceImportError, writeTrace } from "@expertmesh/moe";
import { isPositiveInt, numberFlag, parseFlags, UsageError, fileFlagError } from "../args.js";
import { loadModel, modelFlags } from "../model-options.js";

export async function traceCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub === "import") return traceImport(rest);
  if (sub !== "record") throw new UsageError(`trace: unknown subcommand ${JSON.stringify(sub ?? "")} (expected: record, import)`);
  const v = parseFlags(rest, {
    ...modelFlags,
    file: { type: "string" },
    out: { type: "string" },
    "max-tokens": { type: "string" },
    json: { type: "boolean" },
  });
  if (v.file === undefined) throw new UsageError("--file is required");
  if (v.out === undefined) throw new UsageError("--out is required");
  const maxTokens = numberFlag("max-tokens", v["max-tokens"], Infinity, isPositiveInt, "a positive integer");
  let text: string;
  try {
    text = readFileSync(v.file, "utf8");
  } catch (e) {
    throw fileFlagError("--file", v.file, e);
  }
  const rt = await loadModel(v);
  try {
    const tok = TextTokenizer.load(rt.checkpoint.dir, rt.config);
    const sequences: number[][] = [];
    let total = 0;
    for (const para of text.split(/\n\s*\n/)) {
      if (!para.trim() || total >= maxTokens) continue;
      const ids = tok.encodePrompt(para.trim()).slice(0, maxTokens - total);
      sequences.push(ids);
      total += ids.length;
    }
    if (total === 0) throw new UsageError(`--file ${v.file}: no text to trace`);
    const t0 = performance.now();
    const trace = await recordTrace(rt, sequences, { model: rt.checkpoint.dir, source: v.file });
    writeTrace(v.out, trace);
    const summary = { out: v.out, tokens: trace.tokens, sequences: trace.sequences.length, seconds: (performance.now() - t0) / 1000 };
    console.log(
      v.json
        ? JSON.stringify(summary)
        : `${v.out}: ${summary.tokens} tokens in ${summary.sequences} sequences (${summary.seconds.toFixed(1)} s)`,
    );
  } finally {
    await rt.release();
  }
}

async function traceImport(argv: string[]): Promise<void> {
  let parsed;
  try {
    const options = {
      format: { type: "string" },
      out: { type: "string" },
      config: { type: "string" },
      "num-experts": { type: "string" },
      json: { type: "boolean" },
    } as const;
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  const files = parsed.positionals;
  if (v.format !== "jsonl") throw new UsageError(`--format must be jsonl, got ${JSON.stringify(v.format ?? null)}`);
  if (files.length !== 1) throw new UsageError(`trace import takes one input FILE, got ${files.length}`);
  if (v.out === undefined) throw new UsageError("--out is required");
  if ((v.config === undefined) === (v["num-experts"] === undefined))
    throw new UsageError("give one of --config config.json or --num-experts E (the lines do not say E)");
  let E: number;
  let L: number | undefined;
  let k: number | undefined;
  if (v.config !== undefined) {
    let raw: Record<string, unknown>;
    try {
      raw = JSON.parse(readFileSync(v.config, "utf8")) as Record<string, unknown>;
    } catch (e) {
      throw fileFlagError("--config", v.config, e);
    }
    try {
      const c = parseConfig(raw, v.config);
      [E, L, k] = [c.numExperts, c.numLayers, c.topK];
    } catch (e) {
      throw new UsageError(`--config ${v.config}: ${(e as Error).message}`);
    }
  } else {
    E = numberFlag("num-experts", v["num-experts"], 0, (x) => isPositiveInt(x) && x <= 65535, "an integer in [1, 65535]");
  }
  const file = files[0];
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw fileFlagError("FILE", file, e);
  }
  let trace;
  try {
    trace = parseJsonlTrace(text, E, file);
  } catch (e) {
    if (e instanceof TraceImportError) throw new UsageError(e.message);
    throw e;
  }
  if (L !== undefined && (trace.numLayers !== L || trace.topK !== k)) {
    throw new UsageError(`${file} has L=${trace.numLayers} k=${trace.topK}, but --config ${v.config} says L=${L} k=${k}`);
  }
  writeTrace(v.out, trace);
  const summary = {
    out: v.out,
    tokens: trace.tokens,
    sequences: trace.sequences.length,
    num_layers: trace.numLayers,
    num_experts: E,
    top_k: trace.topK,
  };
  console.log(
    v.json
      ? JSON.stringify(summary)
      : `${v.out}: ${summary.tokens} tokens in ${summary.sequences} sequences, L=${trace.numLayers} E=${E} k=${trace.topK}`,
  );
}
