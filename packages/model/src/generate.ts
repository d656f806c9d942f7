// Generation for a batch of prompts of different lengths: one batched prefill, then decode steps over the
// sequences still running; each stops on an EOS token or after max_tokens.
import { InvalidInputError, LimitError } from "./errors.js";
import type { MoeRuntime, Sequence } from "./runtime.js";
import { sampleToken, seededRandom } from "./sampling.js";

export interface GenerateOptions {
  maxTokens: number;
  temperature?: number;
  topP?: number;
  seed?: number;
  /** Called with each sampled token of each prompt, as soon as it is known. */
  onToken?: (prompt: number, token: number) => void;
}

export type FinishReason = "eos" | "length";

export interface GenerateResult {
  tokens: number[][];
  finish: FinishReason[];
  promptTokens: number;
  prefillMs: number;
  decodeMs: number;
  decodeSteps: number;
}

export const MAX_TOKENS_LIMIT = 4096;

export async function generate(rt: MoeRuntime, prompts: number[][], opts: GenerateOptions): Promise<GenerateResult> {
  const temperature = opts.temperature ?? 0;
  const topP = opts.topP ?? 1;
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 1 || opts.maxTokens > MAX_TOKENS_LIMIT) {
    throw new LimitError("max_tokens", MAX_TOKENS_LIMIT, opts.maxTokens, "must be an integer from 1");
  }
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new InvalidInputError("temperature", `must be >= 0, got ${temperature}`);
  if (!(topP > 0 && topP <= 1)) throw new InvalidInputError("top_p", `must be in (0, 1], got ${topP}`);
  const limit = rt.config.maxPositions;
  prompts.forEach((p, i) => {
    if (p.length === 0) throw new InvalidInputError("prompt", `prompt ${i} is empty`);
    if (p.length + opts.maxTokens > limit) {
      throw new LimitError(
        "prompt tokens + max_tokens",
        limit,
        p.length + opts.maxTokens,
        `prompt ${i} has ${p.length} tokens; the context length is ${limit}`,
      );
    }
  });
  const eos = new Set(rt.config.eosTokenIds);
  const random = prompts.map((_, i) => seededRandom((opts.seed ?? 0) + i));
  const seqs: Sequence[] = prompts.map(() => rt.newSequence());
  const tokens: number[][] = prompts.map(() => []);
  const finish: (FinishReason | null)[] = prompts.map(() => null);

  const t0 = performance.now();
  let logits = await rt.step(prompts.map((p, i) => ({ sequence: seqs[i], tokens: p })));
  const t1 = performance.now();
  let active = prompts.map((_, i) => i);
  let steps = 0;
  for (;;) {
    const next: number[] = [];
    active.forEach((i, j) => {
      const tok = sampleToken(logits[j], { temperature, topP }, random[i]);
      tokens[i].push(tok);
      opts.onToken?.(i, tok);
      if (eos.has(tok)) finish[i] = "eos";
      else if (tokens[i].length >= opts.maxTokens) finish[i] = "length";
      else next.push(i);
    });
    active = next;
    if (active.length === 0) break;
    logits = await rt.step(active.map((i) => ({ sequence: seqs[i], tokens: [tokens[i][tokens[i].length - 1]] })));
    steps++;
  }
  return {
    tokens,
    finish: finish as FinishReason[],
    promptTokens: prompts.reduce((a, p) => a + p.length, 0),
    prefillMs: t1 - t0,
    decodeMs: performance.now() - t1,
    decodeSteps: steps,
  };
}
