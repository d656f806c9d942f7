// Where prompts come from: a file (one prompt per line, or JSON lines with a "prompt" field), or
// generated text of a given token length, measured with the server's own tokenizer (the Tokenize RPC, or
// the prompt_tokens of a one-token completion over the OpenAI API).
import { readFileSync } from "node:fs";
import type { ExpertMeshClient } from "@expertmesh/client";
import { asBackend, type GenerationBackend } from "./backend.js";
import type { Random } from "./random.js";

export interface Prompt {
  readonly text: string;
  /** Token count when measured (generated prompts); undefined for a file's prompts. */
  readonly tokens?: number;
}

/** The prompts of `path`; an empty file or a JSON line without "prompt" is an error naming the line. */
export function promptsFromFile(path: string): Prompt[] {
  const out: Prompt[] = [];
  for (const [i, raw] of readFileSync(path, "utf8").split("\n").entries()) {
    const line = raw.trimEnd();
    if (!line.trim()) continue;
    if (line.startsWith("{")) {
      const v = JSON.parse(line) as { prompt?: unknown };
      if (typeof v.prompt !== "string" || !v.prompt) throw new Error(`${path}:${i + 1}: JSON line without a "prompt" string`);
      out.push({ text: v.prompt });
    } else out.push({ text: line });
  }
  if (!out.length) throw new Error(`${path}: no prompts (one per line, or JSON lines with "prompt")`);
  return out;
}

const WORDS = (
  "the people of united states congress nation government year our we have will must world peace war " +
  "country american public great new law power time president economy work men women children free " +
  "freedom america federal more all policy national tax security trade budget program health care jobs " +
  "every union state business energy future history rights justice strong today citizens families progress " +
  "growth industry labor nations foreign defense treaty armed forces commerce revenue debt reform education " +
  "schools science land water farmers cities workers wages prices dollars million billion duty hope"
).split(" ");

/** Text of `words` words drawn from a fixed list of common words. */
function words(n: number, rand: Random): string {
  return Array.from({ length: n }, () => WORDS[Math.floor(rand() * WORDS.length)]).join(" ");
}

/**
 * `count` prompts whose lengths are uniform in [minTokens, maxTokens] tokens of the served model,
 * each grown or shrunk word by word until its token count is as close to the target as words allow.
 */
export async function generatedPrompts(
  target: ExpertMeshClient | GenerationBackend,
  count: number,
  minTokens: number,
  maxTokens: number,
  rand: Random,
): Promise<Prompt[]> {
  const client = asBackend(target);
  if (!(Number.isInteger(minTokens) && minTokens >= 1 && maxTokens >= minTokens)) {
    throw new RangeError(`prompt tokens must be integers with 1 <= min <= max, got ${minTokens}:${maxTokens}`);
  }
  const out: Prompt[] = [];
  for (let i = 0; i < count; i++) {
    const target = minTokens + Math.floor(rand() * (maxTokens - minTokens + 1));
    const pool = words(target * 2 + 8, rand).split(" ");
    const measure = async (n: number) => client.promptTokens(pool.slice(0, n).join(" "));
    // Token count grows with the word count: binary search for the most words within the target.
    let lo = 1;
    let hi = pool.length;
    while (lo < hi) {
      const mid = Math.ceil((lo + hi) / 2);
      if ((await measure(mid)) <= target) lo = mid;
      else hi = mid - 1;
    }
    const text = pool.slice(0, lo).join(" ");
    out.push({ text, tokens: await measure(lo) });
  }
  return out;
}
