// expertmesh trace record --model DIR --file TEXT --out FILE [--max-tokens N]
// Records the routing path of every token of a text (split into paragraphs, each BOS-prefixed).
import { readFileSync } from "node:fs";
import { recordTrace, TextTokenizer } from "@expertmesh/model";
import { writeTrace } from "@expertmesh/moe";
import { isPositiveInt, numberFlag, parseFlags, UsageError, fileFlagError } from "../args.js";
import { loadModel, modelFlags } from "../model-options.js";

export async function traceCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  if (sub !== "record") throw new UsageError(`trace: unknown subcommand ${JSON.stringify(sub ?? "")} (expected: record)`);
  const v = parseFlags(rest, { ...modelFlags, file: { type: "string" }, out: { type: "string" }, "max-tokens": { type: "string" }, json: { type: "boolean" } });
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
    console.log(v.json ? JSON.stringify(summary) : `${v.out}: ${summary.tokens} tokens in ${summary.sequences} sequences (${summary.seconds.toFixed(1)} s)`);
  } finally {
    await rt.release();
  }
}
